"""Monitor-guided decoding over LSP (issue 23): after `module.` or `Class.`, where the bound file tells every name
that may follow, the suggestion begins with one of them. The endless model writes ` x` forever when left free."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from .conftest import inline_params, open_doc, start

SHAPES = (
    "class Quilt:\n    @classmethod\n    def zebra_cross(cls):\n        pass\n\n    def draw(self):\n        pass\n\n\n"
    "def zebra_cross(w):\n    return w\n\n\nQUILT_SIZE = 3\n"
)
NAME = re.compile(r"\w*")


async def suggest(client: LanguageClient, text: str) -> str:
    uri = open_doc(client, text, "file:///work/pkg/main.py")
    lines = text.split("\n")
    answer = await client.text_document_inline_completion_async(inline_params(uri, len(lines) - 1, len(lines[-1])))
    items = answer.items if answer is not None and not isinstance(answer, list) else answer or []
    return str(items[0].insert_text) if items else ""


@pytest.mark.parametrize(("text", "begins"), [
    pytest.param("from pkg import shapes\nx = shapes.", {"zebra_cross", "Quilt", "QUILT_SIZE"}, id="after-a-module"),
    pytest.param("from pkg.shapes import Quilt\nx = Quilt.", {"zebra_cross"}, id="after-a-class-its-class-methods"),
    pytest.param("from pkg import shapes\nx = shapes.QU", {"ILT_SIZE"}, id="the-rest-of-a-name-begun"),
])
async def test_the_suggestion_begins_with_a_name_the_module_defines(
    client: LanguageClient, endless_model: Path, text: str, begins: set[str]
) -> None:
    await start(client, endless_model, maxTokens=16)
    open_doc(client, SHAPES, "file:///work/pkg/shapes.py")
    got = await suggest(client, text)
    word = NAME.match(got)
    assert word is not None and word.group() in begins, got


async def test_without_the_module_open_the_model_is_free(client: LanguageClient, endless_model: Path) -> None:
    """The control: nothing tells what `shapes.` holds, and the endless model writes what it always writes."""
    await start(client, endless_model, maxTokens=16)
    got = await suggest(client, "from pkg import shapes\nx = shapes.")
    assert got.startswith(" x") or got.startswith("x"), got
