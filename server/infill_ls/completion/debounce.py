"""Adaptive debounce: wait less when the model is fast, more while the user types fast.

`debounceMs` stays the ceiling, so the wait after the last keystroke of a burst (what the user feels) is never
longer than with the fixed debounce. Below it the wait depends on who is faster:

- the model usually answers before the user's next keystroke: run it at once (wait 0). The generation finishes
  before it could be cancelled, so nothing is wasted, and the ghost text shows while the user types;
- the user types faster than the model answers: wait the whole `debounceMs`, so that a keystroke coming
  within it drops the request before it costs any generation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

ALPHA = 0.3
"""Weight of the newest sample in the moving averages of the model's speed."""
PAUSE_MS = 1000.0
"""A gap longer than this is a pause, not typing speed."""
INTERVALS = 16
"""Keystroke intervals remembered per document."""
QUANTILE = 0.25
"""The "usual" next keystroke: this quantile of the recent intervals (typing is irregular; the mean would
start generations that a quick keystroke then cancels)."""


def ema(previous: float | None, sample: float) -> float:
    return sample if previous is None else previous + ALPHA * (sample - previous)


def adaptive_wait(base_ms: float, model_ms: float | None, typing_ms: float | None) -> float:
    """Milliseconds an automatic request waits before it runs the model.

    `model_ms` is the typical model call; `typing_ms` the usual gap to the user's next keystroke (None while
    either is unknown). The result is 0 when the model answers within that gap, else `base_ms`."""
    if base_ms <= 0:
        return 0.0
    if model_ms is not None and typing_ms is not None and model_ms < typing_ms:
        return 0.0
    return base_ms


@dataclass
class Pace:
    """How fast the model generates, and one document's recent keystroke intervals."""

    token_ms: float | None = None
    """Moving average of the time per generated token."""
    length: float | None = None
    """Moving average of the tokens in a finished completion."""
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=INTERVALS))
    last_keystroke: float | None = None

    def keystroke(self, now_ms: float) -> None:
        if self.last_keystroke is not None and now_ms - self.last_keystroke < PAUSE_MS:
            self.intervals.append(now_ms - self.last_keystroke)
        self.last_keystroke = now_ms

    def generation(self, tokens: int, decode_ms: float, finished: bool) -> None:
        """Learn from a model call: `tokens` generated in `decode_ms` after the first one.

        Cancelled calls count too (for the speed, not the length): if only finished calls counted, a model
        judged slow once (say on a file's cold first prompt) would keep the full wait, every call would be
        cancelled, and the estimate would never be corrected."""
        if tokens >= 2:
            self.token_ms = ema(self.token_ms, decode_ms / (tokens - 1))
        if finished:
            self.length = ema(self.length, tokens)

    def model_ms(self, max_tokens: int) -> float | None:
        """The expected model call at a keystroke: ~1 prompt token (a keystroke's worth) plus the completion."""
        if self.token_ms is None:
            return None
        return self.token_ms * (1 + (max_tokens if self.length is None else self.length))

    @property
    def typing_ms(self) -> float | None:
        """The usual gap to the next keystroke while typing; None until a few keystrokes were seen."""
        if len(self.intervals) < 4:
            return None
        ordered = sorted(self.intervals)
        return ordered[int(QUANTILE * (len(ordered) - 1))]
