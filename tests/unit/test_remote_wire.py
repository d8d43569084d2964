"""The remote engine's pure pieces: HTTP errors as one line, what a streamed event says, the server's figures.
(The engine itself is tested against a real llama-server in tests/remote.)"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from infill_ls.engine.base import GenerationStats, InfillError
from infill_ls.engine.remote import Remote, Unavailable, _read_usage, status_error
from infill_ls.engine.transport import connect_reason

WHERE = "the inference server at gpu:8080"


@pytest.mark.parametrize(
    ("code", "body", "kind", "message"),
    [
        pytest.param(401, {"error": {"message": "Invalid API Key"}}, Unavailable,
                     f"{WHERE} refused the request (HTTP 401): set INFILL_API_KEY in the language server's "
                     "environment to the server's API key", id="401"),
        pytest.param(403, "", Unavailable, None, id="403"),
        pytest.param(503, {"error": {"message": "Loading model", "code": 503}}, Unavailable,
                     f"{WHERE} answered HTTP 503: Loading model", id="503-loading"),
        pytest.param(500, "<html>\n  boom\n</html>", Unavailable, f"{WHERE} answered HTTP 500", id="500-html"),
        pytest.param(404, {"detail": "Not Found"}, InfillError, f"{WHERE} answered HTTP 404: Not Found",
                     id="404-no-such-endpoint"),
        pytest.param(429, {"error": {"message": "busy"}}, Unavailable, None, id="429-too-many"),
        pytest.param(400, {"error": {"message": "the request exceeds the available context size"}}, InfillError,
                     f"{WHERE} answered HTTP 400: the request exceeds the available context size", id="400-request"),
    ],
)
def test_status_error(code: int, body: Any, kind: type[InfillError], message: str | None) -> None:
    response = (httpx.Response(code, json=body) if isinstance(body, dict)
                else httpx.Response(code, text=body))
    error = status_error(WHERE, response)
    assert type(error) is kind
    assert "\n" not in str(error)
    if message is not None:
        assert str(error) == message


def chained(*errors: BaseException) -> BaseException:
    for outer, inner in itertools.pairwise(errors):
        outer.__cause__ = inner
    return errors[0]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(chained(httpx.ConnectError("All connection attempts failed"), ConnectionRefusedError(111, "x")),
                     "connection refused", id="refused"),
        pytest.param(chained(httpx.ConnectError("x"), OSError(-2, "Name or service not known")),
                     "Name or service not known", id="dns"),
        pytest.param(httpx.ConnectError("TLS handshake failed"), "TLS handshake failed", id="no-os-error"),
    ],
)
def test_connect_reason(error: BaseException, reason: str) -> None:
    assert connect_reason(error) == reason


@pytest.mark.parametrize(
    ("event", "evaluated", "reused", "generated"),
    [
        pytest.param({"timings": {"cache_n": 1600, "prompt_n": 2, "prompt_ms": 3.5}}, 2, 1600, 0, id="llama-server"),
        pytest.param({"usage": {"prompt_tokens": 1602, "completion_tokens": 9,
                                "prompt_tokens_details": {"cached_tokens": 1600}}}, 2, 1600, 9, id="openai-cached"),
        pytest.param({"usage": {"prompt_tokens": 1602, "completion_tokens": 9}}, 1602, 0, 9, id="openai-no-details"),
        pytest.param({"content": " x"}, 0, 0, 0, id="a-piece-says-nothing"),
    ],
)
def test_read_usage(event: dict[str, Any], evaluated: int, reused: int, generated: int) -> None:
    stats = GenerationStats()
    _read_usage(event, stats)
    assert (stats.evaluated_tokens, stats.reused_tokens, stats.generated_tokens) == (evaluated, reused, generated)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        pytest.param("http://gpu:8080", "gpu:8080", id="plain"),
        pytest.param("https://user:secret@gpu.example/v1", "gpu.example", id="credentials-not-shown"),
    ],
)
def test_remote_host(url: str, host: str) -> None:
    remote = Remote(url, api_key="team-key")
    assert remote.host == host and "team-key" not in repr(remote) and "secret" not in remote.describe()
