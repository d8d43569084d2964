"""Alternatives on request (issue 14, item 5), over LSP: an Invoked request gets up to
`infill.completion.alternatives` distinct items, the greedy one first; an Automatic one gets one item from one
generation; a newer request stops the sampled runs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import idle, inline_params, open_doc, start, statuses, wait_status

SOURCE = "def add(a, b):\n    return "


def texts(result: types.InlineCompletionList | Sequence[types.InlineCompletionItem] | None) -> list[str]:
    assert isinstance(result, types.InlineCompletionList), result
    return [item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
            for item in result.items]


@pytest.mark.parametrize(
    ("alternatives", "automatic", "most", "calls"),
    [
        pytest.param(3, False, 3, 3, id="invoked-default-3"),
        pytest.param(5, False, 5, 5, id="invoked-5"),
        pytest.param(1, False, 1, 1, id="invoked-alternatives-1"),
        pytest.param(3, True, 1, 1, id="automatic-one-item-one-generation"),
    ],
)
async def test_items_per_trigger(
    client: LanguageClient, tiny_model: Path, alternatives: int, automatic: bool, most: int, calls: int
) -> None:
    await start(client, tiny_model, maxTokens=6, alternatives=alternatives)
    uri = open_doc(client, SOURCE)
    items = texts(await client.text_document_inline_completion_async(inline_params(uri, 1, 11, automatic)))
    assert 1 <= len(items) <= most, items
    assert len(set(items)) == len(items) and all(item.strip() for item in items), items
    if most > 1:  # the random model's samples differ from its greedy answer and from each other
        assert len(items) >= 2, items
    stats = (await idle(client))["stats"]
    assert stats["modelCalls"] == calls, stats


async def test_greedy_item_comes_first_and_stays_cached(client: LanguageClient, tiny_model: Path) -> None:
    """The first item is the one an Automatic request gets at the same spot, from the cache."""
    await start(client, tiny_model, maxTokens=6, alternatives=3)
    uri = open_doc(client, SOURCE)
    invoked = texts(await client.text_document_inline_completion_async(inline_params(uri, 1, 11)))
    automatic = texts(await client.text_document_inline_completion_async(inline_params(uri, 1, 11, True)))
    assert automatic == invoked[:1]
    stats = (await idle(client))["stats"]
    assert (stats["cacheHits"], stats["modelCalls"]) == (1, 3), stats


async def test_the_default_is_three(client: LanguageClient, tiny_model: Path) -> None:
    caps = client_capabilities("visual-studio-code")
    options = {"infill": {"model": {"path": str(tiny_model), "contextSize": 1024},
                          "completion": {"debounceMs": 0, "maxTokens": 6}}}
    await client.initialize_session(types.InitializeParams(capabilities=caps, initialization_options=options))
    await wait_status(client, lambda s: s["state"] == "ready")
    uri = open_doc(client, SOURCE)
    items = texts(await client.text_document_inline_completion_async(inline_params(uri, 1, 11)))
    assert 2 <= len(items) <= 3, items
    assert (await idle(client))["stats"]["modelCalls"] == 3


async def test_menu_request_keeps_one_item(client: LanguageClient, tiny_model: Path) -> None:
    """A menu request marked Invoked keeps one item and one model call: Helix sends its automatic completion
    popups as Invoked (only those after a trigger character differ), and would pay for every alternative."""
    await start(client, tiny_model, capabilities="neovim", maxTokens=6, multiline="never")
    uri = open_doc(client, SOURCE)
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), types.Position(1, 11),
        context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked)))
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1, result.items
    assert (await idle(client))["stats"]["modelCalls"] == 1


async def test_newer_request_cancels_the_sampled_runs(client: LanguageClient, endless_model: Path) -> None:
    """The greedy run ends; a newer request for the document arrives during the sampled ones: the old
    request gets nothing, and its sampled run stops short of its token limit."""
    await start(client, endless_model, maxTokens=900, alternatives=10)
    uri = open_doc(client, "a")
    first = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 1)))
    await wait_status(client, lambda s: s["generating"] and s["stats"]["modelCalls"] >= 2)
    second = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 0, True)))
    assert texts(await first) == []
    await second
    stats = (await idle(client))["stats"]
    assert stats["cancelled"] >= 1 and stats["modelCalls"] < 10 + 1, stats
    assert stats["wastedTokens"] < 900, stats
    assert statuses(client)[-1]["state"] == "ready"


@pytest.mark.parametrize(
    ("alternatives", "automatic"),
    [
        pytest.param(3, False, id="invoked-3-speculates-after-the-samples"),
        pytest.param(1, False, id="invoked-1-item"),
        pytest.param(3, True, id="automatic-one-item"),
    ],
)
async def test_speculation_is_not_wasted_on_the_samples(
    client: LanguageClient, tiny_model: Path, alternatives: int, automatic: bool
) -> None:
    """Review of issue 14: the speculation started after the greedy answer was cancelled at once by the first
    sampled run. It starts after the samples now (from the greedy text), so it completes."""
    await start(client, tiny_model, maxTokens=6, alternatives=alternatives)
    uri = open_doc(client, SOURCE)
    items = texts(await client.text_document_inline_completion_async(inline_params(uri, 1, 11, automatic)))
    assert items, items
    await wait_status(client, lambda s: s["stats"]["speculations"] + s["stats"]["speculationsCancelled"] > 0)
    stats = (await idle(client))["stats"]
    assert (stats["speculations"], stats["speculationsCancelled"]) == (1, 0), stats
