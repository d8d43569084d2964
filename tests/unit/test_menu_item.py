"""The completion-menu item: a textEdit for most clients; insertText, and one line only, for Neovim's own menu."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from infill_ls.handlers import menu_item

LINE = "total = su"


@pytest.mark.parametrize(
    ("text", "plain", "edit", "insert", "doc_kind"),
    [
        pytest.param("m(a, b)", False, "sum(a, b)", None, types.MarkupKind.Markdown, id="text-edit"),
        pytest.param("m(a)\nx = 1", False, "sum(a)\nx = 1", None, types.MarkupKind.Markdown, id="text-edit-block"),
        pytest.param("m(a, b)", True, None, "sum(a, b)", types.MarkupKind.PlainText, id="neovim-whole-text"),
        pytest.param("m(a)\nx = 1", True, None, None, None, id="neovim-no-block"),
        pytest.param("\nx = 1", True, None, None, None, id="neovim-no-leading-newline"),
    ],
)
def test_menu_item(text: str, plain: bool, edit: str | None, insert: str | None,
                   doc_kind: types.MarkupKind | None) -> None:
    doc = TextDocument("file:///t.py", LINE)
    position = types.Position(0, len(LINE))
    item = menu_item(doc, len(LINE), position, text, plain=plain)
    if doc_kind is None:
        assert item is None
        return
    assert item is not None
    new_text = item.text_edit.new_text if isinstance(item.text_edit, types.TextEdit) else None
    assert (new_text, item.insert_text) == (edit, insert)
    assert isinstance(item.documentation, types.MarkupContent) and item.documentation.kind == doc_kind
    assert item.filter_text == "su" + text
