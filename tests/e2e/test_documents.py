"""The server's copy of a document over LSP: lines end only at \\n, \\r\\n and \\r, in the negotiated encoding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import inline_params, open_doc, wait_ready

BREAK = re.compile(r"\r\n|\r|\n")


def position_of(text: str, index: int, encoding: str) -> types.Position:
    """The LSP position of `text[index]` in `encoding`'s code units."""
    before = BREAK.split(text[:index])
    line = before[-1]
    if encoding == types.PositionEncodingKind.Utf8:
        units = len(line.encode("utf-8"))
    elif encoding == types.PositionEncodingKind.Utf32:
        units = len(line)
    else:
        units = len(line.encode("utf-16-le")) // 2
    return types.Position(len(before) - 1, units)


@pytest.mark.parametrize("editor", ["visual-studio-code", "neovim"])
async def test_edits_and_a_completion_after_form_feeds(client: LanguageClient, answer_model: Path, editor: str) -> None:
    """Keystrokes below `\\f` lines (as in fourteen modules of the standard library), then a completion there:
    the scripted model answers ` 42` only if the server's copy and the cursor are where the editor has them."""
    options = {"infill": {"model": {"path": str(answer_model), "contextSize": 1024},
                          "completion": {"debounceMs": 0, "alternatives": 1}}}
    result = await client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities(editor), initialization_options=options)
    )
    encoding = result.capabilities.position_encoding or types.PositionEncodingKind.Utf16
    await wait_ready(client)
    text = "import os\n\f\n# 🎉 好 \f\r\ndef f():\n    \n"
    uri = open_doc(client, text)
    cursor = text.index("    \n") + 4
    for version, ch in enumerate("x =", start=2):
        here = position_of(text, cursor, encoding)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangePartial(types.Range(here, here), ch)],
        ))
        text = text[:cursor] + ch + text[cursor:]
        cursor += 1
    here = position_of(text, cursor, encoding)
    assert here.line == 4  # LSP's line, where str.splitlines counts 6
    answer = await client.text_document_inline_completion_async(inline_params(uri, here.line, here.character))
    assert isinstance(answer, types.InlineCompletionList)
    assert [item.insert_text for item in answer.items] == [" 42"]
    assert answer.items[0].range == types.Range(here, here)
