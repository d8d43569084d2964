"""Warm files, the pure part (engine/states.py): which saved KV state serves a prompt, the budget, LRU eviction."""

from __future__ import annotations

import pytest

from infill_ls.engine.states import Saved, Switch, WarmStates, auto_budget, budget_bytes, choose

A = list(range(100, 140))
"""One file's prompt (40 tokens)."""
B = list(range(200, 240))
C = list(range(300, 340))


@pytest.mark.parametrize(
    ("prompt", "live", "saved", "restore", "save_live", "keep_saved"),
    [
        pytest.param([*A, 1], A, [B], None, False, False, id="live-serves-typing"),
        pytest.param([*A, 1], B, [A], 0, True, False, id="switch-back-restores-and-saves-live"),
        pytest.param([*A, 1], B, [C, A], 1, True, False, id="the-matching-one-among-several"),
        pytest.param([*A, 1], B, [A[:20], A[:30]], 1, True, False, id="the-longest-reuse-wins"),
        pytest.param(A[:12] + C, B, [A], 0, True, True, id="a-shared-start-borrowed-the-saved-one-kept"),
        pytest.param([*C, 1], B, [A], None, True, False, id="new-file-saves-live"),
        pytest.param([*C, 1], [], [A], None, False, False, id="new-file-empty-live"),
        pytest.param([*A[:6], 1], B, [A], None, True, False, id="short-prompt-under-min-gain-saves-live"),
        pytest.param([1], B, [], None, True, False, id="a-file-top-warm-up-saves-live"),
        pytest.param([*B, 1], B, [A], None, False, False, id="typing-under-min-gain-stays"),
        pytest.param([*A, 1], A[:35], [A], None, False, False, id="live-nearly-as-good-stays"),
        pytest.param([*A, 1], A[:20], [A], 0, True, False, id="saved-far-better-than-live"),
        pytest.param(A[:30] + C + [1], A, [], None, False, False, id="same-file-most-kept-no-save"),
        pytest.param(A[:10] + C + [1], A, [], None, True, False, id="most-of-live-lost-saved"),
        pytest.param(A[:10] + B + [1], C, [A[:10] + C, A[:10] + B], 1, True, False, id="shared-head-other-tail"),
        pytest.param([*A, 1], B, [A, A], 1, True, False, id="tie-the-most-recent"),
    ],
)
def test_choose(prompt: list[int], live: list[int], saved: list[list[int]], restore: int | None,
                save_live: bool, keep_saved: bool) -> None:
    assert choose(prompt, live, saved, min_chunk=4) == Switch(restore, save_live, keep_saved)


def test_choose_sees_shifted_runs_like_the_engine() -> None:
    # the file's cursor moved: its old prompt's runs are reused at new positions (reuse.py), not only its prefix
    moved = A[:4] + A[20:] + A[4:20] + [1]
    assert choose(moved, B, [A], min_chunk=4).restore == 0
    assert choose(moved, B, [A], min_chunk=0).restore is None  # common prefix only: 4 tokens, under MIN_GAIN


@pytest.mark.parametrize(
    ("memory_mb", "per_token", "context", "expected"),
    [
        pytest.param(-1, 23_040, 4096, 4 * 4096 * 23_040, id="auto-smollm2-four-contexts"),
        pytest.param(-1, 512 << 10, 4096, 2 << 30, id="auto-codellama7b-capped-2gib"),
        pytest.param(0, 23_040, 4096, 0, id="zero-keeps-none"),
        pytest.param(300, 23_040, 4096, 300 << 20, id="explicit-mib"),
    ],
)
def test_budget_bytes(memory_mb: int, per_token: int, context: int, expected: int) -> None:
    assert budget_bytes(memory_mb, per_token, context) == expected
    assert auto_budget(per_token, context) <= 2 << 30


def state(tokens: list[int], nbytes: int) -> Saved:
    return Saved(tuple(tokens), None, nbytes)


@pytest.mark.parametrize(
    ("budget", "kept", "left"),
    [
        pytest.param(1000, [("a", 400), ("b", 400)], ["a", "b"], id="within-budget"),
        pytest.param(1000, [("a", 400), ("b", 400), ("c", 400)], ["b", "c"], id="least-recent-goes-first"),
        pytest.param(1000, [("a", 900), ("b", 200)], ["b"], id="one-big-goes"),
        pytest.param(0, [("a", 1)], [], id="zero-budget-keeps-none"),
    ],
)
def test_lru_within_the_budget(budget: int, kept: list[tuple[str, int]], left: list[str]) -> None:
    names = {name: [ord(name)] * 3 for name, _ in kept}
    states = WarmStates(budget)
    for name, nbytes in kept:
        states.keep(state(names[name], nbytes))
    assert states.tokens() == [tuple(names[n]) for n in left]


def test_taking_a_state_and_shrinking_the_budget() -> None:
    states = WarmStates(1000)
    for tokens in (A, B, C):
        states.keep(state(tokens, 300))
    taken = states.take(tuple(A))
    assert taken is not None and taken.tokens == tuple(A)
    assert states.take(tuple(A)) is None  # gone: taken, or dropped by a smaller budget meanwhile
    assert states.get(tuple(B)) is not None and len(states.tokens()) == 2  # a copy is restored: it stays
    assert states.figures(live_tokens=40, bytes_per_token=10) == {
        "files": 3, "tokens": 120, "bytes": 1000, "budgetBytes": 1000}
    states.set_budget(400)  # a smaller budget drops the least recently used at once
    assert states.tokens() == [tuple(C)]
    assert not states.fits(401) and states.fits(400) and not states.fits(0)
    states.clear()
    assert states.figures(live_tokens=0, bytes_per_token=10) == {
        "files": 0, "tokens": 0, "bytes": 0, "budgetBytes": 400}
