"""The language server: the composition root. It wires the owners of the server's state together and talks
to the client; each owner is a small class testable alone:

- `ModelHost` (engine/host.py): the model thread, the current engine and its generation, loading, leases and
  the background slot;
- `Scheduler` (completion/scheduler.py): request streams, superseding, the debounce, shared model runs;
- `CompletionService` (completion/service.py): typing-through, the result cache, shown suggestions;
- `Status` (status.py): counters and the coalesced `infill/status`;
- `Exclusions` (exclusion.py): which files are never completed in nor used as context.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from . import __version__
from .completion import pipeline
from .completion.context import Context
from .completion.prompt import NO_EXTRA, Extra
from .completion.scheduler import Flight, LinkedCancel, Scheduler
from .completion.service import CompletionService, Stamp
from .completion.syntax import language_for
from .config import DEFAULT_EXCLUDE, DEFAULT_FILE, DEFAULT_REPO, ModelSettings, Settings, parse_settings
from .engine.base import CancelToken, InfillError
from .engine.host import Lease, ModelHost, Source, Stale
from .engine.llama import EngineOptions, LlamaEngine, ModelInfo, gpu_offload_supported
from .engine.loader import Progress, resolve_model
from .engine.remote import ModelChanged, Remote, RemoteEngine, RemoteInfo, Unavailable
from .exclusion import Exclusions
from .models import Layout
from .protocol import InfillProtocol
from .sources import ContextSources, workspace_folders
from .status import Status

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


@dataclass(frozen=True)
class Completed:
    """A finished request: the text to insert (maybe empty) and how it was obtained."""

    text: str
    source: str
    """model, shared, cache, speculation, typed-through or none."""
    alternatives: tuple[str, ...] = ()
    """An Invoked request's sampled completions that follow `text` (see InfillServer._alternatives)."""

    @property
    def texts(self) -> tuple[str, ...]:
        """Every item's text, best first; none when `text` is empty."""
        return (self.text, *self.alternatives) if self.text else ()


NONE = Completed("", "none")


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
        self.host = ModelHost(self._resolve, self._load_engine, self)
        self.scheduler = Scheduler()
        self.service = CompletionService()
        self.exclusions = Exclusions(DEFAULT_EXCLUDE)
        self.sources = ContextSources(self.exclusions)
        self.status = Status(self.status_payload, self._notify_status)
        self.generating = 0
        """Real (not speculative) model runs under way."""
        self.speculation: CancelToken | None = None
        """The speculative generation under way, if any."""
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

    @staticmethod
    def _resolve(source: Source, progress: Progress) -> Path | None:
        if isinstance(source, Remote):
            return None
        return resolve_model(source, download=True, progress=progress)

    def _load_engine(self, path: Path | None, source: Source) -> LlamaEngine | RemoteEngine:
        if isinstance(source, Remote):
            return RemoteEngine.connect(source)
        assert path is not None
        return LlamaEngine.load(path, source, self.options.engine)

    @property
    def remote(self) -> bool:
        return isinstance(self.host.settings, Remote)

    # ModelHost events

    def state_changed(self) -> None:
        self.status.changed()

    def load_failed(self, message: str) -> None:
        self.show(types.MessageType.Error, f"infill-ls: {message}")

    def loaded(self, engine: LlamaEngine | RemoteEngine, path: Path | None) -> str:
        log.info("%s", engine.info.describe())
        if not engine.fim.has_fim:
            info = engine.info
            name = info.path.name if isinstance(info, ModelInfo) else f"the model {info.model} at {info.remote.host}"
            self.warn_once(f"nofim:{name}", f"infill-ls: {name} has no FIM tokens; completing from the prefix only")
        for warning in engine.info.warnings if isinstance(engine.info, RemoteInfo) else ():
            self.warn_once(warning, f"infill-ls: {warning}")
        return engine.info.describe()

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
        self.exclusions.configure(settings.exclude)
        self.refresh_exclusions()
        if not settings.completion.enable:
            self.scheduler.cancel_all("disabled")
        self.host.ensure(self.source())
        self.status.changed()

    # --- requests ----------------------------------------------------------------------------------------

    def folders(self) -> list[Path]:
        """The workspace folders' local paths (none before `initialize` made the workspace)."""
        try:
            return workspace_folders(self.workspace.folders.values())
        except RuntimeError:
            return []

    def refresh_exclusions(self) -> None:
        """Work out again which open documents are excluded (settings, documents or `.infillignore` changed)."""
        try:
            uris = [doc.uri for doc in self.workspace.text_documents.values()]
        except RuntimeError:
            uris = []
        if self.exclusions.refresh(uris, self.folders()):
            log.info("excluded open documents: %s", ", ".join(self.exclusions.open) or "none")
            self.status.changed()

    def document_opened(self, uri: str) -> None:
        self.refresh_exclusions()

    def document_changed(self, uri: str, changes: Sequence[Any] = ()) -> None:
        self.scheduler.document_changed(uri)
        self.sources.edited(uri, changes)

    def document_closed(self, uri: str) -> None:
        self.scheduler.close_document(uri)
        self.service.forget(uri)
        self.sources.forget(uri)
        self.refresh_exclusions()

    async def complete(
        self, uri: str, kind: str, text: str, offset: int, automatic: bool,
        replace: tuple[int, int, str] | None = None,
    ) -> Completed:
        """One request: plan, answer without the model if possible, debounce, run the model (or join the
        identical run under way), keep the result. `kind` (inline or menu) separates request streams."""
        flight = self.scheduler.begin(uri, kind)
        self.status.stats.requests += 1
        self.refresh_exclusions()
        try:
            if uri in self.exclusions.open:  # nothing of it is read, sent or kept
                log.info("request %d: not completing in %s: %s", flight.request_id, uri, self.exclusions.open[uri])
                return NONE
            return await self._complete(flight, text, offset, automatic, replace)
        finally:
            self.scheduler.finish(flight)
            self.status.flush()  # the client sees the status that goes with the answer before the answer

    async def _complete(
        self, flight: Flight, text: str, offset: int, automatic: bool, replace: tuple[int, int, str] | None,
    ) -> Completed:
        started = time.perf_counter()
        cs = self.settings.completion
        plan = pipeline.plan(text, offset, cs, automatic, replace, self._context(flight.uri, text, offset),
                             language_for(flight.uri))
        if plan.skip is not None:
            log.debug("request %d skipped: %s", flight.request_id, plan.skip)
            return NONE
        stamp = Stamp(cs, self.host.generation)
        known = self.service.answer(flight.uri, plan, stamp) if self.host.confirmed() else None
        if known is not None:
            self._count_answer(known.source)
            return await self._alternatives(flight, plan, stamp, automatic, Completed(known.text, known.source))
        if self.host.state != "ready":
            return NONE
        waited = self.scheduler.wait_ms(flight.uri, cs) if automatic else 0.0
        if waited > 0:
            self._prefill(plan, flight, stamp)
            await asyncio.sleep(waited / 1000)
            if not self.scheduler.is_current(flight):
                self.status.stats.dropped += 1
                log.info("request %d dropped after debounce: a newer request arrived", flight.request_id)
                return NONE

        sampled = self._samples(flight, automatic, stamp) > 0

        async def run(cancel: CancelToken) -> pipeline.Outcome | None:
            outcome = await self._run(plan, cancel, flight.uri, stamp)
            if outcome is not None:  # kept even when only a request that joined the run is still waiting
                self.service.remember(flight.uri, plan, stamp, outcome.text)
                self._report(flight, outcome, automatic, waited, started)
                if outcome.text and self.speculates() and not sampled:
                    self._speculate(flight.uri, plan.ctx, outcome.text, stamp, plan.extra)
            return outcome

        outcome, joined = await self.scheduler.shared(self.service.key(plan, stamp), flight, run)
        if outcome is None or not self.scheduler.is_current(flight):
            return NONE
        self.status.stats.shared += joined
        done = await self._alternatives(flight, plan, stamp, automatic,
                                        Completed(outcome.text, "shared" if joined else "model"))
        if sampled and done.text and self.speculates():  # after the samples, which would cancel it at once
            self._speculate(flight.uri, plan.ctx, done.text, stamp, plan.extra)
        return done

    async def _alternatives(
        self, flight: Flight, plan: pipeline.Plan, stamp: Stamp, automatic: bool, first: Completed,
    ) -> Completed:
        """An Invoked inline request: `first` (the greedy completion, cached as ever) and then up to
        `completion.alternatives - 1` sampled ones, one seed each, duplicates and empties dropped. Each is a
        model call of its own on the prompt `first` left in the KV cache; a newer request or a cancel stops
        them. Automatic requests keep one item and one generation, and so do menu requests: Helix sends its
        automatic completion popups as Invoked."""
        count = self._samples(flight, automatic, stamp) + 1
        if count < 2 or not first.text:
            return first
        texts = [first.text]
        for seed in range(1, count):
            outcome = await self._run(plan, LinkedCancel(flight.cancel), flight.uri, stamp, seed=seed)
            if not self.scheduler.is_current(flight):
                return NONE
            if outcome is None:  # the engine failed or was replaced: what there is so far
                break
            if outcome.text and outcome.text not in texts:
                texts.append(outcome.text)
        log.info("request %d: %d alternatives from %d samples", flight.request_id, len(texts) - 1, count - 1)
        return dataclasses.replace(first, alternatives=tuple(texts[1:]))

    @staticmethod
    def _samples(flight: Flight, automatic: bool, stamp: Stamp) -> int:
        """How many sampled alternatives follow the greedy item of `flight` (0 for one item)."""
        count = stamp.settings.alternatives
        return 0 if automatic or flight.kind != "inline" else max(0, count - 1)

    def _context(self, uri: str, text: str, offset: int) -> Extra:
        """Other files' snippets for a request (none before `initialize` made the workspace)."""
        self.sources.touch(uri)
        try:
            workspace = self.workspace
        except RuntimeError:
            return NO_EXTRA
        return self.sources.extra(uri, text, offset, workspace.text_documents, self.folders(), self.settings.context)

    def speculates(self) -> bool:
        """Speculation spends idle compute: on a shared server that is other people's, so only when asked."""
        return self.options.speculate and (not self.remote or self.settings.engine.speculate)

    def _count_answer(self, source: str) -> None:
        stats = self.status.stats
        if source == "typed-through":
            stats.typedThrough += 1
        else:
            stats.cacheHits += 1
            stats.speculativeHits += source == "speculation"

    def _job(
        self, plan: pipeline.Plan, cancel: CancelToken, stamp: Stamp, speculative: bool, seed: int | None = None
    ) -> Any:
        layout, cs = self.options.layout, stamp.settings

        def job(engine: LlamaEngine) -> pipeline.Outcome:
            return pipeline.infer(engine, plan, cs, cancel, engine.context_size, layout, speculative, seed)

        return job

    def _lease(self, stamp: Stamp) -> Lease | None:
        """A lease on the engine that `stamp` was taken under, or None (not ready, or replaced since)."""
        lease = self.host.acquire()
        if lease is not None and lease.generation != stamp.generation:
            self.host.release(lease)
            return None
        return lease

    def _prefill(self, plan: pipeline.Plan, flight: Flight, stamp: Stamp) -> None:
        """While the debounce waits, evaluate the prompt (not the generation) in the background slot.

        A newer keystroke cancels it between prompt chunks; the chunks already evaluated stay in the KV cache,
        so even a superseded request leaves the next one less to do."""
        lease = self._lease(stamp)
        if lease is None:
            return
        layout, cs = self.options.layout, stamp.settings
        cancel = LinkedCancel(flight.cancel)

        def job(engine: LlamaEngine) -> int:
            return pipeline.prefill(engine, plan, cs, cancel, engine.context_size, layout)

        def done(f: asyncio.Future[int]) -> None:
            if f.cancelled() or isinstance(f.exception(), Stale):
                return
            if isinstance(f.exception(), ModelChanged):
                self.host.renew(lease.generation, str(f.exception()))
                return
            if isinstance(f.exception(), Unavailable):
                self.host.fail(lease.generation, str(f.exception()))
                return
            if f.exception() is not None:
                log.warning("prefill failed: %s", f.exception())
                return
            self.status.stats.evaluatedTokens += f.result()

        self.host.background(lease, job, cancel).add_done_callback(done)

    def _speculate(self, uri: str, ctx: Context, text: str, stamp: Stamp, extra: Extra) -> None:
        """Precompute the completion for the state in which the user has accepted `text`."""
        accepted = pipeline.plan(ctx.prefix + text + ctx.suffix, len(ctx.prefix) + len(text), stamp.settings,
                                 automatic=False, extra=extra, language=language_for(uri))
        if self.service.has(accepted, stamp):
            return
        cancel = CancelToken()
        self.speculation = cancel
        self.status.changed()

        async def speculate() -> None:
            try:
                outcome = await self._run(accepted, cancel, uri, stamp, speculative=True)
                if outcome is not None and not cancel.cancelled:
                    self.service.store_speculation(accepted, stamp, outcome.text)
                    self.status.stats.speculations += 1
                elif cancel.cancelled:
                    self.status.stats.speculationsCancelled += 1
            finally:
                if self.speculation is cancel:
                    self.speculation = None
                self.status.changed()

        asyncio.get_running_loop().create_task(speculate())

    async def _run(
        self, plan: pipeline.Plan, cancel: CancelToken, uri: str, stamp: Stamp, speculative: bool = False,
        seed: int | None = None,
    ) -> pipeline.Outcome | None:
        """One model call on the engine of `stamp` (sampled with `seed`, when given); None when it was
        cancelled, stale or failed."""
        lease = self._lease(stamp)
        if lease is None:
            return None
        job = self._job(plan, cancel, stamp, speculative, seed)
        stats = self.status.stats
        if speculative:
            running: Awaitable[pipeline.Outcome] = self.host.background(lease, job, cancel)
        else:
            self.host.cancel_background("real request")  # speculation and prefill never hold up a request
            self.generating += 1
            stats.modelCalls += 1
            self.status.changed()
            running = self.host.run(lease, job)
        try:
            outcome = await running
        except asyncio.CancelledError:
            cancel.cancel("$/cancelRequest")
            stats.cancelled += 1
            raise
        except Stale:
            return None
        except ModelChanged as exc:  # the server was restarted with another model: a new engine
            self.host.renew(lease.generation, str(exc))
            return None
        except Unavailable as exc:
            self.host.fail(lease.generation, str(exc))
            return None
        except InfillError as exc:
            log.error("completion failed: %s", exc)
            return None
        except Exception:  # an engine failure must cost one completion, never the server
            log.exception("completion failed inside the engine")
            return None
        finally:
            if not speculative:
                self.host.release(lease)
                self.generating -= 1
                self.status.changed()
        s = outcome.stats
        if not speculative:
            self.scheduler.learn(uri, s.generated_tokens, s.total_ms - s.ttft_ms, finished=not cancel.cancelled)
        stats.evaluatedTokens += s.evaluated_tokens
        stats.reusedTokens += s.reused_tokens
        stats.generatedTokens += s.generated_tokens
        if cancel.cancelled:
            if speculative:
                stats.speculativeWastedTokens += s.generated_tokens
            else:
                stats.wastedTokens += s.generated_tokens
                stats.cancelled += 1
            log.info("%s cancelled (%s) after %d tokens", "speculation" if speculative else "request",
                     cancel.why, s.generated_tokens)
            return None
        return outcome

    def _report(self, flight: Flight, outcome: pipeline.Outcome, automatic: bool, waited: float,
                started: float) -> None:
        latency = (time.perf_counter() - started) * 1000
        self.status.last_latency_ms = latency
        s = outcome.stats
        self.status.last = {
            "promptTokens": s.prompt_tokens, "reusedTokens": s.reused_tokens, "evaluatedTokens": s.evaluated_tokens,
            "generatedTokens": s.generated_tokens, "ttftMs": round(s.ttft_ms, 2), "modelMs": round(s.total_ms, 2),
            "debounceMs": round(waited, 1), "latencyMs": round(latency, 2),
            "promptMs": round(outcome.timings["prompt"], 2),
        }
        if s.server:
            self.status.last["server"] = s.server  # type: ignore[assignment]
        log.info(
            "request %d %s: prompt %d reused %d evaluated %d generated %d (%s) debounce %.0f ms "
            "prompt %.1f ms generate %.1f ms postprocess %.1f ms total %.1f ms",
            flight.request_id, "automatic" if automatic else "invoked", s.prompt_tokens, s.reused_tokens,
            s.evaluated_tokens, s.generated_tokens, s.stop_reason, waited, outcome.timings["prompt"],
            outcome.timings["generate"], outcome.timings["postprocess"], latency,
        )

    # --- talking to the client ---------------------------------------------------------------------------

    def status_payload(self) -> dict[str, Any]:
        ms = self.model_settings()
        host = self.host
        state = host.state if self.settings.completion.enable or host.state != "ready" else "disabled"
        engine: dict[str, Any] = {"kind": "local"}
        model: str | None = ms.path.rsplit("/", 1)[-1] if ms.path else ms.file
        if isinstance(host.settings, Remote):
            served = host.engine.info if isinstance(host.engine, RemoteEngine) else None
            model = served.model if served is not None else None
            engine = {"kind": "remote", "url": host.settings.url, "host": host.settings.host,
                      "api": served.api if served is not None else None, "model": model}
        return {
            "state": state,
            "generating": self.generating > 0,
            "speculating": self.speculation is not None and not self.speculation.cancelled,
            "message": host.message,
            "model": model,
            "engine": engine,
            "progress": host.progress,
            "lastLatencyMs": None if self.status.last_latency_ms is None else round(self.status.last_latency_ms, 1),
            "gpuOffload": gpu_offload_supported(),
            "stats": self.status.counters(),
            "last": self.status.last,
            "excluded": dict(self.exclusions.open),
        }

    def _notify_status(self, payload: dict[str, Any]) -> None:
        if self.protocol.writer is not None:
            self.protocol.notify("infill/status", payload)

    def show(self, kind: types.MessageType, message: str) -> None:
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.WARNING, "%s", message)
        if self.protocol.writer is not None:
            self.status.flush()  # the client gets the state a message is about before the message
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            self.show(types.MessageType.Warning, message)


def source_of(settings: Settings, model: ModelSettings) -> Source:
    """The model file, or the inference server of `infill.engine.url` (with the key from INFILL_API_KEY, and
    `model.path`, when set, as a local copy of the served model's vocabulary)."""
    es = settings.engine
    if not es.url:
        return model
    return Remote(url=es.url, api=es.api, model=es.model, timeout_s=es.timeoutMs / 1000,
                  api_key=os.environ.get("INFILL_API_KEY", ""),
                  tokenizer=os.path.expanduser(model.path) if model.path else "", ca_file=os.path.expanduser(es.caFile))
