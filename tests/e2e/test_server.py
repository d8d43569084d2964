"""The language server end to end over stdio: menus, debounce, cancellation, caching, settings, bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound, JsonRpcRequestCancelled
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import inline_params, open_doc, start, statuses, wait_status

LONG = {"maxTokens": 4000}
"""With the endless model and a 4096 context this generates for long enough to be cancelled mid-way."""


def last_stats(client: LanguageClient) -> dict[str, int]:
    return statuses(client)[-1]["stats"]


def change(client: LanguageClient, uri: str, version: int, line: int, character: int, text: str) -> None:
    here = types.Position(line, character)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangePartial(types.Range(here, here), text)],
        )
    )


async def start_long(client: LanguageClient, model: Path) -> None:
    caps = "visual-studio-code"
    # One generation per request (no alternatives): the tests count the tokens of one run.
    options = {"infill": {"model": {"path": str(model), "contextSize": 4096},
                          "completion": {"debounceMs": 0, "alternatives": 1, **LONG}}}
    await client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities(caps), initialization_options=options)
    )
    await wait_status(client, lambda s: s["state"] == "ready")


async def test_completion_menu_item_replaces_word_before_cursor(client: LanguageClient, endless_model: Path) -> None:
    await start(client, endless_model, maxTokens=3)
    line = "s = '好🎉' ab"
    uri = open_doc(client, line)
    cursor = len(line.encode("utf-16-le")) // 2  # UTF-16 units: the emoji counts 2
    result = await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(0, cursor))
    )
    assert isinstance(result, types.CompletionList) and result.is_incomplete
    [item] = result.items
    assert item.text_edit is not None and isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.range == types.Range(types.Position(0, cursor - 2), types.Position(0, cursor))
    # The model writes ` x` forever; the prompt's last token `ab` is healed, so the first token begins with it.
    new_text = item.text_edit.new_text
    assert new_text.startswith("ab") and new_text.endswith(" x x x") and len(new_text) > len("ab x x x")
    assert item.filter_text == new_text and item.label == new_text and item.preselect
    assert item.label_details is not None and item.label_details.description == "infill"


async def test_inline_completion_range_in_utf16_after_emoji_and_cjk(
    client: LanguageClient, answer_model: Path
) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "# 好🎉\nx =\n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 3))
    assert [(i.insert_text, i.range) for i in result.items] == [
        (" 42", types.Range(types.Position(1, 3), types.Position(1, 3)))
    ]


async def test_selected_completion_info_is_honoured(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "x ")
    params = inline_params(uri, 0, 2)
    params.context.selected_completion_info = types.SelectedCompletionInfo(
        types.Range(types.Position(0, 2), types.Position(0, 2)), "="
    )
    result = await client.text_document_inline_completion_async(params)
    assert [(i.insert_text, i.range) for i in result.items] == [
        ("= 42", types.Range(types.Position(0, 2), types.Position(0, 2)))
    ]


async def test_debounced_request_is_dropped_when_a_newer_one_arrives(
    client: LanguageClient, answer_model: Path
) -> None:
    await start(client, answer_model, debounceMs=500, adaptiveDebounce=False)
    uri = open_doc(client, "x =")
    first = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 3, True)))
    await asyncio.sleep(0.05)
    second = await client.text_document_inline_completion_async(inline_params(uri, 0, 3, True))
    assert not (await first).items
    assert [i.insert_text for i in second.items] == [" 42"]
    stats = last_stats(client)
    assert (stats["dropped"], stats["modelCalls"]) == (1, 1)


async def test_cancel_request_stops_the_generation(client: LanguageClient, endless_model: Path) -> None:
    await start_long(client, endless_model)
    uri = open_doc(client, "a")
    task = asyncio.ensure_future(client.protocol.send_request_async(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 0, 1), msg_id="to-cancel"))
    await wait_status(client, lambda s: s["generating"])
    client.cancel_request(types.CancelParams(id="to-cancel"))
    with pytest.raises(JsonRpcRequestCancelled):
        await task
    status = await wait_status(client, lambda s: not s["generating"] and s["stats"]["cancelled"] >= 1)
    assert status["stats"]["generatedTokens"] < LONG["maxTokens"]


async def test_newer_request_supersedes_the_one_in_flight(client: LanguageClient, endless_model: Path) -> None:
    await start_long(client, endless_model)
    uri = open_doc(client, "a")
    first = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 1)))
    await wait_status(client, lambda s: s["generating"])
    second = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 0)))
    assert not (await first).items
    await second
    stats = last_stats(client)
    assert stats["cancelled"] >= 1 and stats["generatedTokens"] < 2 * LONG["maxTokens"]


async def test_result_for_an_older_version_is_dropped(client: LanguageClient, endless_model: Path) -> None:
    await start_long(client, endless_model)
    uri = open_doc(client, "a")
    first = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 1)))
    await wait_status(client, lambda s: s["generating"])
    change(client, uri, 2, 0, 1, "b")
    assert not (await first).items
    assert last_stats(client)["cancelled"] >= 1


async def test_typing_through_and_cache_answer_without_the_model(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "x =")
    first = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
    assert [i.insert_text for i in first.items] == [" 42"]
    again = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
    assert [i.insert_text for i in again.items] == [" 42"]
    change(client, uri, 2, 0, 3, " 4")
    typed = await client.text_document_inline_completion_async(inline_params(uri, 0, 5))
    assert [i.insert_text for i in typed.items] == ["2"]
    stats = last_stats(client)
    assert (stats["modelCalls"], stats["cacheHits"], stats["typedThrough"]) == (1, 1, 1)


async def test_settings_change_disables_and_bad_values_are_named(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "x =")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams({"infill": {"model": {"path": str(answer_model), "contextSize": 1024},
                                                       "completion": {"enable": False, "debounceMs": "soon"}}})
    )
    message = await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    assert "infill.completion.debounceMs" in message.message
    await wait_status(client, lambda s: s["state"] == "disabled")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
    assert not result.items


async def test_changing_the_model_reloads_it(client: LanguageClient, answer_model: Path, endless_model: Path) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "x =")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams({"infill": {"model": {"path": str(endless_model), "contextSize": 1024},
                                                       "completion": {"debounceMs": 0, "maxTokens": 2}}})
    )
    await wait_status(client, lambda s: s["state"] == "ready" and s["model"] == endless_model.name)
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
    assert [i.insert_text for i in result.items] == [" x x"]


async def test_missing_model_is_reported_and_the_server_keeps_serving(client: LanguageClient, tmp_path: Path) -> None:
    options = {"infill": {"model": {"path": str(tmp_path / "nope.gguf")}}}
    await client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                           initialization_options=options))
    message = await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    assert message.type == types.MessageType.Error and "model file not found" in message.message
    await wait_status(client, lambda s: s["state"] == "error")
    uri = open_doc(client, "x =")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
    assert not result.items


@pytest.mark.parametrize(
    ("uri", "text", "line", "character"),
    [
        pytest.param("file:///not/open.py", None, 0, 0, id="unknown-uri"),
        pytest.param("file:///work/a.py", "x =", 5, 0, id="line-out-of-range"),
        pytest.param("file:///work/a.py", "x =", 0, 99, id="character-out-of-range"),
        pytest.param("file:///work/a.py", "\x00\x01binary", 0, 1, id="binary"),
    ],
)
async def test_bad_requests_get_empty_results(
    client: LanguageClient, answer_model: Path, uri: str, text: str | None, line: int, character: int
) -> None:
    await start(client, answer_model)
    if text is not None:
        open_doc(client, text, uri)
    result = await client.text_document_inline_completion_async(inline_params(uri, line, character))
    assert not result.items
    good = open_doc(client, "x =", "file:///work/good.py")
    assert [i.insert_text for i in (await client.text_document_inline_completion_async(
        inline_params(good, 0, 3))).items] == [" 42"]


async def test_loading_reports_work_done_progress(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    reports = [r for values in client.progress_reports.values() for r in values]
    kinds = [type(r).__name__ for r in reports]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"


@pytest.mark.parametrize("editor", ["visual-studio-code", "neovim"])
async def test_recorded_editor_capabilities(client: LanguageClient, answer_model: Path, editor: str) -> None:
    await start(client, answer_model, capabilities=editor)
    uri = open_doc(client, "x =")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 3, automatic=True))
    assert [i.insert_text for i in result.items] == [" 42"]


async def test_menu_setting_switches_completion_items_off(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model, menu="never")
    uri = open_doc(client, "x =")
    with pytest.raises(JsonRpcMethodNotFound):  # not announced, so not served
        await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(0, 3))
        )
    inline = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
    assert [i.insert_text for i in inline.items] == [" 42"]


async def test_settings_are_read_with_workspace_configuration(client: LanguageClient, endless_model: Path) -> None:
    client.set_configuration({"model": {"path": str(endless_model), "contextSize": 1024},
                              "completion": {"debounceMs": 0, "maxTokens": 2}}, section="infill")
    await client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    await wait_status(client, lambda s: s["state"] == "ready")
    uri = open_doc(client, "a")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 1))
    assert [i.insert_text for i in result.items] == [" x x"]


async def test_huge_document_gets_an_empty_result(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "x = 1\n" * 700_000 + "x =")
    result = await client.text_document_inline_completion_async(inline_params(uri, 700_000, 3))
    assert not result.items


async def test_did_close_cancels_the_generation(client: LanguageClient, endless_model: Path) -> None:
    await start_long(client, endless_model)
    uri = open_doc(client, "a")
    first = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 0, 1)))
    await wait_status(client, lambda s: s["generating"])
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert not (await first).items
    status = await wait_status(client, lambda s: s["stats"]["cancelled"] >= 1)
    assert status["stats"]["generatedTokens"] < LONG["maxTokens"]
