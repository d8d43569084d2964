"""Warm files: the KV state of recently used prompts, kept in host memory so that a file the user comes back to
resumes where it was instead of evaluating its whole prompt again.

The in-process engine evaluates in one llama.cpp sequence (the live one). When a prompt reuses far more of a
saved state than of the live one (`choose`: the same reuse plan the engine makes, reuse.py), the engine saves the
live sequence here (`llama_state_seq_get_data`, only its exact part) and restores the chosen one in its place
(`llama_state_seq_set_data`): a copy of the KV bytes, about as fast as memory, instead of evaluating them again
(docs/performance.md "Warm files" measured both ways llama.cpp offers and why this one). States are keyed by
their tokens, not by document: whatever prompt comes (a request, a prefill, a speculation, a warm-up) finds the
state that serves it best. `WarmStates` keeps them least recently used first within a byte budget
(`infill.completion.warmMemoryMb`). The live state is the engine's; this module never touches llama.cpp.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from .reuse import plan_reuse

MIN_GAIN = 8
"""A saved state is restored only when it leaves at least this many fewer prompt tokens to evaluate than the live
one (a restore copies the whole state; a few tokens are cheaper to evaluate)."""
AUTO_CONTEXTS = 4
"""The automatic budget (`warmMemoryMb` -1) holds this many full contexts of KV state ..."""
AUTO_CAP = 2 << 30
"""... but never more than this many bytes (2 GiB)."""


class WarmFigures(TypedDict):
    """`infill/status` `warm` (docs/protocol.md)."""

    files: int
    """KV states kept, the live one included."""
    tokens: int
    """Their tokens in all."""
    bytes: int
    """Memory they hold: the saved copies in host memory plus the live state's cells in the context."""
    budgetBytes: int
    """The budget in force for the saved copies."""


NO_FIGURES = WarmFigures(files=0, tokens=0, bytes=0, budgetBytes=0)


@dataclass(frozen=True)
class Saved:
    """One sequence's KV state, copied out of the context."""

    tokens: tuple[int, ...]
    """The tokens whose KV state it holds (positions 0..len-1), all of it exact."""
    data: Any
    """The bytes llama_state_seq_get_data wrote (a ctypes array)."""
    nbytes: int


@dataclass(frozen=True)
class Switch:
    """What the engine does with its states before evaluating a prompt."""

    restore: int | None
    """The saved state to make live (its index in `WarmStates.tokens()`), or None to go on with the live one."""
    save_live: bool
    """Copy the live state out first: the prompt is another file's, and would keep less than half of it."""
    keep_saved: bool = False
    """Restore a copy and keep the saved state too: the prompt keeps less than half of it (another file that only
    shares its start, the context block's header say), so it stays for its own file."""


STAY = Switch(None, False)


def choose(prompt: Sequence[int], live: Sequence[int], saved: Sequence[Sequence[int]], min_chunk: int,
           min_gain: int = MIN_GAIN) -> Switch:
    """Restore the saved state that leaves the fewest tokens of `prompt` to evaluate (the engine's own reuse plan,
    reuse.py) when it leaves at least `min_gain` fewer than the live one (ties: the most recent, the last in
    `saved`); save the live one when it is left for another state or when the prompt keeps less than half of it; keep
    the saved one restored (restore a copy) when the prompt keeps less than half of it.
    No saved state is looked at while the live state leaves fewer than `min_gain` tokens; the live one is still
    saved then when the prompt keeps less than half of it (a warm-up or a request at the top of another file)."""
    kept = plan_reuse(live, prompt, min_chunk).reused
    best = len(prompt) - kept
    if best < min_gain:  # the live state serves well enough, but a short prompt may still drop most of it
        return Switch(None, 2 * kept < len(live))
    pick: tuple[int, int] | None = None
    for index in range(len(saved) - 1, -1, -1):
        cost = len(prompt) - plan_reuse(saved[index], prompt, min_chunk).reused
        if cost + min_gain <= best and (pick is None or cost < pick[1]):
            pick = (index, cost)
    if pick is None:
        return Switch(None, 2 * kept < len(live))
    index, cost = pick
    return Switch(index, True, 2 * (len(prompt) - cost) < len(saved[index]))


def auto_budget(bytes_per_token: int, context_size: int) -> int:
    """The budget of `warmMemoryMb` -1: AUTO_CONTEXTS full contexts of KV state, at most AUTO_CAP bytes."""
    return min(AUTO_CONTEXTS * context_size * bytes_per_token, AUTO_CAP)


def budget_bytes(memory_mb: int, bytes_per_token: int, context_size: int) -> int:
    """`infill.completion.warmMemoryMb` in bytes: -1 automatic, 0 none (only the live state)."""
    return auto_budget(bytes_per_token, context_size) if memory_mb < 0 else memory_mb << 20


class WarmStates:
    """The saved states, least recently used first, within `budget` bytes. The engine's thread saves and takes
    them; the status reads the figures and the settings change the budget from the event loop (hence the lock)."""

    def __init__(self, budget: int = 0) -> None:
        self.budget = budget
        self._states: list[Saved] = []
        """Least recently used first."""
        self._lock = threading.Lock()

    def tokens(self) -> list[tuple[int, ...]]:
        """Every saved state's tokens, least recently used first (the order `choose` takes)."""
        with self._lock:
            return [s.tokens for s in self._states]

    def get(self, tokens: tuple[int, ...]) -> Saved | None:
        """The most recent state that holds `tokens`, left in place (a copy of it is restored), or None."""
        with self._lock:
            return next((s for s in reversed(self._states) if s.tokens is tokens or s.tokens == tokens), None)

    def take(self, tokens: tuple[int, ...]) -> Saved | None:
        """Remove and return the most recent state that holds `tokens` (one of `tokens()`): it becomes the live one.
        None when it is gone meanwhile (a smaller budget, set from another thread, dropped it)."""
        with self._lock:
            for index in range(len(self._states) - 1, -1, -1):
                if self._states[index].tokens is tokens or self._states[index].tokens == tokens:
                    return self._states.pop(index)
            return None

    def fits(self, nbytes: int) -> bool:
        """Whether a state of `nbytes` may be kept at all."""
        return 0 < nbytes <= self.budget

    def keep(self, state: Saved) -> None:
        """Keep `state` as the most recently used one; drop the least recently used ones beyond the budget."""
        with self._lock:
            self._states.append(state)
            self._evict()

    def set_budget(self, budget: int) -> None:
        with self._lock:
            self.budget = budget
            self._evict()

    def clear(self) -> None:
        """Drop every state (a reload: the memory is returned)."""
        with self._lock:
            self._states.clear()

    def _evict(self) -> None:
        total = sum(s.nbytes for s in self._states)
        while self._states and total > self.budget:
            total -= self._states.pop(0).nbytes

    def figures(self, live_tokens: int, bytes_per_token: int) -> WarmFigures:
        """The status figures, with the live state of `live_tokens` tokens counted too."""
        with self._lock:
            states = list(self._states)
        return WarmFigures(
            files=len(states) + (live_tokens > 0),
            tokens=sum(len(s.tokens) for s in states) + live_tokens,
            bytes=sum(s.nbytes for s in states) + live_tokens * bytes_per_token,
            budgetBytes=self.budget,
        )
