"""A multi-line completion cut short by `maxTokens` shows only whole lines (issue 11, defect 10)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient
from tinymodel import write_tiny_model

from .conftest import inline_params, open_doc, start

# After `x =`: ` add( a`, a line break, then ` b count[ i …` (seven tokens up to `[`).
TWO_LINES = {"▁=": "▁add", "▁add": "(", "(": "▁a", "▁a": "<0x0A>", "<0x0A>": "▁b", "▁b": "▁count", "▁count": "[",
             "[": "▁i", "▁i": "▁<EOT>"}


@pytest.fixture(scope="module")
def two_lines_model(models_dir: Path) -> Path:
    return write_tiny_model(models_dir / "two-lines.gguf", script=TWO_LINES)


@pytest.mark.parametrize(
    ("max_tokens", "expected"),
    [
        pytest.param(7, " add( a", id="cut-in-second-line-drops-it"),
        pytest.param(3, " add( a", id="cut-in-first-line-kept"),
        pytest.param(9, " add( a\n b count[ i", id="finished-kept"),
    ],
)
async def test_cut_short_block_ends_at_a_whole_line(client: LanguageClient, two_lines_model: Path, max_tokens: int,
                                                    expected: str) -> None:
    await start(client, two_lines_model, multiline="always", maxTokens=max_tokens)
    # A file without a grammar: the scripted lines are not code, and a parsed language would cut them where
    # its block is complete (issue 23; tests/unit/test_endings.py); the cut here is the token limit's alone.
    uri = open_doc(client, "x =\n", "file:///work/example.txt")
    result = await client.text_document_inline_completion_async(inline_params(uri, 0, 3))
    assert isinstance(result, types.InlineCompletionList)
    assert [item.insert_text for item in result.items] == [expected]
