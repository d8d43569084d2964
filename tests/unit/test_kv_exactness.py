"""Reused KV state answers as a fresh evaluation does, except for the request that shifted cached runs.

A shifted run keeps the KV state computed in its old context: an approximation. It may serve the request
that chose to shift, never a later one. On a model whose answers depend on the context, each step of a
scripted editing session (tests/fixtures/editing.py) is answered by one engine that reuses its cache and by
one that evaluates the same prompt tokens afresh.

Like with like: llama.cpp computes a token evaluated alone (a typed character) slightly differently from the
same token inside a larger batch (on this F32 model the logits differ by about 5e-4; batches of 7, 64 or 512
tokens give the same bits), and such a difference can flip a greedy choice. Both engines therefore evaluate
one token per batch (eval_chunk=1), as they decode generated tokens: a difference left is the cache's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infill_ls.config import ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams
from infill_ls.engine.llama import EngineOptions, LlamaEngine
from tests.fixtures.editing import STEPS, session

SETTINGS = ModelSettings(contextSize=2048, threads=1)
PARAMS = GenerationParams(max_tokens=8)


@pytest.fixture(scope="module")
def fresh(context_model: Path) -> LlamaEngine:
    return LlamaEngine.load(context_model, SETTINGS, EngineOptions(reuse_kv=False, eval_chunk=1))


@pytest.fixture(scope="module")
def fresh_answers(fresh: LlamaEngine) -> dict[tuple[int, ...], str]:
    """The fresh engine's answer to each prompt of the session."""
    return {prompt: fresh.generate(prompt, PARAMS, CancelToken()).text for _, prompt in session(fresh)}


def test_the_context_model_answers_from_the_context(fresh: LlamaEngine) -> None:
    last_line = fresh.tokenize("\n    return value + 3\n")
    answers = {fresh.generate(fresh.tokenize(head) + last_line, PARAMS, CancelToken()).text
               for head in ("def helper(value):", "class Point:\n    x = 1", "import os\nprint(len(data))")}
    assert len(answers) == 3


def common_prefix(cached: list[int], prompt: tuple[int, ...]) -> int:
    n = 0
    while n < min(len(cached), len(prompt) - 1) and cached[n] == prompt[n]:
        n += 1
    return n


@pytest.mark.parametrize("prefill", [False, True], ids=["request-alone", "prefill-then-request"])
def test_only_the_request_that_shifted_gets_approximate_kv(
    context_model: Path, fresh_answers: dict[tuple[int, ...], str], prefill: bool
) -> None:
    # With a prefill (the server evaluates the prompt while the debounce waits, with the request's cancel
    # token), the request may reuse what its own prefill shifted: it is the request that shifted.
    engine = LlamaEngine.load(context_model, SETTINGS, EngineOptions(eval_chunk=1))
    shifted, reported, differ = [], [], []
    for k, (step, prompt) in enumerate(session(engine)):
        cancel, moved = CancelToken(), False
        for params in [GenerationParams(max_tokens=0), PARAMS] if prefill else [PARAMS]:
            kept_in_place = common_prefix(engine.cached_tokens, prompt)
            got = engine.generate(prompt, params, cancel)
            moved = moved or got.stats.reused_tokens > kept_in_place
        name = f"{k}:{step}"
        shifted += [name] if moved else []
        reported += [name] if got.stats.shifted_tokens else []
        differ += [name] if got.text != fresh_answers[prompt] else []
    assert [s for s in differ if s not in shifted] == [], f"{len(STEPS)} steps, shifted {shifted}, differ {differ}"
    assert len(shifted) >= 3, shifted  # the session does shift runs
    assert reported == shifted  # GenerationStats.shifted_tokens says which answers are approximate
