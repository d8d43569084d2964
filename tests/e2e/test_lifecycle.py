"""Reloads, downloads, background work and shared runs, over LSP: the races a review reproduced (issue 10)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import (
    custom_client,
    idle,
    inline_params,
    open_doc,
    settings_change,
    start,
    statuses,
    wait_ready,
    wait_status,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from slowhub import SlowHub


def change(client: LanguageClient, uri: str, version: int, line: int, character: int, text: str) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(line, character), types.Position(line, character)), text=text)],
    ))


def text_of(result: types.InlineCompletionList | None) -> str:
    return str(result.items[0].insert_text) if result and result.items else ""


def options(model: Path | None = None, **completion: Any) -> dict[str, Any]:
    tree: dict[str, Any] = {"completion": {"debounceMs": 0, "alternatives": 1, **completion}}
    if model is not None:
        tree["model"] = {"path": str(model), "contextSize": 1024}
    return tree


async def init(client: LanguageClient, tree: dict[str, Any]) -> None:
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options={"infill": tree}))


async def test_a_local_model_replaces_a_download_under_way(tiny_model: Path, tmp_path: Path) -> None:
    """Issue 10, defects 1 and 10: the download stops, the local model serves, every progress begun is ended."""
    with SlowHub() as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_DISABLE_XET": "1",
               "HF_HUB_OFFLINE": "0"}
        async with custom_client(env=env) as client:
            await init(client, {"model": {"repo": "org/big", "file": "big.gguf"}})
            await wait_status(client, lambda s: s["message"].startswith("downloading"))
            settings_change(client, {"model": {"path": str(tiny_model), "contextSize": 1024}})
            ready = await wait_ready(client)
            assert ready["model"] == "tiny.gguf"
            await asyncio.sleep(0.5)  # long enough for the old download to report again, if it still could
            after = statuses(client)[statuses(client).index(ready):]
            assert all(s["state"] == "ready" for s in after), [s["message"] for s in after if s["state"] != "ready"]
            ends = {token: reports[-1] for token, reports in client.progress_reports.items()}
            assert len(ends) == 2
            assert all(isinstance(last, types.WorkDoneProgressEnd) for last in ends.values()), ends


async def test_a_model_change_during_the_debounce_does_not_crash(
    client: LanguageClient, tiny_model: Path, answer_model: Path
) -> None:
    """Issue 10, defect 2: the debounced request must not run on the engine the reload closed."""
    await start(client, tiny_model, debounceMs=400, adaptiveDebounce=False)
    uri = open_doc(client, "x =")
    pending = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 3, True)))
    await asyncio.sleep(0.05)
    settings_change(client, options(answer_model, debounceMs=400, adaptiveDebounce=False))
    assert text_of(await pending) == ""  # made for the old model's settings: dropped, not run on a closed engine
    await wait_status(client, lambda s: s["state"] == "ready" and s["model"] == "answer.gguf")
    assert text_of(await client.text_document_inline_completion_async(inline_params(uri, 0, 3))) == " 42"


async def test_a_second_speculation_cancels_the_first(client: LanguageClient, endless_model: Path) -> None:
    """Issue 10, defect 5: one background slot; an orphaned speculation would hold up the next request."""
    await start(client, endless_model, maxTokens=400)  # runs long enough to overlap
    first, second = open_doc(client, "x =", "file:///w/a.py"), open_doc(client, "y =", "file:///w/b.py")
    await asyncio.gather(client.text_document_inline_completion_async(inline_params(first, 0, 3)),
                         client.text_document_inline_completion_async(inline_params(second, 0, 3)))
    stats = (await idle(client))["stats"]
    assert (stats["speculations"], stats["speculationsCancelled"]) == (1, 1), stats


async def test_a_speculation_never_serves_the_old_models_text(
    client: LanguageClient, endless_model: Path, answer_model: Path
) -> None:
    """Issue 10, defect 6: a speculation queued behind a model switch must not fill the cache."""
    await start(client, endless_model, maxTokens=1000)  # a generation long enough to switch models during it
    uri = open_doc(client, "x =")
    pending = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 3)))
    await asyncio.sleep(0.1)
    settings_change(client, options(answer_model, maxTokens=1000))
    shown = text_of(await pending)
    assert shown
    await wait_status(client, lambda s: s["state"] == "ready" and s["model"] == "answer.gguf")
    before = (await idle(client))["stats"]
    change(client, uri, 2, 0, 3, shown)  # the user accepts what was shown
    await client.text_document_inline_completion_async(inline_params(uri, 0, 3 + len(shown)))
    after = (await idle(client))["stats"]
    assert after["cacheHits"] == before["cacheHits"], "served a completion computed by the replaced model"
    assert after["modelCalls"] == before["modelCalls"] + 1


async def test_a_failed_load_is_retried_when_the_settings_come_again(
    client: LanguageClient, tiny_model: Path, tmp_path: Path
) -> None:
    """Issue 10, defect 11."""
    late = tmp_path / "late.gguf"
    await init(client, options(late))
    failed = await wait_status(client, lambda s: s["state"] == "error")
    assert "not found" in failed["message"]
    shutil.copy(tiny_model, late)
    settings_change(client, options(late))
    ready = await wait_status(client, lambda s: s["state"] == "ready")
    assert ready["model"] == "late.gguf"


async def test_typing_through_and_other_documents_leave_the_speculation_alone(
    client: LanguageClient, endless_model: Path
) -> None:
    await start(client, endless_model, maxTokens=400)
    uri, other = open_doc(client, "x ="), open_doc(client, "abc", "file:///w/other.py")
    shown = text_of(await client.text_document_inline_completion_async(inline_params(uri, 0, 3)))
    change(client, uri, 2, 0, 3, shown[0])
    typed = await client.text_document_inline_completion_async(inline_params(uri, 0, 4, True))
    assert text_of(typed) == shown[1:]
    skipped = await client.text_document_inline_completion_async(inline_params(other, 0, 0, True))
    assert text_of(skipped) == ""  # inside a word: no model run
    stats = (await idle(client))["stats"]
    assert (stats["typedThrough"], stats["speculations"], stats["speculationsCancelled"]) == (1, 1, 0), stats


async def test_serve_model_yields_to_the_clients_model(tiny_model: Path, tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    async with custom_client(["serve", "--model", str(tiny_model)], env) as client:
        await init(client, {"model": {"repo": "org/other", "file": "other.gguf"}})
        failed = await wait_status(client, lambda s: s["state"] == "error")
        assert failed["model"] == "other.gguf" and "org/other" in failed["message"], failed
    async with custom_client(["serve", "--model", str(tiny_model)], env) as client:
        await init(client, {"completion": {"maxTokens": 8}})  # no model named: the command line's serves
        assert (await wait_ready(client))["model"] == "tiny.gguf"


async def test_identical_requests_share_one_model_run(client: LanguageClient, endless_model: Path) -> None:
    await start(client, endless_model, maxTokens=1000)  # runs long enough to overlap, even on a loaded machine
    uri = open_doc(client, "x =")
    at = types.Position(0, 3)
    invoked = types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked)
    inline, menu = await asyncio.gather(
        client.text_document_inline_completion_async(inline_params(uri, 0, 3)),
        client.text_document_completion_async(types.CompletionParams(types.TextDocumentIdentifier(uri), at, invoked)),
    )
    assert text_of(inline)
    assert isinstance(menu, types.CompletionList) and menu.items[0].text_edit is not None
    assert menu.items[0].text_edit.new_text == text_of(inline)
    stats = (await idle(client))["stats"]
    assert stats["modelCalls"] == 1, stats
    assert stats["shared"] == 1, stats


async def test_one_request_sends_few_status_notifications(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "x =")
    await idle(client)
    before = len(statuses(client))
    assert text_of(await client.text_document_inline_completion_async(inline_params(uri, 0, 3))) == " 42"
    await idle(client)
    # At most: generating, done (with the speculation starting), speculation done. It was 5.
    sent = [(s["generating"], s["speculating"], s["stats"]["speculations"]) for s in statuses(client)[before:]]
    assert len(sent) <= 3, sent
