"""Every LSP feature: fetch the document, call the pipeline through the server, convert the result."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import TextDocument

from . import diagnostics, feedback
from .config import Menu, parse_settings
from .logs import ClientLogHandler
from .server import InfillServer

log = logging.getLogger(__name__)
WORD = re.compile(r"[\w$]+$")
MAX_DOCUMENT_CHARS = 4_000_000
LABEL_CHARS = 60
FOCUS_METHOD = "infill/didFocus"
"""Client -> server: the active document and where its cursor rests (docs/protocol.md)."""
COMPLETION_OPTIONS = types.CompletionOptions(trigger_characters=[".", "(", " ", "\n"], resolve_provider=False)
ACCEPTED = "infill.accepted"
"""The command every item carries: clients run it when the user accepts the whole suggestion."""
FEEDBACK = "infill/didFeedback"
STATS = "infill/stats"


def offers_menu(mode: Menu, capabilities: types.ClientCapabilities) -> bool:
    """Whether completion-menu items are served. `auto`: only to a client that cannot show inline completions;
    one that can would show the item in place of the ghost text and pay a second model call for it."""
    if mode != "auto":
        return mode == "always"
    text_document = capabilities.text_document
    return text_document is None or text_document.inline_completion is None


def locate(ls: InfillServer, uri: str, position: types.Position,
           level: int = logging.WARNING) -> tuple[TextDocument, int] | None:
    """The open document and the str offset of `position`, or None (logged at `level`) when either is invalid."""
    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        log.log(level, "completion for a document that is not open: %s", uri)
        return None
    source = doc.source
    if len(source) > MAX_DOCUMENT_CHARS or "\x00" in source[:8192]:
        log.log(level, "document too large or binary, not completing: %s", uri)
        return None
    lines = doc.lines
    line = lines[position.line].rstrip("\r\n") if position.line < len(lines) else None
    if line is None and not (position.line == len(lines) and position.character == 0):
        log.log(level, "position out of range: line %d of %d in %s", position.line, len(lines), uri)
        return None
    if line is not None and position.character > doc.position_codec.client_num_units(line):
        log.log(level, "position out of range: character %d on line %d of %s", position.character, position.line,
                uri)
        return None
    offset = len(source) if line is None else doc.offset_at_position(position)
    return doc, offset


def focus_target(params: Any) -> tuple[str, types.Position] | None:
    """`infill/didFocus` params (docs/protocol.md) as the URI and position, or None when they are malformed."""
    document, position = getattr(params, "textDocument", None), getattr(params, "position", None)
    uri = getattr(document, "uri", None)
    line, character = getattr(position, "line", None), getattr(position, "character", None)
    if not isinstance(uri, str) or not all(type(n) is int and 0 <= n < 2**31 for n in (line, character)):
        return None
    return uri, types.Position(line=line, character=character)  # type: ignore[arg-type]


def register(ls: InfillServer) -> None:
    diagnostics.register(ls)  # infill/diagnostics (tasks, threads, RSS) for soak tests
    plain_menu = False  # see menu_item(): the client is Neovim

    @ls.feature(types.INITIALIZE)
    def on_initialize(ls: InfillServer, params: types.InitializeParams) -> None:
        nonlocal plain_menu
        options = params.initialization_options
        ls.settings_from_init = options.get("infill") if isinstance(options, dict) else None
        plain_menu = params.client_info is not None and params.client_info.name == "Neovim"
        # The completion provider is announced only where menu items are served (the capabilities are
        # computed after this handler): a client never asks for what it would not get.
        menu = parse_settings(ls.settings_from_init)[0].completion.menu
        if offers_menu(menu, params.capabilities) and types.TEXT_DOCUMENT_COMPLETION not in ls.protocol.fm.features:
            ls.feature(types.TEXT_DOCUMENT_COMPLETION, COMPLETION_OPTIONS)(completion)

    client_log = ClientLogHandler(ls)  # the log goes to the client from `initialized` to `shutdown` (logs.py)

    @ls.feature(types.SHUTDOWN)
    def on_shutdown(ls: InfillServer, params: None) -> None:
        client_log.stop()
        ls.status.close()
        ls.feedback.store.close()

    @ls.command(ACCEPTED)
    def accepted(ls: InfillServer, *args: Any) -> None:
        """workspace/executeCommand of an item's command: the whole suggestion was accepted."""
        for arg in map(plain, args):
            if isinstance(arg, dict) and isinstance(arg.get("id"), str):
                ls.feedback.event(arg["id"], "accepted")

    @ls.feature(FEEDBACK)
    def on_feedback(ls: InfillServer, params: Any) -> None:
        parsed = feedback.parse_feedback(plain(params))
        if parsed is None:
            log.debug("%s with bad params ignored: %r", FEEDBACK, params)
            return
        ls.feedback.event(*parsed)

    @ls.feature(STATS)
    async def on_stats(ls: InfillServer, params: Any) -> feedback.Report:
        raw = plain(params)
        days = feedback.parse_days(raw.get("days", 7) if isinstance(raw, dict) else 7)
        if days is None:
            raise JsonRpcInvalidParams(f"days must be an integer from 1 to {feedback.MAX_DAYS}")
        return await ls.feedback.store.report(days)

    @ls.feature(types.INITIALIZED)
    async def on_initialized(ls: InfillServer, params: types.InitializedParams) -> None:
        client_log.start(asyncio.get_running_loop())
        # Ask first: a client that keeps its settings in workspace/configuration must not make the server
        # start loading the default model before the one it names.
        pulled = await fetch_configuration(ls)
        ls.apply_settings(pulled if pulled is not None else ls.settings_from_init)

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: InfillServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and "infill" in settings:
            ls.apply_settings(settings["infill"])
        else:
            pulled = await fetch_configuration(ls)
            if pulled is not None:
                ls.apply_settings(pulled)

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: InfillServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.document_opened(params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: InfillServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.document_changed(params.text_document.uri, params.content_changes)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: InfillServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.document_closed(params.text_document.uri)

    @ls.feature(FOCUS_METHOD)
    def on_focus(ls: InfillServer, params: Any) -> None:
        target = focus_target(params)
        found = None if target is None else locate(ls, *target, level=logging.DEBUG)
        if found is None:
            log.debug("%s ignored: %s", FOCUS_METHOD, params)
            return
        doc, offset = found
        ls.focused(doc.uri, doc.source, offset)

    @ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: InfillServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        found = locate(ls, params.text_document.uri, params.position)
        if found is None:
            return types.InlineCompletionList(items=[])
        doc, offset = found
        automatic = params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
        selected = params.context.selected_completion_info
        replace = None
        if selected is not None:
            start = doc.offset_at_position(selected.range.start)
            replace = (start, doc.offset_at_position(selected.range.end), selected.text)
        done = await ls.complete(doc.uri, "inline", doc.source, offset, automatic, replace, doc.language_id or "")
        where = selected.range if selected else types.Range(params.position, params.position)
        lead = selected.text if selected else ""  # extend a selected menu item: its range gets item + completion
        scored = [(lead + text, confidence) for text, confidence in done.scored]
        commands = suggestion_commands(ls, doc, scored)
        return types.InlineCompletionList([types.InlineCompletionItem(text, range=where, command=command)
                                           for (text, _), command in zip(scored, commands, strict=True)])

    async def completion(ls: InfillServer, params: types.CompletionParams) -> types.CompletionList | None:
        """textDocument/completion, registered by on_initialize for the clients that get menu items."""
        if not offers_menu(ls.settings.completion.menu, ls.client_capabilities):
            return None
        found = locate(ls, params.text_document.uri, params.position)
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        doc, offset = found
        invoked = params.context is not None and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        done = await ls.complete(doc.uri, "menu", doc.source, offset, automatic=not invoked,
                                 language_id=doc.language_id or "")
        item = menu_item(doc, offset, params.position, done.text, plain=plain_menu) if done.text else None
        if item is None:
            return types.CompletionList(is_incomplete=True, items=[])
        item.command = suggestion_commands(ls, doc, [(done.text, done.confidence)])[0]
        item.data = item.command.arguments[0] if item.command.arguments else None
        return types.CompletionList(is_incomplete=True, items=[item])


def suggestion_commands(
    ls: InfillServer, doc: TextDocument, scored: Sequence[tuple[str, float | None]]
) -> list[types.Command]:
    """The `infill.accepted` command of each item answered (text, confidence): a new id each, counted as
    answered for the document's language and the model."""
    ids = ls.feedback.answered(doc.language_id or "unknown", ls.model_label(), [text for text, _ in scored])
    return [accepted_command(sid, confidence) for sid, (_, confidence) in zip(ids, scored, strict=True)]


def accepted_command(sid: str, confidence: float | None) -> types.Command:
    """The command an item carries (docs/protocol.md): its id and confidence."""
    argument = {"id": sid, "confidence": None if confidence is None else round(confidence, 4)}
    return types.Command(title="infill: accepted", command=ACCEPTED, arguments=[argument])


def plain(value: Any) -> Any:
    """Params of a method pygls does not know arrive as nested namedtuples: make them the JSON they were."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def menu_item(
    doc: TextDocument, offset: int, position: types.Position, text: str, *, plain: bool = False
) -> types.CompletionItem | None:
    """One completion-menu item: replaces the word before the cursor with word + completion.

    `plain` is for Neovim, whose own completion (omnifunc, vim.lsp.completion) inserts only the first word of a
    plain textEdit's newText and shows documentation as it is: there the item has insertText (Neovim replaces
    the keyword before the cursor with all of it) and plain-text documentation, and a completion of several
    lines, which Neovim's menu cannot insert, is not offered.
    """
    if plain and "\n" in text:
        return None
    line_start = doc.source.rfind("\n", 0, offset) + 1
    word_match = WORD.search(doc.source[line_start:offset])
    word = word_match.group(0) if word_match else ""
    start = types.Position(position.line, position.character - doc.position_codec.client_num_units(word))
    first = next((line.strip() for line in text.split("\n") if line.strip()), text.strip())
    label = (word + text.split("\n", 1)[0]).strip() or first
    if len(label) > LABEL_CHARS:
        label = label[: LABEL_CHARS - 1] + "…"
    item = types.CompletionItem(
        label=label,
        label_details=types.CompletionItemLabelDetails(description="infill"),
        kind=types.CompletionItemKind.Text,
        detail="infill",
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```\n{word + text}\n```"),
        filter_text=word + text,
        sort_text="0",
        preselect=True,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=types.Range(start, position), new_text=word + text),
    )
    if plain:
        item.text_edit = None
        item.insert_text = word + text
        item.documentation = types.MarkupContent(kind=types.MarkupKind.PlainText, value=word + text)
    return item


async def fetch_configuration(ls: InfillServer) -> Any:
    """The `infill` section from workspace/configuration, or None when the client has none to give."""
    workspace = ls.client_capabilities.workspace
    if workspace is None or not workspace.configuration:
        return None
    try:
        result: Sequence[Any] = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="infill")])
        )
    except Exception as exc:
        log.warning("workspace/configuration failed: %s", exc)
        return None
    return result[0] if result and isinstance(result[0], dict) and result[0] else None
