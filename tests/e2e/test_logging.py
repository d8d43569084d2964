"""Where the server's log goes (issue 11, defect 6): each record once, at its own level.

Once the client has sent `initialized`, records go to it as window/logMessage and not also to stderr: clients
show a server's stderr in the same log (VS Code's output channel) or log all of it as errors (Neovim's lsp.log).
stderr keeps what the client cannot receive: lines before `initialized` and after `shutdown`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .rawclient import READ_TIMEOUT_S, RawClient

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): (.*)$")


def log_messages(seen: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(m["params"]["type"], m["params"]["message"]) for m in seen if m.get("method") == "window/logMessage"]


def run_session(model: Path, log_level: str, stderr_path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """initialize, initialized, one completion, shutdown, exit: every message the server sent, and its stderr."""
    with stderr_path.open("wb") as stderr:
        client = RawClient(("--log-level", log_level), stderr)
        seen: list[dict[str, Any]] = []
        try:
            client.request(0, "initialize", {"capabilities": {}, "initializationOptions": {
                "infill": {"model": {"path": str(model), "contextSize": 1024}, "completion": {"debounceMs": 0}}}})
            seen += client.until_response(0)
            client.notify("initialized", {})
            client.notify("textDocument/didOpen", {"textDocument": {
                "uri": "file:///w/a.py", "languageId": "python", "version": 1, "text": "def add(a, b):\n    return "}})
            while not any(m.get("method") == "infill/status" and m["params"]["state"] == "ready" for m in seen):
                message = client.inbox.get(timeout=READ_TIMEOUT_S)
                assert message is not None, "the server closed stdout"
                seen.append(message)
            client.request(1, "textDocument/inlineCompletion", {
                "textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 1, "character": 11},
                "context": {"triggerKind": 1}})
            seen += client.until_response(1)
            client.request(2, "shutdown", None)
            seen += client.until_response(2)
            client.notify("exit", None)
            assert client.proc.wait(timeout=READ_TIMEOUT_S) == 0
        finally:
            client.close()
    return seen, stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()


@pytest.mark.parametrize("log_level", ["info", "debug"])
def test_each_record_once_at_its_level(tiny_model: Path, tmp_path: Path, log_level: str) -> None:
    seen, stderr = run_session(tiny_model, log_level, tmp_path / "stderr.txt")
    messages = log_messages(seen)
    assert any("loaded tiny.gguf" in text for _, text in messages), messages
    records = [m for m in (RECORD.match(line) for line in stderr) if m is not None]
    sent = {text for _, text in messages}
    duplicated = [m.group(0) for m in records if any(m.group(3) in text for text in sent)]
    assert duplicated == [], "\n".join(stderr)
    # Records of infill_ls after `initialized` went to the client only.
    assert [m.group(0) for m in records if "loaded tiny.gguf" in m.group(3)] == []
    # A healthy session logs no error, llama.cpp's own lines included (they are detail: debug or info).
    assert [text for t, text in messages if t == 1] == []
    assert [m.group(0) for m in records if m.group(2).startswith("infill_ls") and m.group(1) not in ("DEBUG", "INFO")] \
        == []
    if log_level == "debug":
        assert any(t == 5 for t, _ in messages), "debug records reach the client at Debug level"
