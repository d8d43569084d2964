"""Adaptive debounce, as a table."""

from __future__ import annotations

import pytest

from infill_ls.completion.debounce import Pace, adaptive_wait


@pytest.mark.parametrize(
    ("base", "model", "typing", "wait"),
    [
        pytest.param(150, None, None, 150, id="nothing-known-yet"),
        pytest.param(150, 20, None, 20, id="fast-model-waits-less"),
        pytest.param(150, 900, None, 150, id="slow-model-waits-base"),
        pytest.param(150, 20, 100, 150, id="fast-typing-waits-longer"),
        pytest.param(150, 20, 250, 300, id="capped-at-twice-base"),
        pytest.param(150, 20, 400, 20, id="slow-typing-is-not-typing-fast"),
        pytest.param(0, 20, 100, 0, id="zero-base-never-waits"),
    ],
)
def test_adaptive_wait(base: float, model: float | None, typing: float | None, wait: float) -> None:
    assert adaptive_wait(base, model, typing) == pytest.approx(wait)


def test_pace_ignores_pauses_and_averages_intervals() -> None:
    pace = Pace()
    for t in (0, 100, 200, 5000, 5100):
        pace.keystroke(t)
    assert pace.typing_ms == pytest.approx(100)
    pace.model_call(50)
    pace.model_call(150)
    assert pace.model_ms == pytest.approx(80)
