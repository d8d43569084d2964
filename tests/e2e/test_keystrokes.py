"""The per-keystroke mechanisms: KV reuse while typing, speculative next completion, wasted work."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import inline_params, open_doc, start, statuses, wait_status
from .test_server import change

BODY = "\n".join(f"def helper_{i}(value):\n    return value + {i}\n" for i in range(60))


async def test_each_keystroke_evaluates_only_the_new_tokens(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, maxTokens=4)
    lines = BODY.split("\n")
    row = 61  # a line in the middle of the file, with code above and below it
    lines.insert(row, "    total = ")
    uri = open_doc(client, "\n".join(lines))
    column = len(lines[row])
    evaluated, reused, prompt = [], [], []
    for version, char in enumerate("helper_3(4) + 1", start=2):
        change(client, uri, version, row, column, char)
        column += 1
        await client.text_document_inline_completion_async(inline_params(uri, row, column, automatic=True))
        last = statuses(client)[-1]["last"]
        if last:
            evaluated.append(last["evaluatedTokens"])
            reused.append(last["reusedTokens"])
            prompt.append(last["promptTokens"])
    assert prompt[0] > 500  # the whole file is in the prompt
    assert evaluated[0] == prompt[0]  # the first request evaluates it all
    assert statistics.median(evaluated[1:]) <= 8
    assert all(r >= p - 8 for r, p in zip(reused[1:], prompt[1:], strict=True))


async def test_accepting_uses_the_speculative_completion(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "x =")
    shown = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
    assert [i.insert_text for i in shown.items] == [" 42"]
    await wait_status(client, lambda s: s["stats"]["speculations"] == 1)
    change(client, uri, 2, 0, 3, " 42")  # the user accepts the suggestion
    await client.text_document_inline_completion_async(inline_params(uri, 0, 6, automatic=True))
    stats = statuses(client)[-1]["stats"]
    assert (stats["modelCalls"], stats["speculativeHits"]) == (1, 1)


async def test_a_real_request_cancels_the_speculation(client: LanguageClient, endless_model: Path) -> None:
    options = {"infill": {"model": {"path": str(endless_model), "contextSize": 4096},
                          "completion": {"debounceMs": 0, "maxTokens": 2000, "alternatives": 1}}}
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options=options))
    await wait_status(client, lambda s: s["state"] == "ready")
    uri = open_doc(client, "a\n")
    await client.text_document_inline_completion_async(inline_params(uri, 0, 1))
    await wait_status(client, lambda s: s["speculating"])
    answer = await client.text_document_inline_completion_async(inline_params(uri, 1, 0))
    assert answer.items
    stats = (await wait_status(client, lambda s: s["stats"]["speculationsCancelled"] == 1))["stats"]
    assert stats["speculations"] == 0 and stats["modelCalls"] == 2
    assert stats["wastedTokens"] == 0  # what the speculation generated counts as speculativeWastedTokens


async def test_the_prompt_is_evaluated_while_the_debounce_waits(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model, debounceMs=300, adaptiveDebounce=False)
    uri = open_doc(client, "def total(values):\n    x =")
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 7, automatic=True))
    assert [i.insert_text for i in result.items] == [" 42"]
    status = statuses(client)[-1]
    assert status["last"]["promptTokens"] > 10
    assert status["last"]["evaluatedTokens"] == 1  # the rest was evaluated during the debounce
    assert status["stats"]["evaluatedTokens"] >= status["last"]["promptTokens"]


@pytest.mark.parametrize(("adaptive", "waited"), [(True, 0), (False, 1000)], ids=["adaptive", "fixed"])
async def test_a_model_faster_than_the_typing_runs_without_debounce(
    client: LanguageClient, endless_model: Path, adaptive: bool, waited: float
) -> None:
    await start(client, endless_model, debounceMs=1000, maxTokens=8, adaptiveDebounce=adaptive)
    uri = open_doc(client, "a")
    await client.text_document_inline_completion_async(inline_params(uri, 0, 1))  # the model's speed
    for version, column in enumerate(range(1, 7), start=2):  # keystrokes 400 ms apart: the tiny model is faster,
        change(client, uri, version, 0, column, "b")      # even on a loaded machine
        await asyncio.sleep(0.4)
    answer = await client.text_document_inline_completion_async(inline_params(uri, 0, 7, automatic=True))
    assert answer.items
    assert statuses(client)[-1]["last"]["debounceMs"] == waited
