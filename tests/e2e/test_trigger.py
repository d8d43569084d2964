"""Eagerness over LSP (issue 25): `infill.completion.trigger` and `triggerLanguages` make automatic requests in a
manual language get no item and no model call, while Invoked ones are answered; a settings change applies at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import idle, inline_params, settings_change, start

SOURCE = "def f():\n    x =\n"


def open_as(client: LanguageClient, language: str, uri: str = "file:///work/doc") -> str:
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, SOURCE)))
    return uri


async def items(client: LanguageClient, uri: str, automatic: bool, kind: str = "inline") -> list[str]:
    if kind == "menu":
        trigger = types.CompletionTriggerKind.TriggerCharacter if automatic else types.CompletionTriggerKind.Invoked
        menu = await client.text_document_completion_async(types.CompletionParams(
            types.TextDocumentIdentifier(uri), types.Position(1, 7), types.CompletionContext(trigger, " ")))
        assert isinstance(menu, types.CompletionList)
        return [item.label for item in menu.items]
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 7, automatic))
    assert isinstance(result, types.InlineCompletionList)
    return [str(item.insert_text) for item in result.items]


@pytest.mark.parametrize(
    ("settings", "language", "automatic", "kind", "answered"),
    [
        pytest.param({}, "python", True, "inline", True, id="default-python-automatic"),
        pytest.param({}, "markdown", True, "inline", False, id="default-markdown-automatic-none"),
        pytest.param({}, "plaintext", True, "inline", False, id="default-plaintext-automatic-none"),
        pytest.param({}, "markdown", False, "inline", True, id="default-markdown-invoked"),
        pytest.param({"trigger": "manual"}, "python", True, "inline", False, id="manual-automatic-none"),
        pytest.param({"trigger": "manual"}, "python", False, "inline", True, id="manual-invoked"),
        pytest.param({"trigger": "manual", "triggerLanguages": {"python": "auto"}}, "python", True, "inline", True,
                     id="language-auto-overrides-manual"),
        pytest.param({"triggerLanguages": {"python": "manual"}}, "python", True, "inline", False,
                     id="language-manual-overrides-auto"),
        pytest.param({"triggerLanguages": {}}, "markdown", True, "inline", True, id="no-overrides-markdown-auto"),
        pytest.param({"menu": "always"}, "markdown", True, "menu", False, id="menu-markdown-automatic-none"),
        pytest.param({"menu": "always"}, "markdown", False, "menu", True, id="menu-markdown-invoked"),
    ],
)
async def test_trigger_table(client: LanguageClient, answer_model: Path, settings: dict[str, Any], language: str,
                             automatic: bool, kind: str, answered: bool) -> None:
    await start(client, answer_model, **settings)
    uri = open_as(client, language)
    got = await items(client, uri, automatic, kind)
    assert bool(got) == answered, got
    stats = (await idle(client))["stats"]
    assert stats["modelCalls"] == int(answered), stats


async def test_a_settings_change_applies_without_a_restart(client: LanguageClient, answer_model: Path) -> None:
    await start(client, answer_model)
    model = {"path": str(answer_model), "contextSize": 1024}
    python = open_as(client, "python", "file:///work/a.py")
    assert await items(client, python, automatic=True) == [" 42"]
    settings_change(client, {"model": model, "completion": {"debounceMs": 0, "alternatives": 1, "trigger": "manual"}})
    other = open_as(client, "python", "file:///work/b.py")  # not the cached spot
    calls = (await idle(client))["stats"]["modelCalls"]
    assert await items(client, other, automatic=True) == []
    assert (await idle(client))["stats"]["modelCalls"] == calls
    settings_change(client, {"model": model, "completion": {"debounceMs": 0, "alternatives": 1}})
    assert await items(client, other, automatic=True) == [" 42"]
