"""Switching models over LSP: nothing the old model answered is served once another one is asked for, not even
while the new one is still downloading or loading (issue 21, item 9c)."""

from __future__ import annotations

import sys
from pathlib import Path

from lsprotocol import types
from pytest_lsp import client_capabilities

from .conftest import custom_client, inline_params, open_doc, settings_change, statuses, wait_ready, wait_status

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures"))
from slowhub import SlowHub


async def test_the_old_models_cached_answers_are_not_served_while_the_new_one_loads(
    answer_model: Path, tmp_path: Path
) -> None:
    with SlowHub() as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_DISABLE_XET": "1",
               "HF_HUB_OFFLINE": "0"}
        async with custom_client(env=env) as client:
            tree = {"model": {"path": str(answer_model), "contextSize": 1024},
                    "completion": {"debounceMs": 0, "alternatives": 1}}
            await client.initialize_session(types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"), initialization_options={"infill": tree}))
            await wait_ready(client)
            uri = open_doc(client, "x =")
            params = inline_params(uri, 0, 3)
            first = await client.text_document_inline_completion_async(params)
            again = await client.text_document_inline_completion_async(params)  # the same context: the cache
            hits = statuses(client)[-1]["stats"]["cacheHits"]
            settings_change(client, {**tree, "model": {"repo": "org/big", "file": "big.gguf"}})
            await wait_status(client, lambda s: s["message"].startswith("downloading"))
            during = await client.text_document_inline_completion_async(params)
            after = statuses(client)[-1]
    assert [r.items[0].insert_text if r else None for r in (first, again)] == [" 42", " 42"]
    assert hits == 1
    assert not (during.items if isinstance(during, types.InlineCompletionList) else during), during
    assert after["state"] == "loading" and after["stats"]["cacheHits"] == hits


async def test_a_model_file_replaced_on_disk_is_never_answered_for_from_the_cache(
    answer_model: Path, endless_model: Path, tmp_path: Path
) -> None:
    """The model file is overwritten with another model while the editor is idle; the next request repeats a context
    whose answer is cached. The old model's answer must not be served: the request reaches the engine, which finds
    the file changed and is loaded again."""
    model = tmp_path / "model.gguf"
    model.write_bytes(answer_model.read_bytes())
    async with custom_client() as client:
        tree = {"model": {"path": str(model), "contextSize": 1024},
                "completion": {"debounceMs": 0, "alternatives": 1, "maxTokens": 3}}
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"), initialization_options={"infill": tree}))
        await wait_ready(client)
        uri = open_doc(client, "x =")
        params = inline_params(uri, 0, 3)
        first = await client.text_document_inline_completion_async(params)
        model.write_bytes(endless_model.read_bytes())  # another model at the same path
        again = await client.text_document_inline_completion_async(params)
        hits = statuses(client)[-1]["stats"]["cacheHits"]
    assert first is not None and first.items[0].insert_text == " 42"
    assert hits == 0
    assert not (again.items if again is not None else []) or again.items[0].insert_text != " 42", again
