"""Adaptive debounce, as tables: the wait, and what the pace learns from keystrokes and model calls."""

from __future__ import annotations

import pytest

from infill_ls.completion.debounce import Pace, adaptive_wait


@pytest.mark.parametrize(
    ("base", "model", "typing", "wait"),
    [
        pytest.param(150, None, None, 150, id="nothing-known-yet"),
        pytest.param(150, 20, None, 150, id="typing-speed-unknown"),
        pytest.param(150, None, 300, 150, id="model-speed-unknown"),
        pytest.param(150, 200, 300, 0, id="model-answers-before-the-next-keystroke"),
        pytest.param(150, 400, 300, 150, id="user-types-faster-than-the-model"),
        pytest.param(150, 20, 100, 0, id="fast-model-fast-typing"),
        pytest.param(150, 5000, 100, 150, id="never-longer-than-base"),
        pytest.param(0, 900, 100, 0, id="zero-base-never-waits"),
    ],
)
def test_adaptive_wait(base: float, model: float | None, typing: float | None, wait: float) -> None:
    assert adaptive_wait(base, model, typing) == pytest.approx(wait)


@pytest.mark.parametrize(
    ("times", "typing"),
    [
        pytest.param([0, 100, 200], None, id="too-few-intervals"),
        pytest.param([0, 100, 200, 300, 400], 100, id="steady"),
        pytest.param([0, 100, 200, 5000, 5100, 5200], 100, id="pauses-are-not-typing"),
        pytest.param([0, 300, 600, 650, 950, 1250, 1550, 1850, 2150], 300, id="one-quick-keystroke-is-noise"),
        pytest.param([0, 50, 100, 400, 700, 1000, 1050, 1100, 1400], 50, id="bursts-count"),
    ],
)
def test_pace_typing_interval(times: list[float], typing: float | None) -> None:
    pace = Pace()
    for t in times:
        pace.keystroke(t)
    assert pace.typing_ms == (None if typing is None else pytest.approx(typing))


@pytest.mark.parametrize(
    ("calls", "model_ms"),
    [
        pytest.param([], None, id="unknown"),
        pytest.param([(1, 0.0, True)], None, id="one-token-says-nothing-about-speed"),
        pytest.param([(11, 100.0, True)], 10 * 12, id="finished-call-sets-speed-and-length"),
        pytest.param([(5, 40.0, False)], 10 * (1 + 16), id="cancelled-call-sets-speed-only"),
        pytest.param([(11, 1000.0, True), (6, 50.0, False), (6, 50.0, False)], (10 + 0.49 * 90) * 12,
                     id="cancelled-calls-correct-a-slow-estimate"),
    ],
)
def test_pace_model_call(calls: list[tuple[int, float, bool]], model_ms: float | None) -> None:
    pace = Pace()
    for tokens, decode_ms, finished in calls:
        pace.generation(tokens, decode_ms, finished)
    expected = None if model_ms is None else pytest.approx(model_ms)
    assert pace.model_ms(max_tokens=16) == expected
