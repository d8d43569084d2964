"""`infill.completion.minConfidence` over LSP (issue 25): an automatic request whose suggestion's confidence is below
it gets no item (the model ran: its answer stays cached for an Invoked request); an Invoked one is never filtered.
The item's command and the status carry the confidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import idle, inline_params, open_doc, start

SOURCE = "def add(a, b):\n    return "
"""The random tiny model is unsure of every token here (the scripted one is sure of ` 42`: confidence 0)."""


async def ask(client: LanguageClient, uri: str, automatic: bool) -> list[types.InlineCompletionItem]:
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11, automatic))
    assert isinstance(result, types.InlineCompletionList)
    return list(result.items)


@pytest.mark.parametrize(
    ("floor", "automatic", "shown"),
    [
        pytest.param(None, True, True, id="off"),
        pytest.param(-1000.0, True, True, id="low-floor-shown"),
        pytest.param(0.0, True, False, id="floor-zero-hides-automatic"),
        pytest.param(0.0, False, True, id="floor-zero-never-hides-invoked"),
    ],
)
async def test_min_confidence(client: LanguageClient, tiny_model: Path, floor: float | None, automatic: bool,
                              shown: bool) -> None:
    await start(client, tiny_model, maxTokens=6, minConfidence=floor)
    uri = open_doc(client, SOURCE)
    items = await ask(client, uri, automatic)
    status = await idle(client)
    assert bool(items) == shown, items
    assert status["stats"]["modelCalls"] == 1
    confidence = status["last"]["confidence"]
    assert isinstance(confidence, float) and confidence < 0, status["last"]
    if items:
        command = items[0].command
        assert command is not None and command.arguments is not None
        assert command.arguments[0]["confidence"] == confidence


async def test_a_hidden_suggestion_is_kept_for_the_trigger_key(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, maxTokens=6, minConfidence=0.0)
    uri = open_doc(client, SOURCE)
    assert await ask(client, uri, automatic=True) == []
    assert len(await ask(client, uri, automatic=False)) == 1
    stats = (await idle(client))["stats"]
    assert (stats["modelCalls"], stats["cacheHits"]) == (1, 1), stats
    assert await ask(client, uri, automatic=True) == []  # the cached answer keeps its confidence
