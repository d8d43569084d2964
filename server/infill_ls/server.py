"""The language server: the composition root. It wires the owners of the server's state together and talks
to the client; each owner is a small class testable alone:

- `ModelHost` (engine/host.py): the model thread, the current engine and its generation, loading, leases and
  the background slot;
- `Requests` (completion/requests.py): the request flow from the handler's call to the answer and the
  speculation after it; `complete` delegates to it;
- `Scheduler` (completion/scheduler.py): request streams, superseding, the debounce, shared model runs;
- `AnswerCache` (completion/answers.py): typing-through, the result cache, shown suggestions;
- `Status` (status.py): the one writer of the status figures (owners report events to it) and the coalesced
  `infill/status`;
- `Exclusions` (exclusion.py): which files are never completed in nor used as context;
- `Feedback` (feedback.py): the suggestions answered by id and the local acceptance statistics.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from . import __version__
from .completion.answers import AnswerCache
from .completion.crossfile.sources import CrossFileSources, Document, workspace_folders
from .completion.requests import Completed, FlowOptions, Requests
from .completion.scheduler import Scheduler
from .config import DEFAULT_EXCLUDE, DEFAULT_FILE, DEFAULT_REPO, ModelSettings, Settings, parse_settings
from .engine.host import ModelHost, Source
from .engine.llama import EngineOptions
from .engine.source import Opened, load, resolve, shown, source_of
from .exclusion import Exclusions
from .feedback import Feedback, StatsStore
from .jsonrpc_guard import InfillProtocol
from .models import Layout
from .status import METHOD as STATUS_METHOD
from .status import Status, StatusPayload

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerOptions:
    """What the command line fixes for the server's lifetime."""

    cli_model: str | None = None
    """`--model PATH`: used while the client names no model of its own (no path, default repo and file)."""
    layout: Layout | None = None
    """Prompt layout override (`--layout`); None picks per model family."""
    engine: EngineOptions = field(default_factory=EngineOptions)
    """How the engine evaluates prompts (`--no-kv-reuse`, `--eval-chunk`)."""
    speculate: bool = True
    """Precompute the completion that follows accepting the one just shown (on a remote engine only with
    `infill.engine.speculate`)."""


class InfillServer(LanguageServer):
    def __init__(self, options: ServerOptions | None = None, base_settings: Settings | None = None) -> None:
        super().__init__("infill-ls", __version__, protocol_cls=InfillProtocol)
        self.options = options or ServerOptions()
        self.base_settings = base_settings or Settings()
        """What the command line set; the client's tree is laid over it."""
        self.settings = self.base_settings
        """The settings tree in force."""
        self.settings_from_init: Any = None
        """The `infill` tree from initializationOptions, applied once the client is initialized."""
        self.host = ModelHost(resolve, functools.partial(load, options=self.options.engine), self)
        self.scheduler = Scheduler()
        self.answers = AnswerCache()
        self.exclusions = Exclusions(DEFAULT_EXCLUDE)
        self.sources = CrossFileSources(self.exclusions)
        self.status = Status(self.host, self.exclusions, self._notify_status)
        self.requests = Requests(self.host, self.scheduler, self.answers, self.sources, self.exclusions,
                                 self.status, self, FlowOptions(self.options.layout, self.options.speculate))
        self.requests.settings = self.settings
        self.status.configured(self.settings.completion.enable, self.model_settings())
        self.feedback = Feedback(StatsStore())
        self.warned: set[str] = set()
        """Warnings already shown once (rate limit for expected states)."""
        self.last_settings_warning = ""

    def report_server_error(self, error: Exception, source: Any) -> None:
        """The read loop reports a body it could not parse as JSON with `source` JsonRpcException: the
        protocol answers it (-32700). Every other error goes to the user as pygls does it."""
        if source is JsonRpcException and isinstance(self.protocol, InfillProtocol):
            self.protocol.answer_unreadable(error)
        else:
            super().report_server_error(error, source)

    # --- model -------------------------------------------------------------------------------------------

    def model_settings(self) -> ModelSettings:
        ms = self.settings.model
        cli = self.options.cli_model
        if cli and not ms.path and (ms.repo, ms.file) == (DEFAULT_REPO, DEFAULT_FILE):
            ms = dataclasses.replace(ms, path=cli)
        return ms

    def source(self) -> Source:
        """What the engine is made from: the model file, or the inference server of `infill.engine.url`."""
        return source_of(self.settings, self.model_settings())

    # ModelHost events

    def state_changed(self) -> None:
        self.status.changed()

    def load_failed(self, message: str) -> None:
        self.show(types.MessageType.Error, f"infill-ls: {message}")

    def loaded(self, engine: Opened, path: Path | None) -> str:
        info = engine.info
        log.info("%s", info.describe())
        engine.keep_warm(self.settings.completion.warmMemoryMb)
        if not engine.fim.has_fim:
            self.warn_once(f"nofim:{info.label}",
                           f"infill-ls: {info.label} has no FIM tokens; completing from the prefix only")
        for warning in info.warnings:
            self.warn_once(warning, f"infill-ls: {warning}")
        return info.describe()

    async def progress_begin(self, title: str) -> object | None:
        caps = self.client_capabilities.window if self.protocol.writer is not None else None
        if caps is None or not caps.work_done_progress:
            return None
        token = f"infill-load-{time.monotonic_ns()}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception as exc:  # a client that refuses progress still gets infill/status
            log.debug("client refused work done progress: %s", exc)
            return None
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0))
        return token

    def progress_report(self, handle: object | None, percentage: int, message: str) -> None:
        if isinstance(handle, str):
            self.work_done_progress.report(
                handle, types.WorkDoneProgressReport(message=message, percentage=percentage))

    def progress_end(self, handle: object | None, message: str) -> None:
        if isinstance(handle, str):
            self.work_done_progress.end(handle, types.WorkDoneProgressEnd(message=message))

    # --- settings ----------------------------------------------------------------------------------------

    def apply_settings(self, raw: Any) -> None:
        """Replace the settings with the wire tree `raw` (defaults for absent keys) and act on changes."""
        settings, errors = parse_settings(raw, self.base_settings)
        warning = "infill-ls settings: " + "; ".join(errors) if errors else ""
        if warning and warning != self.last_settings_warning:  # the same tree can arrive by several routes
            self.show(types.MessageType.Warning, warning)
        self.last_settings_warning = warning
        self.settings = settings
        self.requests.settings = settings
        self.feedback.store.enabled = settings.stats.enable
        self.exclusions.configure(settings.exclude)
        self.refresh_exclusions()
        if not settings.completion.enable:
            self.scheduler.cancel_all("disabled")
        self.host.ensure(self.source())
        if self.host.engine is not None:  # never a reload: the engine drops what no longer fits
            self.host.engine.keep_warm(settings.completion.warmMemoryMb)
        self.status.configured(settings.completion.enable, self.model_settings())

    # --- requests ----------------------------------------------------------------------------------------

    def documents(self) -> Mapping[str, Document] | None:
        """The open documents by URI (None before `initialize` made the workspace)."""
        try:
            docs: Mapping[str, Document] = self.workspace.text_documents
        except RuntimeError:
            return None
        return docs

    def folders(self) -> list[Path]:
        """The workspace folders' local paths (none before `initialize` made the workspace)."""
        try:
            return workspace_folders(self.workspace.folders.values())
        except RuntimeError:
            return []

    def refresh_exclusions(self) -> None:
        self.requests.refresh_exclusions()

    def document_opened(self, uri: str) -> None:
        self.refresh_exclusions()

    def document_changed(self, uri: str, changes: Sequence[Any] = ()) -> None:
        self.scheduler.document_changed(uri)
        self.sources.edited(uri, changes)

    def document_closed(self, uri: str) -> None:
        self.scheduler.close_document(uri)
        self.answers.forget(uri)
        self.sources.forget(uri)
        self.refresh_exclusions()

    async def complete(
        self, uri: str, kind: str, text: str, offset: int, automatic: bool,
        replace: tuple[int, int, str] | None = None, language_id: str = "",
    ) -> Completed:
        return await self.requests.complete(uri, kind, text, offset, automatic, replace, language_id)

    def model_label(self) -> str:
        """The model as the statistics name it: the file, or the served model's name."""
        return shown(self.host.settings, self.host.engine, self.model_settings())[0] or "unknown"

    def focused(self, uri: str, text: str, offset: int) -> None:
        self.requests.focused(uri, text, offset)

    # --- talking to the client ---------------------------------------------------------------------------

    def _notify_status(self, payload: StatusPayload) -> None:
        if self.protocol.writer is not None:
            self.protocol.notify(STATUS_METHOD, payload)

    def show(self, kind: types.MessageType, message: str) -> None:
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.WARNING, "%s", message)
        if self.protocol.writer is not None:
            self.status.flush()  # the client gets the state a message is about before the message
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            self.show(types.MessageType.Warning, message)

