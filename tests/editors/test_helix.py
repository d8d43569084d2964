"""infill-ls as Helix sees it: the real server over stdio, with Helix's client capabilities.

Helix has no inline completion, so the model's text reaches it as one completion-menu item. These tests
check that item the way Helix uses it (helix-term/src/ui/completion.rs, helix-lsp/src/lib.rs):

* which items it shows: it fuzzy-matches the word before the cursor (alphanumeric or `_` characters)
  against `filterText`;
* what it inserts: the `textEdit`, whose range is converted with the negotiated position encoding,
  replacing the text between the range's start and the cursor;
* that the inserted text does not repeat what follows the cursor.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import converters, types
from pytest_lsp import ClientServerConfig, LanguageClient

from infill_ls.config import parse_settings, to_wire

from ..conftest import write_tiny_model

LANGUAGES_TOML = Path(__file__).resolve().parents[2] / "editors" / "helix" / "languages.toml"
HELIX_README = LANGUAGES_TOML.with_name("README.md")
SERVER = [sys.executable, "-m", "infill_ls"]
READY_TIMEOUT = 120.0

# What the scripted model writes after any prompt: `_sum)` and the end-of-infill token.
SCRIPTED_TEXT = "_sum"


def helix_capabilities(position_encodings: list[str]) -> types.ClientCapabilities:
    """The capabilities Helix 24.07/25.01 sends in `initialize` (helix-lsp/src/client.rs), as JSON.

    No `inlineCompletion`; completion items without snippets.
    """
    symbol_kinds = list(range(1, 27))
    raw = {
        "workspace": {
            "configuration": True,
            "didChangeConfiguration": {"dynamicRegistration": False},
            "workspaceFolders": True,
            "applyEdit": True,
            "symbol": {"dynamicRegistration": False, "symbolKind": {"valueSet": symbol_kinds}},
            "executeCommand": {"dynamicRegistration": False},
            "inlayHint": {"refreshSupport": False},
            "workspaceEdit": {
                "documentChanges": True,
                "resourceOperations": ["create", "rename", "delete"],
                "failureHandling": "abort",
                "normalizesLineEndings": False,
            },
            "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": True},
            "fileOperations": {
                "willCreate": True,
                "didCreate": True,
                "willRename": True,
                "didRename": True,
                "willDelete": True,
                "didDelete": True,
            },
            "diagnostics": {"refreshSupport": True},
        },
        "textDocument": {
            "completion": {
                "completionItem": {
                    "snippetSupport": False,
                    "resolveSupport": {"properties": ["documentation", "detail", "additionalTextEdits"]},
                    "insertReplaceSupport": True,
                    "deprecatedSupport": True,
                    "tagSupport": {"valueSet": [1]},
                },
                "completionItemKind": {},
            },
            "hover": {"contentFormat": ["markdown"]},
            "signatureHelp": {
                "signatureInformation": {
                    "documentationFormat": ["markdown"],
                    "parameterInformation": {"labelOffsetSupport": True},
                    "activeParameterSupport": True,
                }
            },
            "rename": {"dynamicRegistration": False, "prepareSupport": True, "honorsChangeAnnotations": False},
            "formatting": {"dynamicRegistration": False},
            "codeAction": {
                "codeActionLiteralSupport": {
                    "codeActionKind": {
                        "valueSet": [
                            "",
                            "quickfix",
                            "refactor",
                            "refactor.extract",
                            "refactor.inline",
                            "refactor.rewrite",
                            "source",
                            "source.organizeImports",
                            "source.fixAll",
                        ]
                    }
                },
                "isPreferredSupport": True,
                "disabledSupport": True,
                "dataSupport": True,
                "resolveSupport": {"properties": ["edit", "command"]},
            },
            "diagnostic": {"dynamicRegistration": False, "relatedDocumentSupport": True},
            "publishDiagnostics": {"versionSupport": True, "tagSupport": {"valueSet": [1, 2]}},
            "inlayHint": {"dynamicRegistration": False},
            "documentLink": {"dynamicRegistration": False, "tooltipSupport": False},
            "callHierarchy": {"dynamicRegistration": False},
            "documentSymbol": {
                "dynamicRegistration": False,
                "symbolKind": {"valueSet": symbol_kinds},
                "hierarchicalDocumentSymbolSupport": False,
            },
        },
        "window": {
            "showMessage": {"messageActionItem": {"additionalPropertiesSupport": True}},
            "workDoneProgress": True,
            "showDocument": {"support": True},
        },
        "general": {"positionEncodings": position_encodings},
    }
    return converters.get_converter().structure(raw, types.ClientCapabilities)


HELIX_ENCODINGS = ["utf-8", "utf-32", "utf-16"]


def units(text: str, encoding: str) -> int:
    """Length of `text` in code units of an LSP position encoding."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def to_index(line: str, character: int, encoding: str) -> int:
    """str index in `line` of an LSP character offset (what helix_lsp::util::lsp_pos_to_pos does)."""
    for i in range(len(line) + 1):
        if units(line[:i], encoding) >= character:
            assert units(line[:i], encoding) == character, "position inside a character"
            return i
    raise AssertionError(f"character {character} is past the end of {line!r}")


def helix_word_before(text: str) -> str:
    """The fragment Helix filters with: the word characters right before the cursor (chars::char_is_word)."""
    i = len(text)
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return text[i:]


def fuzzy_matches(pattern: str, candidate: str) -> bool:
    """Whether Helix's fuzzy matcher can match: the pattern's characters in order, case ignored."""
    it = iter(candidate.lower())
    return all(ch in it for ch in pattern.lower())


# Helix announces no completionItem.documentationFormat, yet renders MarkupContent by its `kind`
# (helix-term/src/ui/completion.rs), so markdown documentation is fine for it.
pytestmark = pytest.mark.filterwarnings("ignore:Client does not support documentation format")


def test_readme_engine_snippet() -> None:
    """editors/helix/README.md: the one table that points Helix at a shared inference server (issue 13)."""
    blocks = re.findall(r"```toml\n(.*?)```", HELIX_README.read_text(), re.S)
    snippet = next(b for b in blocks if ".engine]" in b)
    config = tomllib.loads(snippet)["language-server"]["infill"]["config"]
    settings, errors = parse_settings(config["infill"])
    assert errors == [], errors
    assert to_wire(settings)["engine"]["url"] == "http://gpu-box:8080"


def test_readme_exclude_snippet() -> None:
    """editors/helix/README.md: `exclude` is a list directly under `infill` (issue 21)."""
    blocks = re.findall(r"```toml\n(.*?)```", HELIX_README.read_text(), re.S)
    snippet = next(b for b in blocks if "exclude" in b)
    settings, errors = parse_settings(tomllib.loads(snippet)["language-server"]["infill"]["config"]["infill"])
    assert (settings.exclude, errors) == (("*.vault", "!.env.example"), [])


def test_languages_toml_example() -> None:
    """editors/helix/languages.toml: infill beside each language's server, completion only, valid settings."""
    data = tomllib.loads(LANGUAGES_TOML.read_text())
    server = data["language-server"]["infill"]
    assert server["command"] == "infill-ls"
    settings, errors = parse_settings(server["config"]["infill"])
    assert errors == [], errors
    assert set(server["config"]) == {"infill"}
    assert settings.completion.menu == "auto"

    engine = {"url": "", "api": "auto", "model": "", "timeoutMs": 30000, "speculate": False, "caFile": ""}
    assert to_wire(settings)["engine"] == engine

    languages = {lang["name"]: lang["language-servers"] for lang in data["language"]}
    assert {"python", "rust", "typescript", "go", "c"} <= set(languages)
    for name, servers in languages.items():
        own, infill = servers[0], servers[-1]
        assert isinstance(own, str) and own != "infill", f"{name}: its own server comes first"
        assert infill == {"name": "infill", "only-features": ["completion"]}, name


@pytest_lsp.fixture(config=ClientServerConfig(SERVER))
async def helix(lsp_client: LanguageClient) -> AsyncIterator[LanguageClient]:
    yield lsp_client
    await lsp_client.shutdown_session()


@pytest.fixture(scope="session")
def scripted_model(models_dir: Path) -> Path:
    """Writes `_sum)` after any prompt, then ends the infill: the `)` repeats what follows the cursor."""
    return write_tiny_model(
        models_dir / "helix-scripted.gguf",
        script={SCRIPTED_TEXT: ")", ")": "▁<EOT>"},
        default=SCRIPTED_TEXT,
    )


class HelixSession:
    """What Helix does around one server: initialize, push `config`, open documents, ask for completions."""

    def __init__(self, client: LanguageClient, model: Path) -> None:
        self.client = client
        self.config = {"infill": {"model": {"path": str(model)}, "completion": {"debounceMs": 0}}}
        self.statuses: list[Any] = []
        self.encoding = "utf-16"
        self.versions: dict[str, int] = {}
        self.texts: dict[str, str] = {}

    async def start(self, position_encodings: list[str]) -> types.InitializeResult:
        @self.client.feature("infill/status")
        def on_status(params: Any) -> None:
            self.statuses.append(params)

        # workspace/configuration is answered from `config`, section by section.
        self.client.set_configuration(self.config)
        root = Path.cwd()
        result = await self.client.initialize_session(
            types.InitializeParams(
                capabilities=helix_capabilities(position_encodings),
                initialization_options=self.config,
                root_uri=root.as_uri(),
                root_path=str(root),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                client_info=types.ClientInfo(name="helix", version="25.01"),
            )
        )
        # Helix sends the config again right after `initialized`.
        self.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=self.config))
        self.encoding = str(result.capabilities.position_encoding or "utf-16")
        await self.wait_ready()
        return result

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            states = [status_field(s, "state") for s in self.statuses]
            assert "error" not in states, self.statuses
            if "ready" in states:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the server did not report ready: {self.statuses}")

    def open(self, text: str, name: str = "example.py") -> str:
        uri = (Path.cwd() / name).as_uri()
        self.versions[uri] = 0
        self.texts[uri] = text
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 0, text))
        )
        return uri

    def type(self, uri: str, line: int, column: int, text: str) -> None:
        """Insert `text` at (line, str column), sent as Helix does: an incremental change."""
        lines = self.texts[uri].split("\n")
        at = types.Position(line, units(lines[line][:column], self.encoding))
        lines[line] = lines[line][:column] + text + lines[line][column:]
        self.texts[uri] = "\n".join(lines)
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[types.TextDocumentContentChangePartial(range=types.Range(at, at), text=text)],
            )
        )

    def position(self, uri: str, line: int, column: int) -> types.Position:
        return types.Position(line, units(self.texts[uri].split("\n")[line][:column], self.encoding))

    async def complete(
        self, uri: str, line: int, column: int, kind: types.CompletionTriggerKind = types.CompletionTriggerKind.Invoked
    ) -> types.CompletionList:
        result = await self.client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri),
                position=self.position(uri, line, column),
                context=types.CompletionContext(trigger_kind=kind),
            )
        )
        assert isinstance(result, types.CompletionList), result
        return result


def status_field(status: Any, key: str) -> Any:
    return status[key] if isinstance(status, dict) else getattr(status, key)


def apply_as_helix(session: HelixSession, uri: str, line: int, column: int, item: types.CompletionItem) -> str:
    """The cursor line after Helix applies `item` with the cursor at (line, str column)."""
    edit = item.text_edit
    assert isinstance(edit, types.TextEdit), "Helix needs a plain TextEdit here"
    text = session.texts[uri].split("\n")[line]
    assert edit.range.start.line == edit.range.end.line == line
    start = to_index(text, edit.range.start.character, session.encoding)
    end = to_index(text, edit.range.end.character, session.encoding)
    assert end == column, "the edit must end at the cursor"
    return text[:start] + edit.new_text + text[end:]


def check_menu_item(session: HelixSession, uri: str, line: int, column: int, result: types.CompletionList) -> Any:
    """Checks every completion item must pass for Helix; returns the one item."""
    assert result.is_incomplete is True, "Helix must ask again on the next keystroke"
    assert len(result.items) == 1, result.items
    item = result.items[0]
    text = session.texts[uri].split("\n")[line]
    before = text[:column]
    word = helix_word_before(before)

    # No snippets: Helix announced snippetSupport false.
    assert item.insert_text_format in (None, types.InsertTextFormat.PlainText)
    assert item.kind == types.CompletionItemKind.Text
    assert item.preselect is True
    assert item.detail and "infill" in item.detail
    assert "\n" not in item.label and item.label.strip()

    # Range: from the start of the word before the cursor to the cursor, in the negotiated encoding.
    edit = item.text_edit
    assert isinstance(edit, types.TextEdit)
    assert edit.range.start == types.Position(line, units(before[: len(before) - len(word)], session.encoding))
    assert edit.range.end == types.Position(line, units(before, session.encoding))
    assert edit.new_text.startswith(word)

    # Helix shows the item only when the typed word fuzzy-matches filterText.
    assert item.filter_text is not None
    assert item.filter_text.startswith(word)
    assert item.filter_text == edit.new_text
    assert fuzzy_matches(word, item.filter_text)

    doc = item.documentation
    assert isinstance(doc, types.MarkupContent) and doc.kind == types.MarkupKind.Markdown
    assert edit.new_text[len(word) :] in doc.value
    return item


CASES = {
    "ascii": ("total = valu", ")"),
    "cjk-emoji-before-word": ('label = "日本語😀" + valu', ")"),
    "cjk-word": ('label = "😀" + 値', ")"),
    # No space before the cursor: the scripted model writes `_sum` whatever it is shown, and after a space token
    # healing (completion/prompt.py) makes its first token begin with that space.
    "no-word": ('print("日本😀",', ")"),
}


@pytest.mark.parametrize("encodings", [HELIX_ENCODINGS, ["utf-16"]], ids=["helix", "utf-16-only"])
@pytest.mark.parametrize("before,after", list(CASES.values()), ids=list(CASES))
async def test_menu_item_as_helix_applies_it(
    helix: LanguageClient, scripted_model: Path, encodings: list[str], before: str, after: str
) -> None:
    session = HelixSession(helix, scripted_model)
    result = await session.start(encodings)
    assert session.encoding == encodings[0], "the server should take the client's first encoding"
    assert result.capabilities.completion_provider is not None

    uri = session.open(f"def f(values):\n    {before}{after}\n")
    line, column = 1, len("    " + before)
    item = check_menu_item(session, uri, line, column, await session.complete(uri, line, column))

    word = helix_word_before("    " + before)
    assert item.text_edit.new_text == word + SCRIPTED_TEXT
    applied = apply_as_helix(session, uri, line, column, item)
    # The model wrote `_sum)`; the `)` already follows the cursor and must not be inserted again.
    assert applied == f"    {before}{SCRIPTED_TEXT}{after}"


async def test_typing_on_asks_again_and_keeps_the_word_start(helix: LanguageClient, scripted_model: Path) -> None:
    """isIncomplete: Helix re-requests on every keystroke; the word grows, its start stays put."""
    session = HelixSession(helix, scripted_model)
    await session.start(HELIX_ENCODINGS)
    before = 'label = "日本語😀" + va'
    uri = session.open(f"def f(values):\n    {before})\n")
    line, column = 1, len("    " + before)
    first = check_menu_item(session, uri, line, column, await session.complete(uri, line, column))

    session.type(uri, line, column, "l")
    column += 1
    again = await session.complete(uri, line, column, types.CompletionTriggerKind.TriggerForIncompleteCompletions)
    second = check_menu_item(session, uri, line, column, again)
    assert second.text_edit.range.start == first.text_edit.range.start
    assert second.filter_text.startswith("val")


async def test_random_model_items_are_well_formed(helix: LanguageClient, tiny_model: Path) -> None:
    """With the random test model the text is arbitrary; the item's shape and range still hold."""
    session = HelixSession(helix, tiny_model)
    await session.start(HELIX_ENCODINGS)
    uri = session.open('def f(values):\n    s = "日本語😀" + valu\n    return s\n')
    line, column = 1, len('    s = "日本語😀" + valu')
    result = await session.complete(uri, line, column)
    if not result.items:
        pytest.skip("the random model had nothing to say here")
    item = check_menu_item(session, uri, line, column, result)
    applied = apply_as_helix(session, uri, line, column, item)
    assert applied.startswith('    s = "日本語😀" + valu')
    assert applied.endswith(item.text_edit.new_text[len("valu") :])
