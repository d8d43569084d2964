"""Adaptive debounce: wait less when the model is fast, more while the user types fast."""

from __future__ import annotations

from dataclasses import dataclass

ALPHA = 0.3
"""Weight of the newest sample in the moving averages."""
PAUSE_MS = 1000.0
"""A gap longer than this is a pause, not typing speed."""
TYPING_MARGIN = 1.5
"""While typing, wait this many typical keystroke intervals before running the model."""


def ema(previous: float | None, sample: float) -> float:
    return sample if previous is None else previous + ALPHA * (sample - previous)


def adaptive_wait(base_ms: float, model_ms: float | None, typing_ms: float | None) -> float:
    """Milliseconds to wait before an automatic request runs the model.

    - A fast model makes waiting pointless: wait at most one model call (`min(base, model)`).
    - A user typing faster than `2 × base` will probably type again before a generation pays off: wait
      `TYPING_MARGIN` keystroke intervals (at most `2 × base`), so the next keystroke drops this request before
      it costs any compute.
    """
    if base_ms <= 0:
        return 0.0
    wait = base_ms if model_ms is None else min(base_ms, model_ms)
    if typing_ms is not None and typing_ms < 2 * base_ms:
        wait = max(wait, min(TYPING_MARGIN * typing_ms, 2 * base_ms))
    return wait


@dataclass
class Pace:
    """Moving averages of the model's call time and of one document's keystroke interval."""

    model_ms: float | None = None
    typing_ms: float | None = None
    last_keystroke: float | None = None

    def keystroke(self, now_ms: float) -> None:
        if self.last_keystroke is not None and now_ms - self.last_keystroke < PAUSE_MS:
            self.typing_ms = ema(self.typing_ms, now_ms - self.last_keystroke)
        self.last_keystroke = now_ms

    def model_call(self, ms: float) -> None:
        self.model_ms = ema(self.model_ms, ms)
