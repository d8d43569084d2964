"""LSP lines in the server's documents: positions and incremental edits around characters that
`str.splitlines` breaks on but LSP does not (form feed and friends), with emoji, CJK and CRLF, in every
position encoding pygls negotiates."""

from __future__ import annotations

import re

import pytest
from lsprotocol import types
from pygls.workspace import PositionCodec

from infill_ls.documents import LspDocument, LspWorkspace, lsp_lines

CURSOR = "‸"
START, END = "«", "»"
ENCODINGS = [types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16, types.PositionEncodingKind.Utf32]
BREAK = re.compile(r"\r\n|\r|\n")
"""The only line breaks of LSP."""


def units(text: str, encoding: types.PositionEncodingKind) -> int:
    """Length of `text` in the encoding's code units."""
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8"))
    if encoding == types.PositionEncodingKind.Utf16:
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def position_of(text: str, index: int, encoding: types.PositionEncodingKind) -> types.Position:
    """The LSP position of `text[index]`, counted from the definition: lines end at \\n, \\r\\n, \\r only."""
    before = BREAK.split(text[:index])
    return types.Position(len(before) - 1, units(before[-1], encoding))


def document(text: str, encoding: types.PositionEncodingKind) -> LspDocument:
    return LspDocument("file:///t.py", text, version=1, position_codec=PositionCodec(encoding=encoding))


@pytest.mark.parametrize("encoding", ENCODINGS, ids=["utf-8", "utf-16", "utf-32"])
@pytest.mark.parametrize(
    ("marked", "line"),
    [
        pytest.param("a\fb\nc‸d", 1, id="after-form-feed"),
        pytest.param("\f\nclass A:\n    pass‸\n", 2, id="form-feed-line-then-code"),
        pytest.param("a\vb\x1cc\x1dd\x1ee\x85f\u2028g\u2029h‸i\n", 0, id="all-splitlines-only-breaks"),
        pytest.param("x = '🎉'‸\n", 0, id="emoji"),
        pytest.param("🎉\f🎉\n🎉‸", 1, id="emoji-after-form-feed"),
        pytest.param("好\r\n世‸界", 1, id="cjk-crlf"),
        pytest.param("a\rb\r\n\f‸", 2, id="cr-crlf-form-feed"),
        pytest.param("a\f\r\n‸", 1, id="end-of-file-after-crlf"),
    ],
)
def test_positions_count_lsp_lines(marked: str, line: int, encoding: types.PositionEncodingKind) -> None:
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "")
    doc = document(text, encoding)
    position = position_of(text, offset, encoding)
    assert position.line == line
    assert doc.offset_at_position(position) == offset
    assert doc.client_position_at_offset(offset) == position
    assert "".join(doc.lines) == text
    parts = BREAK.split(text)
    assert len(doc.lines) == len(parts) - (parts[-1] == "")  # no empty line after a final break


@pytest.mark.parametrize("encoding", ENCODINGS, ids=["utf-8", "utf-16", "utf-32"])
@pytest.mark.parametrize(
    ("marked", "new_text"),
    [
        pytest.param("\f\ndef f():\n    «»\n", "x = 1", id="insert-after-form-feed-line"),
        pytest.param("a\fb\nc«d»e\n", "🎉", id="replace-after-inline-form-feed"),
        pytest.param("\x1c\x1d\x1e\x85\u2028\u2029\nz«»", "好", id="insert-after-other-breakers"),
        pytest.param("🎉\f\r\n«好\r\n世»\r\n", "", id="delete-across-crlf-after-form-feed"),
        pytest.param("a\f«b\nc»\fd", "x\ny", id="replace-across-lines-around-form-feeds"),
        pytest.param("a\rb«»", "\r", id="insert-after-cr"),
        pytest.param("a\f\n«»", "tail", id="append-at-end"),
    ],
)
def test_incremental_edits_after_form_feeds(marked: str, new_text: str, encoding: types.PositionEncodingKind) -> None:
    start, end = marked.index(START), marked.index(END) - 1
    text = marked.replace(START, "").replace(END, "")
    doc = document(text, encoding)
    change = types.TextDocumentContentChangePartial(
        range=types.Range(position_of(text, start, encoding), position_of(text, end, encoding)), text=new_text
    )
    doc.apply_change(change)
    assert doc.source == text[:start] + new_text + text[end:]


@pytest.mark.parametrize("encoding", ENCODINGS, ids=["utf-8", "utf-16", "utf-32"])
def test_typing_after_a_form_feed_keeps_the_copy_right(encoding: types.PositionEncodingKind) -> None:
    """Keystroke by keystroke, as an editor sends them, below a `\\f` line."""
    text = "import os\n\f\n# 🎉 好\f\ndef f():\n    \n"
    doc = document(text, encoding)
    cursor = text.index("    \n") + 4
    for ch in "x = '🎉'":
        here = position_of(text, cursor, encoding)
        doc.apply_change(types.TextDocumentContentChangePartial(range=types.Range(here, here), text=ch))
        text = text[:cursor] + ch + text[cursor:]
        cursor += len(ch)
        assert doc.source == text
    assert doc.offset_at_position(position_of(text, cursor, encoding)) == cursor


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        pytest.param("", (), id="empty"),
        pytest.param("a", ("a",), id="no-break"),
        pytest.param("a\n", ("a\n",), id="lf"),
        pytest.param("a\r\nb", ("a\r\n", "b"), id="crlf"),
        pytest.param("a\rb\r", ("a\r", "b\r"), id="cr"),
        pytest.param("\r\r\n\n", ("\r", "\r\n", "\n"), id="cr-then-crlf"),
        pytest.param("a\fb\vc\x85d\u2028e\n", ("a\fb\vc\x85d\u2028e\n",), id="no-lsp-break"),
    ],
)
def test_lsp_lines(text: str, lines: tuple[str, ...]) -> None:
    assert lsp_lines(text) == lines


def test_workspace_creates_lsp_documents() -> None:
    workspace = LspWorkspace(None, position_encoding=types.PositionEncodingKind.Utf16)
    workspace.put_text_document(types.TextDocumentItem("file:///w.py", "python", 1, "a\fb\n"))
    doc = workspace.get_text_document("file:///w.py")
    assert isinstance(doc, LspDocument) and doc.lines == ("a\fb\n",)
    assert doc.position_codec is workspace.position_codec
