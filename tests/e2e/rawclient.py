"""A raw LSP client over stdio that can send any bytes, for the malformed-message tests."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

READ_TIMEOUT_S = 60
"""A bound on waiting for one message, so that a lost response fails the test instead of hanging it."""


class RawClient:
    """Starts `python -m infill_ls`; a thread reads every frame from its stdout into a queue."""

    def __init__(self, args: tuple[str, ...] = (), stderr: IO[bytes] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "infill_ls", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if stderr is None else stderr,
        )
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read_all, daemon=True)
        self.reader.start()
        self.options: dict[str, Any] = {}
        """The initializationOptions sent by `start`."""

    def send_body(self, body: bytes) -> None:
        """One correctly framed message with any body."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_body(json.dumps(message).encode())

    def request(self, msg_id: int, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def until_response(self, msg_id: int | str) -> list[dict[str, Any]]:
        """Every message the server sends up to and including the response to `msg_id`."""
        seen = []
        while True:
            message = self.inbox.get(timeout=READ_TIMEOUT_S)
            assert message is not None, "the server closed stdout"
            seen.append(message)
            if message.get("id") == msg_id and "method" not in message:
                return seen

    def start(self, model: Path) -> None:
        """initialize with `model`, initialized, and wait until the model is ready."""
        self.options = {"infill": {"model": {"path": str(model), "contextSize": 1024},
                                   "completion": {"debounceMs": 0, "alternatives": 1}}}
        self.request(0, "initialize", {"capabilities": {}, "initializationOptions": self.options})
        assert "capabilities" in self.until_response(0)[-1]["result"]
        self.notify("initialized", {})
        while True:
            message = self.inbox.get(timeout=READ_TIMEOUT_S)
            assert message is not None, "the server closed stdout"
            if message.get("method") == "infill/status":
                assert message["params"]["state"] != "error", message
                if message["params"]["state"] == "ready":
                    return

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=READ_TIMEOUT_S)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def _read_all(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            while True:
                headers = b""
                while not headers.endswith(b"\r\n\r\n"):
                    byte = stdout.read(1)
                    if not byte:
                        return
                    headers += byte
                # Nothing but LSP frames on stdout: a stray line would break this parse.
                assert headers.startswith(b"Content-Length: "), headers
                length = int(headers.split(b"\r\n")[0].split(b": ")[1])
                self.inbox.put(json.loads(stdout.read(length)))
        finally:
            self.inbox.put(None)
