"""Inline completion end to end: the real server over stdio with a tiny scripted model."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import inline_params, open_doc, start


async def test_inline_completion_inserts_model_text_at_cursor(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    uri = open_doc(client, "def f():\n    x =\n")
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 7))
    assert isinstance(result, types.InlineCompletionList)
    assert [item.insert_text for item in result.items] == [" 42"]
    assert result.items[0].range == types.Range(types.Position(1, 7), types.Position(1, 7))
