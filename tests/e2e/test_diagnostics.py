"""`infill/diagnostics`: the counts the soak bench watches, asked for the ways a client may ask."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .rawclient import RawClient


@pytest.fixture(scope="module")
def server(answer_model: Path) -> Iterator[RawClient]:
    client = RawClient()
    try:
        client.start(answer_model)
        yield client
    finally:
        client.close()


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"jsonrpc": "2.0", "id": 1, "method": "infill/diagnostics", "params": None}, id="params-null"),
        pytest.param({"jsonrpc": "2.0", "id": 2, "method": "infill/diagnostics", "params": {}}, id="params-object"),
        pytest.param({"jsonrpc": "2.0", "id": 3, "method": "infill/diagnostics"}, id="params-omitted"),
        pytest.param({"jsonrpc": "2.0", "id": "four", "method": "infill/diagnostics", "params": [1]}, id="string-id"),
    ],
)
def test_diagnostics_reports_tasks_threads_and_memory(server: RawClient, message: dict[str, Any]) -> None:
    server.send_body(json.dumps(message).encode())
    answer = server.until_response(message["id"])[-1]
    result = answer["result"]
    assert set(result) >= {"tasks", "threads", "threadGroups", "rssBytes", "pythonObjects", "handlerFutures"}
    assert result["tasks"] >= 1  # at least pygls' reader loop
    assert result["threads"] >= 2  # the main thread and the model thread
    assert result["rssBytes"] > 2**20
    assert result["pythonObjects"] > 1000
    assert sum(result["threadGroups"].values()) == result["threads"]


URI = "file:///diagnostics.py"
REPEAT = 60


def change(i: int) -> dict[str, Any]:
    edit = {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "x"}
    return {"textDocument": {"uri": URI, "version": i + 2}, "contentChanges": [edit]}


def reopen(i: int) -> dict[str, Any]:
    return {"textDocument": {"uri": URI, "languageId": "python", "version": 1, "text": "x ="}}


def same_settings(client: RawClient) -> dict[str, Any]:
    return {"settings": client.options}


# (method, params for the i-th message): handlers pygls runs as generators (didChange, didOpen) and as
# asyncio tasks (didChangeConfiguration), and one with no handler at all.
NOTIFICATIONS = [
    pytest.param("textDocument/didChange", change, id="didChange-generator-handler"),
    pytest.param("textDocument/didOpen", reopen, id="didOpen-generator-handler"),
    pytest.param("workspace/didChangeConfiguration", None, id="didChangeConfiguration-async-handler"),
    pytest.param("infill/noSuchNotification", lambda i: {}, id="no-handler"),
]


@pytest.mark.parametrize(("method", "params"), NOTIFICATIONS)
def test_handled_notifications_leave_nothing_behind(
    server: RawClient, method: str, params: Callable[[int], Any] | None
) -> None:
    """pygls files every handler's future under its message id and removes only requests' ones."""
    server.notify("textDocument/didOpen", reopen(0))

    def handler_futures(msg_id: str) -> int:
        server.request(msg_id + "-flush", "infill/diagnostics", None)  # lets done callbacks run first
        server.until_response(msg_id + "-flush")
        server.request(msg_id, "infill/diagnostics", None)
        count: int = server.until_response(msg_id)[-1]["result"]["handlerFutures"]
        return count

    before = handler_futures(f"{method}-before")
    for i in range(REPEAT):
        server.notify(method, params(i) if params is not None else same_settings(server))
    after = handler_futures(f"{method}-after")
    assert after - before < REPEAT // 10, (before, after)
