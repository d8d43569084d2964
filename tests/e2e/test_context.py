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


# --- issue 21: what is read from disk -----------------------------------------------------------------------------

LONG_DEF = "def connect(host, port, user, password, database, timeout, retries):\n" + "".join(
    f"    setting_{k} = configure(host, port, user, {k})\n" for k in range(12))
"""A definition long enough that whether it is in the prompt shows in the prompt's tokens."""


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


async def prompt_tokens(client: LanguageClient, root: Path, name: str, text: str) -> int:
    """The prompt's tokens of a request at the end of `text`, in a new document `name` under `root` (its own block,
    no cached answer), closed after it (an open document is context for the next)."""
    uri = open_doc(client, text, uri=(root / name).as_uri())
    last = await ask(client, uri, text)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    assert last, statuses(client)[-3:]
    return int(last["promptTokens"])


def importing(module: str, n: int) -> str:
    """A file that imports `connect` from `module`; `n` changes a name (the same tokens, another text)."""
    return f"from {module} import connect\n\n\ndef run_{n}(cart):\n    "


@pytest.mark.parametrize(
    ("rules", "read"),
    [
        pytest.param("config/\n!app/\n", False, id="a-negation-elsewhere"),
        pytest.param("config/\n!config/**\n", False, id="a-double-star-does-not-reopen-an-ignored-folder"),
        pytest.param("*\n!*/\n!*.py\n", True, id="the-whitelist-reaches-subfolders"),
    ],
)
async def test_what_git_ignores_is_never_read(
    client: LanguageClient, context_model: Path, tmp_path: Path, rules: str, read: bool
) -> None:
    """The imports source reads a module exactly when `git check-ignore` says it is not ignored: the prompt's
    tokens under `rules` are those with nothing ignored (`read`) or with the whole folder ignored."""
    root = tmp_path / "proj"
    write_files(root, {".gitignore": rules, "config/__init__.py": "", "config/db.py": LONG_DEF})
    await start(client, context_model, maxTokens=4)
    folders_change(client, [root], [])
    under_rules = await prompt_tokens(client, root, "main_1.py", importing("config.db", 1))
    (root / ".gitignore").write_text("")
    nothing_ignored = await prompt_tokens(client, root, "main_2.py", importing("config.db", 2))
    (root / ".gitignore").write_text("config/\n")
    folder_ignored = await prompt_tokens(client, root, "main_3.py", importing("config.db", 3))
    assert nothing_ignored > folder_ignored + 50, (nothing_ignored, folder_ignored)
    assert abs(under_rules - (nothing_ignored if read else folder_ignored)) <= 2, (
        under_rules, nothing_ignored, folder_ignored)


@pytest.mark.parametrize(
    "odd", [pytest.param("\f", id="form-feed"), pytest.param("\x1c", id="x1c"), pytest.param("\u2028", id="u2028")]
)
async def test_a_module_with_an_odd_line_break_lends_its_definition(
    client: LanguageClient, context_model: Path, tmp_path: Path, odd: str
) -> None:
    """A character `str.splitlines` breaks at (LSP does not) before the definition: the same prompt as without."""
    root = tmp_path / "proj"
    write_files(root, {"shop_a.py": f"# section{odd}\n{odd}\n{LONG_DEF}", "shop_b.py": f"# section\n\n{LONG_DEF}"})
    await start(client, context_model, maxTokens=4)
    folders_change(client, [root], [])
    odd_tokens = await prompt_tokens(client, root, "main_1.py", importing("shop_a", 1))
    plain_tokens = await prompt_tokens(client, root, "main_2.py", importing("shop_b", 2))
    alone = await prompt_tokens(client, root, "main_3.py", importing("shop_c", 3))
    assert plain_tokens > alone + 50, (plain_tokens, alone)
    assert abs(odd_tokens - plain_tokens) <= 2, (odd_tokens, plain_tokens)


async def test_an_import_resolves_in_its_own_workspace_folder_first(
    client: LanguageClient, context_model: Path, tmp_path: Path
) -> None:
    """Two workspace folders each hold a `shop.py`; a file in the second imports from it: its own folder's module
    is read, as when the first folder is not there."""
    first, second = tmp_path / "first", tmp_path / "secnd"
    write_files(first, {"shop.py": "def connect():\n    pass\n"})
    write_files(second, {"shop.py": LONG_DEF})
    await start(client, context_model, maxTokens=4)
    folders_change(client, [first, second], [])
    both = await prompt_tokens(client, second, "main_1.py", importing("shop", 1))
    folders_change(client, [], [first])
    alone = await prompt_tokens(client, second, "main_2.py", importing("shop", 2))
    assert abs(both - alone) <= 2, (both, alone)


async def test_a_module_changed_on_disk_lends_its_new_definition(
    client: LanguageClient, context_model: Path, tmp_path: Path
) -> None:
    """The imported file is rewritten outside the editor while the importing one stays open: the next request's
    prompt has the new definition."""
    root = tmp_path / "proj"
    write_files(root, {"shop.py": "def connect():\n    pass\n"})
    await start(client, context_model, maxTokens=4)
    folders_change(client, [root], [])
    uri = open_doc(client, importing("shop", 1), uri=(root / "main.py").as_uri())
    before = await ask(client, uri, importing("shop", 1))
    (root / "shop.py").write_text(LONG_DEF)
    edit(client, uri, 2, importing("shop", 2))  # another text (no cached answer), the same imports
    after = await ask(client, uri, importing("shop", 2))
    assert before and after, statuses(client)[-3:]
    assert after["promptTokens"] > before["promptTokens"] + 50, (before, after)


async def test_a_module_ignored_after_it_was_read_leaves_the_prompt(
    client: LanguageClient, context_model: Path, tmp_path: Path
) -> None:
    """A `.gitignore` written while the importing file stays open: the next request's prompt is without the
    module."""
    root = tmp_path / "proj"
    write_files(root, {"shop.py": LONG_DEF})
    await start(client, context_model, maxTokens=4)
    folders_change(client, [root], [])
    uri = open_doc(client, importing("shop", 1), uri=(root / "main.py").as_uri())
    before = await ask(client, uri, importing("shop", 1))
    (root / ".gitignore").write_text("shop.py\n")
    edit(client, uri, 2, importing("shop", 2))  # another text (no cached answer), the same imports
    after = await ask(client, uri, importing("shop", 2))
    assert before and after, statuses(client)[-3:]
    assert after["promptTokens"] < before["promptTokens"] - 50, (before, after)
