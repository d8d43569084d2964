"""Confidence (issue 25) alone: the mean log-probability of the tokens a suggestion keeps, and which suggestions
`minConfidence` hides (automatic requests only)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from infill_ls.completion.pipeline import confidence, hidden
from infill_ls.config import CompletionSettings
from infill_ls.engine.base import Generation, GenerationStats


def generation(pieces: list[tuple[str, float]]) -> Generation:
    stats = GenerationStats()
    text = ""
    for piece, logprob in pieces:
        text += piece
        stats.scored(logprob, len(text))
    return Generation(text, stats)


PIECES = [(" a", -0.1), (" +", -0.3), (" b", -0.2), ("\n", -1.0), ("def", -3.0)]


@pytest.mark.parametrize(
    ("pieces", "text", "expected"),
    [
        pytest.param(PIECES, " a + b\ndef", (-0.1 - 0.3 - 0.2 - 1.0 - 3.0) / 5, id="all-kept"),
        pytest.param(PIECES, " a + b", (-0.1 - 0.3 - 0.2) / 3, id="cut-at-the-line-end"),
        pytest.param(PIECES, " a +", (-0.1 - 0.3) / 2, id="cut-inside"),
        pytest.param(PIECES, " a", -0.1, id="first-token"),
        pytest.param(PIECES, " a +", (-0.1 - 0.3) / 2, id="prefix"),
        pytest.param(PIECES, "x = 1", (-0.1 - 0.3 - 0.2 - 1.0 - 3.0) / 5, id="rewritten-all-tokens"),
        pytest.param(PIECES, "", None, id="empty-suggestion"),
        pytest.param([], "abc", None, id="engine-gives-none"),
    ],
)
def test_confidence(pieces: list[tuple[str, float]], text: str, expected: float | None) -> None:
    got = confidence(generation(pieces), text)
    assert (got is None) == (expected is None)
    if expected is not None and got is not None:
        assert math.isclose(got, expected)


@pytest.mark.parametrize(
    ("floor", "value", "automatic", "hide"),
    [
        pytest.param(None, -9.0, True, False, id="off"),
        pytest.param(-1.0, -1.5, True, True, id="below-automatic-hidden"),
        pytest.param(-1.0, -1.5, False, False, id="below-invoked-never-hidden"),
        pytest.param(-1.0, -1.0, True, False, id="at-the-floor-shown"),
        pytest.param(-1.0, -0.2, True, False, id="above-shown"),
        pytest.param(-1.0, None, True, False, id="no-confidence-shown"),
    ],
)
def test_min_confidence(floor: float | None, value: float | None, automatic: bool, hide: bool) -> None:
    assert hidden(CompletionSettings(minConfidence=floor), value, automatic) is hide


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"content": " a", "completion_probabilities": [{"id": 253, "logprob": -0.12}]}, [-0.12],
                     id="llama-server-own-api"),
        pytest.param({"choices": [{"text": " a", "logprobs": {"content": [{"id": 253, "logprob": -0.12},
                                                                          {"id": 254, "logprob": -1.5}]}}]},
                     [-0.12, -1.5], id="llama-server-openai-style"),
        pytest.param({"choices": [{"text": " a b", "logprobs": {"tokens": [" a", " b"],
                                                                "token_logprobs": [-0.5, -0.25]}}]},
                     [-0.5, -0.25], id="vllm-openai-legacy"),
        pytest.param({"choices": [{"text": " a", "logprobs": None}]}, [], id="openai-without-logprobs"),
        pytest.param({"content": " a"}, [], id="llama-server-without-probs"),
        pytest.param({"completion_probabilities": [{"id": 1, "logprob": "x"}, {"id": 2, "logprob": float("-inf")},
                                                   {"id": 3, "logprob": True}, "junk"]}, [], id="bad-values-skipped"),
        pytest.param({"choices": "junk"}, [], id="bad-choices"),
    ],
)
def test_remote_logprobs(event: dict[str, Any], expected: list[float]) -> None:
    from infill_ls.engine.remote import _logprobs

    assert _logprobs(event) == expected
