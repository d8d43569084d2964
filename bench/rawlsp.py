"""A raw LSP client for the reliability benches: any bytes out, every frame in, over the server's stdio.

Used by bench/fuzz.py and bench/soak.py (not by the tests). Responses are kept per id (a list, so a second
answer to the same id shows), requests from the server (`workspace/configuration`, progress) are answered
with null, and notifications are counted per method, the last `infill/status` kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NULL_ID = "null-id"
"""The key under which responses with `"id": null` are kept."""


class RawServer:
    """`python -m infill_ls serve ARGS` as a subprocess, spoken to frame by frame."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.responses: dict[Any, list[dict[str, Any]]] = {}
        self.notifications: Counter[str] = Counter()
        self.status: dict[str, Any] = {}
        self.changed = asyncio.Event()
        """Set whenever a frame arrives (waiters clear it and re-check)."""
        self.closed = False
        self.framing_errors = 0
        self._reader = asyncio.get_running_loop().create_task(self._read_all())

    @classmethod
    async def start(cls, *args: str, stderr: Path | None = None) -> RawServer:
        err = stderr.open("wb") if stderr is not None else asyncio.subprocess.DEVNULL
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "infill_ls", "serve", *args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=err, limit=1 << 26,
        )
        if stderr is not None:
            err.close()  # type: ignore[union-attr]
        return cls(proc)

    async def send_body(self, body: bytes) -> None:
        """One correctly framed message, whatever its body."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await self.proc.stdin.drain()

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_body(json.dumps({"jsonrpc": "2.0", **message}).encode())

    async def wait_for(self, check: Any, timeout: float) -> bool:
        """Wait until `check()` holds (re-checked at every frame); False when `timeout` passes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            if self.closed:
                return bool(check())
            self.changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
        return True

    async def call(self, msg_id: Any, method: str, params: Any, timeout: float) -> dict[str, Any] | None:
        """Send a request and wait for its (first) response."""
        await self.send({"id": msg_id, "method": method, "params": params})
        if not await self.wait_for(lambda: msg_id in self.responses, timeout):
            return None
        return self.responses[msg_id][0]

    async def initialize(self, options: dict[str, Any], timeout: float) -> None:
        """initialize + initialized, then wait until the model is ready."""
        answer = await self.call("init", "initialize", {"capabilities": {}, "initializationOptions": options}, timeout)
        assert answer is not None and "result" in answer, answer
        await self.send({"method": "initialized", "params": {}})
        ready = await self.wait_for(lambda: self.status.get("state") in ("ready", "error"), timeout)
        assert ready and self.status["state"] == "ready", self.status

    async def stop(self, timeout: float) -> int | None:
        """shutdown + exit; the exit code, or None if the server did not exit in time (it is then killed)."""
        if self.proc.returncode is None and not self.closed:
            await self.call("shutdown", "shutdown", None, timeout)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await self.send({"method": "exit"})
        try:
            code: int | None = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            code = None
        await self._reader
        return code

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.closed

    async def _read_all(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            while True:
                headers = await stdout.readuntil(b"\r\n\r\n")
                if not headers.startswith(b"Content-Length: "):
                    self.framing_errors += 1  # something other than LSP on stdout
                    continue
                length = int(headers.split(b"\r\n")[0].split(b": ")[1])
                self._take(json.loads(await stdout.readexactly(length)))
                self.changed.set()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            self.closed = True
            self.changed.set()

    def _take(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:
            msg_id = message.get("id")
            if msg_id is None:
                key: Any = NULL_ID
            elif isinstance(msg_id, str) or (isinstance(msg_id, int) and not isinstance(msg_id, bool)):
                key = msg_id
            else:  # an id no request of ours had (`true`, a list): kept apart, so it matches nothing
                key = f"invalid id {json.dumps(msg_id)}"
            self.responses.setdefault(key, []).append(message)
        elif "id" in message:  # a request from the server: answer it so that nothing waits on us
            self.notifications[method] += 1
            reply = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": None}).encode()
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(reply) + reply)
        else:
            self.notifications[method] += 1
            if method == "infill/status":
                self.status = message["params"]


def tiny_model(path: Path) -> Path:
    """The test suite's tiny random-weight CodeLlama-style GGUF (tests/fixtures/tinymodel.py)."""
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    from tinymodel import write_tiny_model

    result: Path = write_tiny_model(path)
    return result
