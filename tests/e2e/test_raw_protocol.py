"""Bytes on the wire: malformed requests are reported, the server stays up, stdout carries only LSP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


class RawClient:
    """A deliberately dumb LSP client that can send anything."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "infill_ls"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.messages: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        headers = b""
        while not headers.endswith(b"\r\n\r\n"):
            byte = self.proc.stdout.read(1)
            assert byte, "server closed stdout"
            headers += byte
        assert headers.startswith(b"Content-Length: "), headers  # nothing but LSP frames on stdout
        length = int(headers.split(b"\r\n")[0].split(b": ")[1])
        message: dict[str, Any] = json.loads(self.proc.stdout.read(length))
        self.messages.append(message)
        return message

    def response(self, msg_id: int) -> dict[str, Any]:
        while True:
            message = self.read()
            if message.get("id") == msg_id and "method" not in message:
                return message
            if message.get("method") == "workspace/configuration":
                self.send({"id": message["id"], "result": [None]})

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_malformed_requests_are_reported_and_the_server_keeps_serving(answer_model: Path) -> None:
    client = RawClient()
    try:
        options = {"infill": {"model": {"path": str(answer_model), "contextSize": 1024},
                              "completion": {"debounceMs": 0, "alternatives": 1}}}
        client.send({"id": 1, "method": "initialize", "params": {"capabilities": {}, "initializationOptions": options}})
        assert "capabilities" in client.response(1)["result"]
        client.send({"method": "initialized", "params": {}})
        while not any(m.get("method") == "infill/status" and m["params"]["state"] == "ready" for m in client.messages):
            client.read()
        # Params that do not fit the LSP types get an InvalidParams response (tests/e2e/test_malformed.py has more).
        client.send({"id": 2, "method": "textDocument/inlineCompletion", "params": {"position": "here"}})
        client.send({"id": 3, "method": "textDocument/completion", "params": None})
        assert [client.response(i)["error"]["code"] for i in (2, 3)] == [-32602, -32602]
        client.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///a.py", "languageId": "python", "version": 1, "text": "x ="}}})
        client.send({"id": 4, "method": "textDocument/inlineCompletion", "params": {
            "textDocument": {"uri": "file:///a.py"}, "position": {"line": 0, "character": 3},
            "context": {"triggerKind": 1}}})
        assert [i["insertText"] for i in client.response(4)["result"]["items"]] == [" 42"]
    finally:
        client.close()
