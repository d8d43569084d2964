"""Warm files on the context-dependent model: after any sequence of switches between files, every answer equals a
fresh evaluation's, and a file that comes back evaluates at most 8 prompt tokens plus what changed in it.

Each step asks in one of three files (the prompt the server builds, suffix-first) or types in it first. One engine
keeps warm states, one evaluates every prompt afresh; both evaluate one token per batch (test_kv_exactness.py
explains why: a difference left is the cache's)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infill_ls.completion import pipeline
from infill_ls.config import CompletionSettings, ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams
from infill_ls.engine.llama import EngineOptions, LlamaEngine
from infill_ls.models import Layout

SETTINGS = ModelSettings(contextSize=2048, threads=1)
COMPLETION = CompletionSettings(maxTokens=6, prefixTokens=400, suffixTokens=100)
PARAMS = GenerationParams(max_tokens=6)
FILES = {
    "a": ("import os\n\n\ndef total(items):\n    result = 0\n    for item in items:\n        result += ",
          "\n    return result\n\n\ndef main():\n    print(total([1, 2]))\n"),
    "b": ("class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n\n"
          "    def norm(self):\n        return ", "\n\n\norigin = Point(0, 0)\n"),
    "c": ("from pathlib import Path\n\n\ndef read(name):\n    with open(name) as f:\n        data = ",
          "\n    return data.splitlines()\n"),
}


class Session:
    """The three files as the user edits them."""

    def __init__(self) -> None:
        self.before = {name: before for name, (before, _) in FILES.items()}

    def type(self, name: str, text: str) -> None:
        self.before[name] += text

    def prompt(self, engine: LlamaEngine, name: str) -> tuple[int, ...]:
        before, after = self.before[name], FILES[name][1]
        plan = pipeline.plan(before + after, len(before), COMPLETION, automatic=False)
        return pipeline.make_prompt(engine, pipeline.Call(plan, COMPLETION, CancelToken(), Layout.SPM)).tokens


@pytest.fixture(scope="module")
def fresh(context_model: Path) -> LlamaEngine:
    return LlamaEngine.load(context_model, SETTINGS, EngineOptions(reuse_kv=False, eval_chunk=1))


def warm_engine(context_model: Path, memory_mb: int = -1) -> LlamaEngine:
    engine = LlamaEngine.load(context_model, SETTINGS, EngineOptions(eval_chunk=1))
    engine.keep_warm(memory_mb)
    return engine


def test_the_files_answer_differently(fresh: LlamaEngine) -> None:
    s = Session()
    assert len({fresh.generate(s.prompt(fresh, n), PARAMS, CancelToken()).text for n in FILES}) == 3


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param("a b a", id="a-b-a"),
        pytest.param("a b a+x", id="a-b-back-to-a-typing"),
        pytest.param("a b+= c a+) b c+s a", id="three-files-round-and-round"),
        pytest.param("a a+1 b b+2 a+3 c c+4 b a", id="typing-in-each"),
        pytest.param("a b c b a c", id="every-order"),
    ],
)
def test_switches_answer_as_a_fresh_evaluation(context_model: Path, fresh: LlamaEngine, steps: str) -> None:
    engine = warm_engine(context_model)
    s, seen, differ, costly = Session(), set(), [], []
    for k, step in enumerate(steps.split()):
        name, _, typed = step.partition("+")
        s.type(name, typed)
        prompt = s.prompt(engine, name)
        got = engine.generate(prompt, PARAMS, CancelToken())
        if got.text != fresh.generate(prompt, PARAMS, CancelToken()).text:
            differ.append(f"{k}:{step}")
        if name in seen and got.stats.evaluated_tokens > 8 + len(engine.tokenize(typed)):
            costly.append(f"{k}:{step}:{got.stats.evaluated_tokens}")
        seen.add(name)
    assert differ == []
    assert costly == []  # a file that comes back evaluates at most 8 tokens plus what was typed
    assert engine.switches > 0


@pytest.mark.parametrize(
    ("memory_mb", "kept"),
    [
        pytest.param(0, 0, id="zero-keeps-only-the-current-file"),
        pytest.param(-1, 2, id="automatic-keeps-both"),
    ],
)
def test_the_budget_decides_what_comes_back_warm(
    context_model: Path, fresh: LlamaEngine, memory_mb: int, kept: int
) -> None:
    engine = warm_engine(context_model, memory_mb)
    s = Session()
    for name in "abc":
        engine.generate(s.prompt(engine, name), PARAMS, CancelToken())
    assert engine.warm()["files"] == kept + 1
    back = s.prompt(engine, "a")
    got = engine.generate(back, PARAMS, CancelToken())
    assert got.text == fresh.generate(back, PARAMS, CancelToken()).text
    assert (got.stats.evaluated_tokens <= 8) == (kept > 0), got.stats


def test_a_state_over_a_small_budget_is_not_kept(context_model: Path) -> None:
    engine = warm_engine(context_model)
    s = Session()
    engine.generate(s.prompt(engine, "a"), PARAMS, CancelToken())
    one = engine.warm()["bytes"]
    engine.keep_warm(max(1, one >> 20))  # below one file's state (whole MiB): none fits
    engine.generate(s.prompt(engine, "b"), PARAMS, CancelToken())
    engine.generate(s.prompt(engine, "c"), PARAMS, CancelToken())
    figures = engine.warm()
    assert figures["bytes"] - engine.llm.n_tokens * engine.bytes_per_token <= figures["budgetBytes"]


class CancelAfter(CancelToken):
    """Cancelled once `checks` cancellation checks have passed (a cancel in the middle of a prefill)."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.left = checks

    @property
    def cancelled(self) -> bool:
        self.left -= 1
        if self.left < 0:
            self.cancel("test")
        return super().cancelled


@pytest.mark.parametrize("checks", [1, 5, 40], ids=["cancel-at-once", "cancel-after-a-few", "cancel-late"])
@pytest.mark.parametrize(
    "kind",
    [pytest.param(lambda: PARAMS, id="request"),
     pytest.param(lambda: GenerationParams(max_tokens=0), id="prefill"),
     pytest.param(lambda: GenerationParams(max_tokens=6, abort_prompt=True), id="speculation")],
)
def test_a_cancel_mid_prefill_leaves_every_state_consistent(
    context_model: Path, fresh: LlamaEngine, checks: int, kind: Callable[[], GenerationParams]
) -> None:
    engine = warm_engine(context_model)
    s = Session()
    for name in "ab":
        engine.generate(s.prompt(engine, name), PARAMS, CancelToken())
    s.type("a", "x = 1\n    ")
    engine.generate(s.prompt(engine, "a"), kind(), CancelAfter(checks))  # a switch back, cancelled midway
    engine.generate(s.prompt(engine, "c"), kind(), CancelAfter(checks))  # a new file, cancelled midway
    for name in "bca":
        prompt = s.prompt(engine, name)
        got = engine.generate(prompt, PARAMS, CancelToken())
        assert got.text == fresh.generate(prompt, PARAMS, CancelToken()).text, name


def test_alternatives_after_a_switch_reuse_the_restored_state(context_model: Path, fresh: LlamaEngine) -> None:
    engine = warm_engine(context_model)
    s = Session()
    for name in "aba":
        prompt = s.prompt(engine, name)
        engine.generate(prompt, PARAMS, CancelToken())
    sampled = GenerationParams(max_tokens=6, temperature=0.8, seed=1)
    got = engine.generate(prompt, sampled, CancelToken())
    assert got.stats.evaluated_tokens <= 1
    assert got.text == fresh.generate(prompt, sampled, CancelToken()).text


def test_closing_the_engine_drops_every_state(context_model: Path) -> None:
    engine = warm_engine(context_model)
    s = Session()
    for name in "abc":
        engine.generate(s.prompt(engine, name), PARAMS, CancelToken())
    assert engine.warm()["files"] == 3
    engine.close()  # what the model host does to a replaced engine once its last lease is released
    assert engine.states.tokens() == []
    assert engine.states.figures(0, engine.bytes_per_token)["bytes"] == 0
