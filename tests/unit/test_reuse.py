"""The KV reuse planner, as a table: common prefix, shifted chunks, gaps to evaluate."""

from __future__ import annotations

import pytest

from infill_ls.engine.reuse import Chunk, plan_reuse

H, S1, S2, M, P = [1, 2], [10, 11, 12, 13], [20, 21, 22, 23], [3], [30, 31, 32, 33, 34]


@pytest.mark.parametrize(
    ("cache", "prompt", "prefix", "chunks", "gaps"),
    [
        pytest.param(H + S1 + M + P, H + S1 + M + P + [35], 12, [], [(12, 13)], id="typing-appends"),
        pytest.param(H + S1 + M + P, H + S1 + M + P, 11, [], [(11, 12)], id="same-prompt-replays-last"),
        pytest.param(H + S1 + S2 + M + P, H + S2 + M + P + S1, 2, [Chunk(6, 2, 10)], [(12, 16)],
                     id="cursor-down-a-line"),
        pytest.param(H + S2 + M + P, H + S1 + S2 + M + P, 2, [], [(2, 16)],
                     id="cursor-up-a-line-no-gaps-allowed"),
        pytest.param(H + S1 + S2 + M + P, H + S2 + [50] + M + P + S1, 2, [Chunk(6, 2, 4)], [(6, 17)],
                     id="runs-stop-at-the-first-new-token"),
        pytest.param(H + S1, [*H, 40, 41, 42, 43, 44], 2, [], [(2, 7)], id="nothing-shared"),
    ],
)
def test_plan_reuse(cache: list[int], prompt: list[int], prefix: int, chunks: list[Chunk],
                    gaps: list[tuple[int, int]]) -> None:
    plan = plan_reuse(cache, prompt, min_chunk=3)
    assert (plan.prefix, list(plan.chunks), plan.gaps(len(prompt))) == (prefix, chunks, gaps)
    assert plan.reused + sum(b - a for a, b in gaps) == len(prompt)


def test_no_chunks_when_disabled() -> None:
    plan = plan_reuse(H + S1 + S2, H + S2 + S1, min_chunk=0)
    assert (plan.prefix, plan.chunks) == (2, ())
