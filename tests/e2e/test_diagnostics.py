"""`infill/diagnostics`: the counts the soak bench watches, asked for the ways a client may ask."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
    assert set(result) >= {"tasks", "threads", "rssBytes", "pythonObjects"}
    assert result["tasks"] >= 1  # at least pygls' reader loop
    assert result["threads"] >= 2  # the main thread and the model thread
    assert result["rssBytes"] > 2**20
    assert result["pythonObjects"] > 1000
