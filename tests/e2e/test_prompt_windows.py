"""The prompt windows over LSP: the same context gives the same prompt, whatever the editor did before."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from .conftest import inline_params, open_doc, start, statuses

BODY = "\n".join(f"def helper_{i}(value):\n    return value + {i}\n" for i in range(120))
TARGET = 200
"""The line asked about last; the file's first line is far outside both windows."""


async def prompt_tokens(client: LanguageClient, uri: str, line: int) -> int:
    await client.text_document_inline_completion_async(inline_params(uri, line, 0))
    last: int = statuses(client)[-1]["last"]["promptTokens"]
    return last


@pytest.mark.parametrize(
    "visits",
    [
        pytest.param([TARGET + 40], id="below-first"),
        pytest.param([TARGET - 2], id="just-above-first"),
        pytest.param([TARGET - 30, TARGET - 2], id="walking-down"),
        pytest.param([TARGET + 2, TARGET + 1], id="walking-up"),
        pytest.param([5, 350], id="far-away"),
    ],
)
async def test_the_prompt_does_not_depend_on_lines_visited_before(
    client: LanguageClient, tiny_model: Path, visits: list[int]
) -> None:
    await start(client, tiny_model, maxTokens=1)
    fresh = open_doc(client, "# fresh\n" + BODY, uri="file:///work/fresh.py")
    visited = open_doc(client, "# visited\n" + BODY, uri="file:///work/visited.py")  # same windows, other cache key
    expected = await prompt_tokens(client, fresh, TARGET)
    for line in visits:
        await prompt_tokens(client, visited, line)
    assert await prompt_tokens(client, visited, TARGET) == expected
