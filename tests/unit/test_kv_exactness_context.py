"""Reused KV state answers as a fresh evaluation does with a cross-file context block in the prompt too (review of
issue 14; test_kv_exactness.py is the same check without one).

The block sits between the suffix and the prefix in the suffix-first layout (`PRE SUF suffix MID block prefix`):
when it switches (another open document changed), the cache keeps the suffix, drops the old block and either
evaluates the prefix again (common prefix only) or moves the cached prefix to its new place (a shifted run,
whose KV state was computed after the old block: an approximation that may serve only the request that shifted
it). The session opens `main.py` next to `util.py`, types, edits `util.py` (the block switches), types again,
moves, edits `util.py` again and types. Each step's prompt is built as the server builds it (CrossFileSources, then
the pipeline), and its greedy text compared with a fresh engine's on the same prompt. Both engines evaluate one
token per batch, as test_kv_exactness.py explains: a difference left is the cache's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from infill_ls.completion import pipeline
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
MAIN, UTIL, NOTES = ((ROOT / name).as_uri() for name in ("main.py", "util.py", "notes.py"))
CONTEXT = ContextSettings(imports=False)

OTHERS = {
    UTIL: [
        "def total(items):\n    result = 0\n    for value in items:\n        result = result + value\n"
        "    return result\n",
        "def total(items, value=0):\n    result = sum(items, value)\n    return result\n\n\ndef count(items):\n"
        "    return len(items)\n",
    ],
    NOTES: [
        "# the args of main\n",
        "# nothing here\n",  # shares no name with main.py: its snippet leaves the block
        "# the args of main\n",
    ],
}
"""Each other document's versions, in the order the session edits them."""
MAIN_LINES = [
    "from util import total, count", "", "",
    *[line for i in range(4)
      for line in (f"def add_{i}(data):", f"    value = total(data) + {i}", "    return value", "")],
    "def main(args):", "    data = list(args)", "    result = ", "    print(result)", "",
]
START = (MAIN_LINES.index("    result = "), len("    result = "))
STEPS = (
    "open", "type t", "type o", "type t", "edit notes.py", "type a", "type l", "down", "type x",
    "edit util.py", "type (", "type d", "edit notes.py", "type a", "up", "type a",
)
"""The first edit of notes.py drops its snippet (the rest of the block and the prefix move up: a shifted run),
the edit of util.py changes the block's text (evaluated again from there), the second edit of notes.py puts its
snippet back."""


class Doc:
    def __init__(self, uri: str, source: str, version: int) -> None:
        self.uri, self.source, self.version = uri, source, version


def session(engine: LlamaEngine) -> Iterator[tuple[str, CrossFileBlock, tuple[int, ...]]]:
    """Each step with the context block and the prompt the server would build after it."""
    sources = CrossFileSources()
    lines, (row, col) = list(MAIN_LINES), START
    version = dict.fromkeys(OTHERS, 0)
    docs: dict[str, Any] = {uri: Doc(uri, texts[0], 1) for uri, texts in OTHERS.items()}
    for step in STEPS:
        verb, _, arg = step.partition(" ")
        if verb == "type":
            lines[row] = lines[row][:col] + arg + lines[row][col:]
            col += len(arg)
            sources.edited(MAIN, [])
        elif verb in ("up", "down"):
            row += 1 if verb == "down" else -1
            col = len(lines[row])
        elif verb == "edit":
            uri = (ROOT / arg).as_uri()
            old, new = OTHERS[uri][version[uri]], OTHERS[uri][version[uri] + 1]
            version[uri] += 1
            docs[uri] = Doc(uri, new, version[uri] + 1)
            sources.edited(uri, [types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(0, 0), types.Position(old.count("\n"), 0)), text=new)])
        text = "\n".join(lines)
        offset = sum(len(line) + 1 for line in lines[:row]) + col
        docs[MAIN] = Doc(MAIN, text, len(docs))
        extra = sources.extra(MAIN, text, offset, docs, [ROOT], CONTEXT)
        plan = pipeline.plan(text, offset, COMPLETION, automatic=False, extra=extra)
        call = pipeline.Call(plan, COMPLETION, CancelToken(), Layout.SPM)
        yield step, extra, pipeline.make_prompt(engine, call).tokens


def common_prefix(cached: list[int], prompt: tuple[int, ...]) -> int:
    n = 0
    while n < min(len(cached), len(prompt) - 1) and cached[n] == prompt[n]:
        n += 1
    return n


@pytest.fixture(scope="module")
def fresh(context_model: Path) -> LlamaEngine:
    return LlamaEngine.load(context_model, SETTINGS, EngineOptions(reuse_kv=False, eval_chunk=1))


def test_the_block_switches_when_another_document_changes(fresh: LlamaEngine) -> None:
    steps = list(session(fresh))
    blocks = [[snippet.path for snippet in extra.snippets] for _, extra, _ in steps]
    switched = [(step, block) for (step, _, _), block, before in zip(steps[1:], blocks[1:], blocks[:-1], strict=True)
                if block != before or step.startswith("edit")]
    assert blocks[0] == ["notes.py", "util.py"]
    assert switched == [("edit notes.py", ["util.py"]), ("edit util.py", ["util.py"]),
                        ("edit notes.py", ["notes.py", "util.py"])], switched
    texts = {"".join(s.text for s in extra.snippets) for _, extra, _ in steps}
    assert len(texts) == 4, texts  # each edit gave the block another text


@pytest.mark.parametrize(
    ("min_chunk", "shifts"),
    [
        pytest.param(0, False, id="common-prefix-only-every-answer-exact"),
        pytest.param(None, True, id="shifted-runs-only-the-shifting-request-approximate"),
    ],
)
def test_reused_kv_with_a_context_block_answers_as_a_fresh_evaluation(
    context_model: Path, fresh: LlamaEngine, min_chunk: int | None, shifts: bool
) -> None:
    options = EngineOptions(eval_chunk=1) if min_chunk is None else EngineOptions(eval_chunk=1, min_chunk=min_chunk)
    engine = LlamaEngine.load(context_model, SETTINGS, options)
    shifted, reported, differ, reused = [], [], [], []
    for k, (step, _, prompt) in enumerate(session(engine)):
        kept_in_place = common_prefix(engine.cached_tokens, prompt)
        got = engine.generate(prompt, PARAMS, CancelToken())
        name = f"{k}:{step}"
        shifted += [name] if got.stats.reused_tokens > kept_in_place else []
        reported += [name] if got.stats.shifted_tokens else []
        differ += [name] if got.text != fresh.generate(prompt, PARAMS, CancelToken()).text else []
        reused.append(got.stats.reused_tokens)
    assert [s for s in differ if s not in shifted] == [], f"shifted {shifted}, differ {differ}"
    assert reported == shifted  # GenerationStats.shifted_tokens says which answers are approximate
    assert sum(reused) > 0  # the cache was reused
    if shifts:  # dropping a snippet moved the rest of the block and the prefix up
        assert "4:edit notes.py" in shifted, shifted
    else:
        assert shifted == [], shifted
