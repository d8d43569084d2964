"""The focus near the cursor on the prefix-only path (crossfile/focus.py, prompt.py `near_ids`): reused KV state
answers as a fresh evaluation does, and a keystroke evaluates only the new text, or, where the focus comes, changes
or goes, at most its lines and the current line.

The session types `util.total(d)` in `main.py` with `util.py` open: after `util.` the focus is util's outline
(comment lines just above the cursor's line), after `util.total(` the signature of `total`, after `)` none. Each
step's prompt is built as the server builds it (CrossFileSources, then the pipeline) and its greedy text compared
with a fresh engine's on the same prompt; both evaluate one token per batch (see test_kv_exactness.py), so a
difference left is the cache's. The model is the wider random F32 one whose answers depend on earlier tokens
(write_context_model's shape), written without FIM tokens: a model with them is never completed from the prefix
only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tinymodel import write_tiny_model

from infill_ls.completion import pipeline
from infill_ls.completion.crossfile.selection import comment_for
from infill_ls.completion.crossfile.sources import CrossFileSources
from infill_ls.completion.prompt import CrossFileBlock
from infill_ls.config import CompletionSettings, ContextSettings, ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams
from infill_ls.engine.llama import EngineOptions, LlamaEngine
from infill_ls.models import Layout

SETTINGS = ModelSettings(contextSize=2048, threads=1)
COMPLETION = CompletionSettings(maxTokens=8, prefixTokens=900, suffixTokens=300)
PARAMS = GenerationParams(max_tokens=8)
ROOT = Path("/work/project")
MAIN, UTIL = ((ROOT / name).as_uri() for name in ("main.py", "util.py"))
UTIL_TEXT = (
    "def total(items, start=0):\n    result = start\n    for value in items:\n        result = result + value\n"
    "    return result\n\n\ndef count(items):\n    return len(items)\n\n\nLIMIT = 100\n"
)
MAIN_LINES = [
    "import util", "", "",
    *[line for i in range(3)
      for line in (f"def add_{i}(data):", f"    value = sum(data) + {i}", "    return value", "")],
    "def main(args):", "    data = list(args)", "    result = ", "    print(result)", "",
]
START = (MAIN_LINES.index("    result = "), len("    result = "))
TYPED = "util.total(d)"
KEYSTROKE_TOKENS = 8
"""What a keystroke may evaluate where the focus stays (tests/e2e/test_keystrokes.py's bound)."""


class Doc:
    def __init__(self, uri: str, source: str, version: int) -> None:
        self.uri, self.source, self.version = uri, source, version


def session(engine: LlamaEngine) -> Iterator[tuple[str, CrossFileBlock, str, tuple[int, ...]]]:
    """Each keystroke with the context, the cursor's line and the prompt the server would build after it."""
    sources = CrossFileSources()
    row, col = START
    lines = list(MAIN_LINES)
    docs: dict[str, Any] = {UTIL: Doc(UTIL, UTIL_TEXT, 1)}
    for k in range(len(TYPED) + 1):
        lines[row] = MAIN_LINES[row][:col] + TYPED[:k]
        text = "\n".join(lines)
        offset = sum(len(line) + 1 for line in lines[:row]) + len(lines[row])
        docs[MAIN] = Doc(MAIN, text, k + 1)
        sources.edited(MAIN, [])
        extra = sources.extra(MAIN, text, offset, docs, [ROOT], ContextSettings())
        plan = pipeline.plan(text, offset, COMPLETION, automatic=False, extra=extra)
        call = pipeline.Call(plan, COMPLETION, CancelToken(), Layout.PREFIX_ONLY)
        yield TYPED[:k] or "open", extra, lines[row], pipeline.make_prompt(engine, call).tokens


@pytest.fixture(scope="module")
def prefix_model(models_dir: Path) -> Path:
    """The context-dependent model (see write_context_model) without FIM tokens: the prefix-only path."""
    return write_tiny_model(models_dir / "context-prefix-only.gguf", dim=256, layers=4, ff=512, heads=8,
                            fim_tokens=False)


@pytest.fixture(scope="module")
def fresh(prefix_model: Path) -> LlamaEngine:
    return LlamaEngine.load(prefix_model, SETTINGS, EngineOptions(reuse_kv=False, eval_chunk=1))


def test_the_focus_follows_what_the_cursor_needs(fresh: LlamaEngine) -> None:
    shown = {typed: (extra.focus.names or extra.focus.code) if extra.focus else None
             for typed, extra, _, _ in session(fresh)}
    assert shown["util"] is None
    assert shown["util."] == shown["util.tota"] == ("total", "count", "LIMIT")
    assert shown["util.total("] == shown["util.total(d"] == "def total(items, start=0):\n"
    assert shown["util.total(d)"] is None


def test_reused_kv_with_near_cursor_lines_answers_as_a_fresh_evaluation(
    prefix_model: Path, fresh: LlamaEngine
) -> None:
    engine = LlamaEngine.load(prefix_model, SETTINGS, EngineOptions(eval_chunk=1))
    differ, costly = [], []
    focus_before = None
    for k, (typed, extra, line, prompt) in enumerate(session(engine)):
        got = engine.generate(prompt, PARAMS, CancelToken())
        if got.text != fresh.generate(prompt, PARAMS, CancelToken()).text:
            differ.append(typed)
        focus = extra.focus
        if k and focus == focus_before:
            bound = KEYSTROKE_TOKENS
        else:  # the near lines came, changed or went: those lines and the current line
            near = [f.near(comment_for("main.py")) for f in (focus, focus_before) if f is not None]
            bound = max(len(engine.tokenize(n)) for n in near) + len(engine.tokenize(line)) + 1 if near else 0
        if k and got.stats.evaluated_tokens > bound:
            costly.append((typed, got.stats.evaluated_tokens, bound))
        assert got.stats.shifted_tokens == 0
        focus_before = focus
    assert differ == []
    assert costly == []
