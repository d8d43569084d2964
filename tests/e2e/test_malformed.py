"""Malformed messages over raw stdio: every request gets exactly one response, and the server keeps serving.

One server (with the scripted `answer_model`) takes every row; each row sends its message, then a valid
inline request, and looks at everything the server sent up to that request's answer.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .rawclient import RawClient

URI = "file:///malformed.py"
DOC = {"uri": URI}
POS = {"line": 0, "character": 3}
INLINE = "textDocument/inlineCompletion"
COMPLETION = "textDocument/completion"
PARSE, INVALID_REQUEST, NO_METHOD, INVALID_PARAMS = -32700, -32600, -32601, -32602
FOLLOW_UP_IDS = itertools.count(1000)


def inline(position: Any = POS, trigger: Any = 1) -> dict[str, Any]:
    return {"textDocument": DOC, "position": position, "context": {"triggerKind": trigger}}


def request(msg_id: Any, method: Any, params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()


# (id the answer must carry, body, expected error code)
REQUESTS = [
    pytest.param(101, request(101, INLINE, inline({"line": "x", "character": 3})), INVALID_PARAMS, id="line-string"),
    pytest.param(102, request(102, INLINE, inline({"line": -1, "character": 3})), INVALID_PARAMS, id="line-negative"),
    pytest.param(103, request(103, INLINE, inline(trigger=7)), INVALID_PARAMS, id="trigger-kind-7"),
    pytest.param(104, request(104, INLINE, inline(trigger=0)), INVALID_PARAMS, id="trigger-kind-0-vscode-lc9"),
    pytest.param(105, request(105, INLINE, {"textDocument": DOC}), INVALID_PARAMS, id="position-missing"),
    pytest.param(106, request(106, INLINE, None), INVALID_PARAMS, id="params-null"),
    pytest.param(107, request(107, COMPLETION, "here"), INVALID_PARAMS, id="completion-params-string"),
    pytest.param(108, request(108, COMPLETION, {"textDocument": DOC, "position": {"line": 0, "character": 2**40}}),
                 INVALID_PARAMS, id="character-huge"),
    pytest.param("s-109", request("s-109", INLINE, inline({"line": 0, "character": "x"})), INVALID_PARAMS,
                 id="string-id-character-string"),
    pytest.param(110, request(110, "textDocument/hover", {"textDocument": DOC, "position": POS}), NO_METHOD,
                 id="hover-not-served"),
    pytest.param(111, request(111, "infill/nope", {}), NO_METHOD, id="unknown-method"),
    pytest.param(112, request(112, "textDocument/didClose", {"textDocument": {"uri": "file:///b.py"}}), NO_METHOD,
                 id="notification-method-as-request"),
    pytest.param(113, request(113, 42, {}), INVALID_REQUEST, id="method-number"),
    pytest.param(114, json.dumps({"jsonrpc": "1.0", "id": 114, "method": INLINE, "params": inline()}).encode(),
                 INVALID_REQUEST, id="jsonrpc-1.0"),
    pytest.param(115, json.dumps({"jsonrpc": "2.0", "id": 115, "params": inline()}).encode(), INVALID_REQUEST,
                 id="method-missing"),
    pytest.param(None, request(True, INLINE, inline()), INVALID_REQUEST, id="id-true"),
    pytest.param(None, request({"n": 1}, INLINE, inline()), INVALID_REQUEST, id="id-object"),
    pytest.param(None, b"[]", INVALID_REQUEST, id="json-array"),
    pytest.param(None, b"7", INVALID_REQUEST, id="json-number"),
    pytest.param(None, b'{"jsonrpc": "2.0", "id": 120, "method": ', PARSE, id="json-cut-short"),
    pytest.param(None, b'{"jsonrpc": "2.0", "id": 121, "method": "\xff\xfe"}', PARSE, id="bad-utf8"),
    pytest.param(None, b"[" * 100_000, PARSE, id="json-nested-too-deep"),
]

# Messages that must get no answer at all: notifications with bad params, responses to nothing.
DROPPED = [
    pytest.param({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": "x"}},
                 id="didChange-bad-params"),
    pytest.param({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": None}, id="didOpen-params-null"),
    pytest.param({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": [1]}}, id="cancel-id-list"),
    pytest.param({"jsonrpc": "2.0", "method": "infill/unknown", "params": 5}, id="unknown-notification"),
    pytest.param({"jsonrpc": "2.0", "id": 1, "result": None}, id="response-to-nothing"),
]


@pytest.fixture(scope="module")
def server(answer_model: Path) -> Iterator[RawClient]:
    client = RawClient()
    try:
        client.start(answer_model)
        client.notify("textDocument/didOpen", {"textDocument": {**DOC, "languageId": "python", "version": 1,
                                                                "text": "x ="}})
        yield client
    finally:
        client.close()


def answered_afterwards(client: RawClient) -> list[dict[str, Any]]:
    """Send a valid inline request; every message up to its answer, which must be the scripted ` 42`."""
    msg_id = next(FOLLOW_UP_IDS)
    client.request(msg_id, INLINE, inline())
    seen = client.until_response(msg_id)
    assert [i["insertText"] for i in seen[-1]["result"]["items"]] == [" 42"], seen[-1]
    return seen[:-1]


@pytest.mark.parametrize(("msg_id", "body", "code"), REQUESTS)
def test_malformed_request_gets_one_error_response(
    server: RawClient, msg_id: int | str | None, body: bytes, code: int
) -> None:
    server.send_body(body)
    seen = answered_afterwards(server)
    responses = [m for m in seen if "method" not in m]
    assert len(responses) == 1, responses
    assert responses[0]["id"] == msg_id
    assert responses[0]["error"]["code"] == code, responses[0]
    assert "id" in responses[0]  # JSON-RPC: `"id": null` when the id could not be read


@pytest.mark.parametrize("message", DROPPED)
def test_bad_notification_is_dropped_without_an_answer(server: RawClient, message: dict[str, Any]) -> None:
    server.send(message)
    seen = answered_afterwards(server)
    assert [m for m in seen if "method" not in m] == []
    assert [m for m in seen if m.get("method") == "window/showMessage"] == []


def test_request_after_shutdown_is_refused() -> None:
    client = RawClient()
    try:
        client.request(1, "initialize", {"capabilities": {}})
        client.until_response(1)
        client.request(2, "shutdown", None)
        assert client.until_response(2)[-1]["result"] is None
        client.request(3, INLINE, inline())
        answer = client.until_response(3)[-1]
        assert answer["error"]["code"] == INVALID_REQUEST, answer
    finally:
        client.close()


def test_exit_sent_as_a_request_is_refused_and_the_server_stays() -> None:
    client = RawClient()
    try:
        client.request(1, "initialize", {"capabilities": {}})
        client.until_response(1)
        client.request(2, "exit", None)
        assert client.until_response(2)[-1]["error"]["code"] == NO_METHOD
        client.request(3, "infill/diagnostics", None)
        assert client.until_response(3)[-1]["result"]["threads"] >= 1
        assert client.proc.poll() is None
    finally:
        client.close()


# Malformed answers to the server's own workspace/configuration request (sent while it initializes).
BAD_CONFIGURATION_ANSWERS = [
    pytest.param({"error": "boom"}, id="error-a-string"),
    pytest.param({"error": {"message": "no code"}}, id="error-without-code"),
    pytest.param({"error": {"code": "x", "message": "m"}}, id="error-code-a-string"),
]


@pytest.mark.parametrize("answer", BAD_CONFIGURATION_ANSWERS)
def test_malformed_answer_to_a_server_request_does_not_hang_it(answer_model: Path, answer: dict[str, Any]) -> None:
    """The server's request fails (it falls back to initializationOptions) instead of waiting forever."""
    client = RawClient()
    try:
        options = {"infill": {"model": {"path": str(answer_model), "contextSize": 1024},
                              "completion": {"debounceMs": 0, "alternatives": 1}}}
        client.request(1, "initialize", {"capabilities": {"workspace": {"configuration": True}},
                                         "initializationOptions": options})
        client.until_response(1)
        client.notify("initialized", {})
        while True:
            message = client.inbox.get(timeout=60)
            assert message is not None, "the server closed stdout"
            if message.get("method") == "workspace/configuration":
                client.send({"jsonrpc": "2.0", "id": message["id"], **answer})
            if message.get("method") == "infill/status" and message["params"]["state"] in ("ready", "error"):
                assert message["params"]["state"] == "ready", message
                break
        client.notify("textDocument/didOpen", {"textDocument": {**DOC, "languageId": "python", "version": 1,
                                                                "text": "x ="}})
        answered_afterwards(client)
    finally:
        client.close()


SECRET = "sk-live-0123456789abcdef"
# Malformed notifications that carry a document's text: the log says what was wrong, never the text itself.
CARRYING_TEXT = [
    pytest.param({"jsonrpc": "1.0", "method": "textDocument/didOpen",
                  "params": {"textDocument": {**DOC, "languageId": "python", "version": 2, "text": SECRET}}},
                 id="didOpen-jsonrpc-1.0"),
    pytest.param({"jsonrpc": "2.0", "method": 5, "params": {"text": SECRET}}, id="method-not-a-string"),
    pytest.param({"jsonrpc": "2.0", "method": "textDocument/didChange",
                  "params": {"textDocument": {"uri": DOC["uri"], "version": "x"},
                             "contentChanges": [{"text": SECRET}]}},
                 id="didChange-bad-version"),
]


@pytest.mark.parametrize("message", CARRYING_TEXT)
def test_a_dropped_notification_is_logged_without_its_text(server: RawClient, message: dict[str, Any]) -> None:
    server.send(message)
    seen = answered_afterwards(server)
    logged = [m["params"]["message"] for m in seen if m.get("method") == "window/logMessage"]
    assert any("dropped" in line for line in logged), logged  # it was logged, and:
    assert not [line for line in logged if SECRET in line], logged
