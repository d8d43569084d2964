"""Cross-file context over LSP: another open document reaches the prompt, and a keystroke still evaluates only
the new tokens (the block stays put while typing; when its source changes it costs about its own tokens)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import inline_params, open_doc, settings_change, start, statuses

OTHER = "def total_price(items, tax_rate):\n    subtotal = sum(item.price for item in items)\n" \
        "    return subtotal * (1 + tax_rate)\n"
MAIN = "from shop import total_price\n\n\ndef checkout(cart):\n    "
TYPED = "return total_price(cart.items, 0.2)"


def edit(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text)]))


async def ask(client: LanguageClient, uri: str, text: str) -> dict[str, int]:
    """Ask at the end of `text`; the figures of the model call it made (or {} when none ran)."""
    calls = statuses(client)[-1]["stats"]["modelCalls"] if statuses(client) else 0
    line = text.count("\n")
    await client.text_document_inline_completion_async(inline_params(uri, line, len(text.split("\n")[-1])))
    status = statuses(client)[-1]
    return status["last"] if status["stats"]["modelCalls"] > calls else {}


async def type_main(client: LanguageClient, uri: str) -> list[dict[str, int]]:
    calls = []
    for n in range(1, len(TYPED) + 1):
        text = MAIN + TYPED[:n]
        edit(client, uri, n + 1, text)
        last = await ask(client, uri, text)
        if last:
            calls.append(last)
    return calls


async def test_another_open_document_reaches_the_prompt_and_typing_stays_cheap(
    client: LanguageClient, context_model: Path
) -> None:
    await start(client, context_model, maxTokens=4)
    main = open_doc(client, MAIN, uri="file:///work/main.py")
    alone = await ask(client, main, MAIN)
    open_doc(client, OTHER, uri="file:///work/shop.py")
    edit(client, main, 1, MAIN + "\n")  # a new version, so no cached answer
    edit(client, main, 1, MAIN)
    with_other = await ask(client, main, MAIN)
    calls = await type_main(client, main)
    assert with_other["promptTokens"] > alone["promptTokens"] + 20, (alone, with_other)
    assert len(calls) >= 10
    assert statistics.median(c["evaluatedTokens"] for c in calls) <= 8, calls
    assert max(c["evaluatedTokens"] for c in calls) <= 8, calls


async def test_context_off(client: LanguageClient, context_model: Path) -> None:
    await start(client, context_model, maxTokens=4)
    settings_change(client, {"model": {"path": str(context_model), "contextSize": 1024},
                             "completion": {"debounceMs": 0, "maxTokens": 4}, "context": {"enable": False}})
    main = open_doc(client, MAIN, uri="file:///work/main.py")
    alone = await ask(client, main, MAIN)
    open_doc(client, OTHER, uri="file:///work/shop.py")
    renamed = MAIN.replace("cart", "bag")  # another text: no cached answer
    again = await ask(client, open_doc(client, renamed, uri="file:///work/main2.py"), renamed)
    assert alone and again, statuses(client)[-3:]
    assert abs(again["promptTokens"] - alone["promptTokens"]) <= 2


async def test_a_changed_source_keeps_the_suffix_cached(client: LanguageClient, context_model: Path) -> None:
    """Editing the other file changes the block (in whole chunks); the suffix-first prompt keeps the suffix
    before it, so the request after it evaluates the block and the prefix, not the suffix."""
    await start(client, context_model, maxTokens=4)
    other = open_doc(client, OTHER, uri="file:///work/shop.py")
    after = "\n".join(f"line_{i} = total_price([], {i})" for i in range(60)) + "\n"
    main = open_doc(client, MAIN + "\n" + after, uri="file:///work/main.py")
    first = await ask(client, main, MAIN)
    edit(client, other, 2, OTHER.replace("tax_rate", "vat"))
    changed = await ask(client, main, MAIN)
    assert first and changed, statuses(client)[-3:]
    assert changed["reusedTokens"] > changed["promptTokens"] // 2, (first, changed)  # the suffix, most of it


def folders_change(client: LanguageClient, added: list[Path], removed: list[Path]) -> None:
    def folder(path: Path) -> types.WorkspaceFolder:
        return types.WorkspaceFolder(uri=path.as_uri(), name=path.name)

    client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
        types.WorkspaceFoldersChangeEvent(added=[folder(p) for p in added], removed=[folder(p) for p in removed])))


SHOP_TS = "export function totalPrice(items: Item[], taxRate: number): number {\n" \
          "  const subtotal = items.reduce((sum, item) => sum + item.price, 0)\n  return subtotal * (1 + taxRate)\n}\n"
MAIN_TS = "import { totalPrice } from './shop'\n\n\nexport function checkout(cart: Cart) {\n  "


@pytest.mark.parametrize(
    ("other", "other_text", "main", "main_text"),
    [
        pytest.param("shop.py", OTHER, "main.py", MAIN, id="python"),
        pytest.param("shop.ts", SHOP_TS, "main.ts", MAIN_TS, id="typescript"),
    ],
)
async def test_a_workspace_folder_added_and_removed_later(
    client: LanguageClient, context_model: Path, tmp_path: Path, other: str, other_text: str, main: str,
    main_text: str,
) -> None:
    """A folder announced after `initialize` (Neovim adds one per project root) lends its files' definitions
    to the imports source; once removed, nothing is read from it."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / other).write_text(other_text)
    await start(client, context_model, maxTokens=4)
    uri = open_doc(client, main_text, uri=(root / main).as_uri())
    prompts = []
    for version, (added, removed) in enumerate([([], []), ([root], []), ([], [root])], start=2):
        folders_change(client, added, removed)
        text = main_text.replace("cart", f"cart{version}")  # another text each time: no cached answer
        edit(client, uri, version, text)
        last = await ask(client, uri, text)
        assert last, statuses(client)[-3:]
        prompts.append(last["promptTokens"])
    alone, with_folder, removed_again = prompts
    assert with_folder > alone + 20, prompts
    assert abs(removed_again - alone) <= 2, prompts
