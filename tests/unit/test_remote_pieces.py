"""The remote engine's pure pieces added for issue 21: what names a served model, the bytes of a streamed piece,
how long a first piece may take, and a stale local tokenizer. (The engine itself is tested against a real
llama-server in tests/remote.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infill_ls.engine.remote import PROMPT_TOKENS_PER_WAIT, _local_if_same, _piece_bytes, first_piece_s, identity

PROPS = {"model_path": "/models/a.gguf", "model_alias": "a", "default_generation_settings": {"n_ctx": 4096}}


@pytest.mark.parametrize(
    ("props", "entry", "expected"),
    [
        pytest.param(PROPS, None, ("llama.cpp", "/models/a.gguf", "a", "4096"), id="llama-server"),
        pytest.param(PROPS, {"id": "ignored"}, ("llama.cpp", "/models/a.gguf", "a", "4096"),
                     id="llama-server-props-win"),
        pytest.param({"default_generation_settings": {}}, None, ("llama.cpp", "", "", ""), id="old-llama-server"),
        pytest.param(None, {"id": "codellama", "root": "meta/codellama", "max_model_len": 16384},
                     ("openai", "codellama", "meta/codellama", "16384"), id="vllm"),
        pytest.param(None, {"id": "m", "meta": {"n_ctx": 2048}}, ("openai", "m", "", "2048"), id="meta-context"),
        pytest.param(None, None, ("openai", "", "", ""), id="nothing"),
    ],
)
def test_identity(props: dict[str, Any] | None, entry: dict[str, Any] | None, expected: tuple[str, ...]) -> None:
    assert identity(props, entry) == expected


def test_another_model_file_or_context_is_another_identity() -> None:
    other_file = {**PROPS, "model_path": "/models/b.gguf"}
    other_context = {**PROPS, "default_generation_settings": {"n_ctx": 8192}}
    assert len({identity(PROPS, None), identity(other_file, None), identity(other_context, None)}) == 3


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"content": "\ufffd", "completion_probabilities": [{"id": 244, "bytes": [154]}]}, b"\x9a",
                     id="native-continuation-byte"),
        pytest.param({"content": '")', "completion_probabilities": [{"bytes": [34, 41]}]}, b'")', id="native-text"),
        pytest.param({"choices": [{"text": "\ufffd", "logprobs": {"content": [{"id": 218, "bytes": [128]}]}}]},
                     b"\x80", id="openai"),
        pytest.param({"content": "", "stop": True}, None, id="native-final-event"),
        pytest.param({"choices": [{"text": "x", "logprobs": None}]}, None, id="openai-without-logprobs"),
        pytest.param({"choices": []}, None, id="openai-usage-only"),
    ],
)
def test_piece_bytes(event: dict[str, Any], expected: bytes | None) -> None:
    assert _piece_bytes(event) == expected


@pytest.mark.parametrize(
    ("prompt_tokens", "expected"),
    [pytest.param(0, 30.0, id="empty"), pytest.param(1, 30.0, id="one"),
     pytest.param(PROMPT_TOKENS_PER_WAIT, 30.0, id="one-block"),
     pytest.param(PROMPT_TOKENS_PER_WAIT + 1, 60.0, id="a-started-block"),
     pytest.param(4000, 240.0, id="a-long-prompt")],
)
def test_the_first_piece_may_take_timeout_per_started_block_of_prompt(prompt_tokens: int, expected: float) -> None:
    assert first_piece_s(30.0, prompt_tokens) == expected


@pytest.mark.parametrize("stale", ["missing", "directory", "not-a-gguf"])
def test_a_local_tokenizer_that_cannot_be_read_is_set_aside(stale: str, tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    if stale == "directory":
        path.mkdir()
    elif stale == "not-a-gguf":
        path.write_text("not a model\n")
    server = object()
    vocab, warning = _local_if_same(path, server, "the model m at gpu:8080")  # type: ignore[arg-type]
    assert vocab is server
    assert warning.startswith("the local tokenizer (infill.model.path) is set aside: ") and str(path) in warning
