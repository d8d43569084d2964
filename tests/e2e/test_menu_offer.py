"""Who gets completion-menu items (issue 11, defect 1).

A client that shows inline completions (VS Code with vscode-languageclient ≥ 10, Neovim 0.12) gets ghost text
only: the server does not offer `textDocument/completion`, so no suggest widget takes the ghost text's place,
Tab does not insert a menu item, and a pause costs one model call. Clients without inline completion (Helix)
keep their menu item. `infill.completion.menu` overrides: "always" or "never" ("auto" by default).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import inline_params, open_doc, start, statuses, wait_status


def with_inline(name: str) -> types.ClientCapabilities:
    """Recorded capabilities of `name` plus `textDocument.inlineCompletion`, as vscode-languageclient 11 sends."""
    caps = client_capabilities(name)
    assert caps.text_document is not None
    text_document = attrs.evolve(
        caps.text_document, inline_completion=types.InlineCompletionClientCapabilities(dynamic_registration=True)
    )
    return attrs.evolve(caps, text_document=text_document)


def without_inline(name: str) -> types.ClientCapabilities:
    caps = client_capabilities(name)
    assert caps.text_document is not None and caps.text_document.inline_completion is None
    return caps


@pytest.mark.parametrize(
    ("capabilities", "menu", "offered"),
    [
        pytest.param(lambda: with_inline("visual-studio-code"), None, False, id="inline-client-default"),
        pytest.param(lambda: without_inline("neovim"), None, True, id="menu-only-client-default"),
        pytest.param(lambda: with_inline("visual-studio-code"), "always", True, id="inline-client-always"),
        pytest.param(lambda: without_inline("neovim"), "never", False, id="menu-only-client-never"),
    ],
)
async def test_completion_provider_offered_only_where_wanted(
    client: LanguageClient, answer_model: Path, capabilities: object, menu: str | None, offered: bool
) -> None:
    caps = capabilities()  # type: ignore[operator]
    options: dict[str, object] = {"model": {"path": str(answer_model), "contextSize": 1024},
                                  "completion": {"debounceMs": 0} | ({} if menu is None else {"menu": menu})}
    result = await client.initialize_session(
        types.InitializeParams(capabilities=caps, initialization_options={"infill": options})
    )
    assert (result.capabilities.completion_provider is not None) == offered, result.capabilities.completion_provider
    assert result.capabilities.inline_completion_provider is not None
    await wait_status(client, lambda s: s["state"] == "ready")


async def test_inline_client_pays_one_model_call_per_pause(client: LanguageClient, answer_model: Path) -> None:
    """What VS Code did by default: an inline and a menu request at the same spot. Only the inline one runs
    the model; a menu request (sent anyway, by a client that ignores the capabilities) is not served."""
    await start(client, answer_model, capabilities=with_inline("visual-studio-code"))
    uri = open_doc(client, "x =")
    inline = await client.text_document_inline_completion_async(inline_params(uri, 0, 3, automatic=True))
    assert [i.insert_text for i in inline.items] == [" 42"]
    with pytest.raises(JsonRpcMethodNotFound):  # not announced to this client, so not served
        await client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(0, 3))
        )
    status = await wait_status(client, lambda s: s["stats"]["requests"] >= 1 and not s["generating"])
    assert statuses(client)[-1]["stats"]["modelCalls"] == 1, status
