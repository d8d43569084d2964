"""Confidence (issue 25) alone: the mean log-probability of the tokens a suggestion keeps, and which suggestions
`minConfidence` hides (automatic requests only)."""

from __future__ import annotations

import math

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
