"""The language server object: every piece of mutable state, typed and documented, lives here."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from . import __version__
from .completion import pipeline
from .completion.cache import CompletionCache, Shown, context_key
from .config import ModelSettings, Settings, parse_settings
from .engine.base import CancelToken, InfillError
from .engine.llama import LlamaEngine, gpu_offload_supported
from .engine.loader import describe, resolve_model
from .models import Layout

log = logging.getLogger(__name__)


@dataclass
class Stats:
    """Counters sent with every `infill/status`."""

    requests: int = 0
    modelCalls: int = 0
    cacheHits: int = 0
    typedThrough: int = 0
    cancelled: int = 0
    dropped: int = 0
    """Debounced requests dropped because a newer one arrived, and results dropped as stale."""
    evaluatedTokens: int = 0
    reusedTokens: int = 0
    generatedTokens: int = 0


@dataclass
class InFlight:
    """The newest completion request of one document."""

    request_id: int
    cancel: CancelToken = field(default_factory=CancelToken)


@dataclass(frozen=True)
class Completed:
    """A finished request: the text to insert (maybe empty) and how it was obtained."""

    text: str
    source: str
    """model, cache, typed-through or none."""


class InfillServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("infill-ls", __version__)
        self.settings: Settings = Settings()
        """The settings tree in force."""
        self.base_settings: Settings = Settings()
        """What the command line set; the client's tree is laid over it."""
        self.settings_from_init: Any = None
        """The `infill` tree from initializationOptions, applied once the client is initialized."""
        self.cli_model: str | None = None
        """`--model PATH` from the command line; used while `infill.model.path` is empty."""
        self.engine: LlamaEngine | None = None
        """The resident model, once loaded."""
        self.loaded_key: ModelSettings | None = None
        """The model settings the engine (or the load under way) was made from."""
        self.state: str = "loading"
        """loading, ready, error or disabled."""
        self.status_message: str = "starting"
        self.load_progress: int | None = None
        """Download/load progress in percent while loading."""
        self.model_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infill-model")
        """The one thread that owns the Llama object (it is not thread-safe)."""
        self.load_task: asyncio.Task[None] | None = None
        self.inflight: dict[tuple[str, str], InFlight] = {}
        """Newest request per (document URI, kind): inline and menu requests supersede only their own kind."""
        self.generating: int = 0
        self.cache = CompletionCache()
        self.shown: dict[str, Shown] = {}
        """Last completion returned per document, for typing-through."""
        self.anchors: dict[str, int | None] = {}
        """Prefix-window start line per document, kept stable so the KV cache stays reusable."""
        self.stats = Stats()
        self.last_latency_ms: float | None = None
        self.next_request_id: int = 0
        self.layout: Layout | None = None
        """Prompt layout override (`--layout`); None picks per model family."""
        self.warned: set[str] = set()
        """Warnings already shown once (rate limit for expected states)."""

    # --- model -------------------------------------------------------------------------------------------

    def model_settings(self) -> ModelSettings:
        ms = self.settings.model
        if not ms.path and self.cli_model:
            ms = dataclasses.replace(ms, path=self.cli_model)
        return ms

    def ensure_model(self) -> None:
        """Start (re)loading the model when its settings differ from the loaded one."""
        wanted = self.model_settings()
        if wanted == self.loaded_key:
            return
        self.loaded_key = wanted
        if self.load_task is not None:
            self.load_task.cancel()
        self.load_task = asyncio.get_running_loop().create_task(self._load(wanted))

    async def _load(self, ms: ModelSettings) -> None:
        loop = asyncio.get_running_loop()
        token = f"infill-load-{time.monotonic_ns()}"
        progress_ok = await self._progress_begin(token, f"infill: loading {describe(ms)}")
        self.set_state("loading", f"loading {describe(ms)}", progress=0)

        def on_bytes(done: int, total: int) -> None:
            pct = int(done * 100 / total) if total else 0
            loop.call_soon_threadsafe(self._download_progress, token if progress_ok else None, pct)

        try:
            path = await loop.run_in_executor(
                self.model_executor, lambda: resolve_model(ms, download=True, progress=on_bytes)
            )
            self.set_state("loading", f"loading {path.name}", progress=100)
            engine = await loop.run_in_executor(self.model_executor, LlamaEngine.load, path, ms)
        except InfillError as exc:
            self.engine = None
            self.set_state("error", str(exc))
            self.show(types.MessageType.Error, f"infill-ls: {exc}")
            self._progress_end(token if progress_ok else None, "failed")
            return
        old, self.engine = self.engine, engine
        if old is not None:
            self.model_executor.submit(old.close)
        self.cache.clear()
        self.shown.clear()
        self.anchors.clear()
        log.info("%s", engine.info.describe())
        if not engine.fim.has_fim:
            self.warn_once("nofim", f"infill-ls: {path.name} has no FIM tokens; completing from the prefix only")
        self.set_state("ready", engine.info.describe())
        self._progress_end(token if progress_ok else None, "ready")

    def _download_progress(self, token: str | None, pct: int) -> None:
        if pct == self.load_progress:
            return
        self.set_state("loading", f"downloading {self.model_settings().file}: {pct}%", progress=pct)
        if token is not None:
            self.work_done_progress.report(
                token, types.WorkDoneProgressReport(message=f"downloading {pct}%", percentage=pct)
            )

    async def _progress_begin(self, token: str, title: str) -> bool:
        caps = self.client_capabilities.window
        if caps is None or not caps.work_done_progress:
            return False
        try:
            await self.work_done_progress.create_async(token)
        except Exception as exc:  # a client that refuses progress still gets infill/status
            log.debug("client refused work done progress: %s", exc)
            return False
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0))
        return True

    def _progress_end(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    # --- settings ----------------------------------------------------------------------------------------

    def apply_settings(self, raw: Any) -> None:
        """Replace the settings with the wire tree `raw` (defaults for absent keys) and act on changes."""
        settings, errors = parse_settings(raw, self.base_settings)
        if errors:
            self.show(types.MessageType.Warning, "infill-ls settings: " + "; ".join(errors))
        changed_completion = settings.completion != self.settings.completion
        self.settings = settings
        if changed_completion:
            self.cache.clear()
            self.shown.clear()
        if not settings.completion.enable:
            self.cancel_all("disabled")
        self.ensure_model()
        self.send_status()

    # --- requests ----------------------------------------------------------------------------------------

    def begin_request(self, key: tuple[str, str]) -> InFlight:
        """Register a new request for (uri, kind), superseding (cancelling) the one before it."""
        self.next_request_id += 1
        self.stats.requests += 1
        previous = self.inflight.get(key)
        if previous is not None:
            previous.cancel.cancel("superseded")
        current = InFlight(self.next_request_id)
        self.inflight[key] = current
        return current

    def is_current(self, key: tuple[str, str], flight: InFlight) -> bool:
        return self.inflight.get(key) is flight and not flight.cancel.cancelled

    def cancel_document(self, uri: str, reason: str) -> None:
        for key in [k for k in self.inflight if k[0] == uri]:
            self.inflight.pop(key).cancel.cancel(reason)

    def cancel_all(self, reason: str) -> None:
        for flight in self.inflight.values():
            flight.cancel.cancel(reason)
        self.inflight.clear()

    async def complete(
        self,
        uri: str,
        kind: str,
        text: str,
        offset: int,
        automatic: bool,
        replace: tuple[int, int, str] | None = None,
    ) -> Completed:
        """The whole request: plan, answer without the model if possible, debounce, generate, keep.

        `kind` (inline or menu) separates request streams: a newer request supersedes only its own kind."""
        key_ = (uri, kind)
        flight = self.begin_request(key_)
        started = time.perf_counter()
        cs = self.settings.completion
        plan = pipeline.plan(text, offset, cs, automatic, replace)
        if plan.skip is not None:
            log.debug("request %d skipped: %s", flight.request_id, plan.skip)
            return Completed("", "none")
        shown = self.shown.get(uri)
        rest = shown.typed_through(plan.ctx) if shown is not None else None
        if rest is not None:
            self.stats.typedThrough += 1
            self.send_status()
            return Completed(rest, "typed-through")
        key = context_key(plan.ctx, plan.multiline, cs.maxTokens, cs.temperature, cs.prefixTokens, cs.suffixTokens)
        cached = self.cache.get(key)
        if cached is not None:
            self.stats.cacheHits += 1
            self.shown[uri] = Shown(plan.ctx.prefix, plan.ctx.suffix, cached)
            self.send_status()
            return Completed(cached, "cache")
        engine = self.engine
        if engine is None or self.state != "ready":
            return Completed("", "none")
        waited = 0.0
        if automatic and cs.debounceMs > 0:
            await asyncio.sleep(cs.debounceMs / 1000)
            waited = cs.debounceMs
        if not self.is_current(key_, flight):
            self.stats.dropped += 1
            log.info("request %d dropped after debounce: a newer request arrived", flight.request_id)
            return Completed("", "none")
        outcome = await self._infer(engine, plan, flight, uri)
        if outcome is None or not self.is_current(key_, flight):
            return Completed("", "none")
        self.cache.put(key, outcome.text)
        self.shown[uri] = Shown(plan.ctx.prefix, plan.ctx.suffix, outcome.text)
        self.anchors[uri] = outcome.prompt.anchor_line
        self.last_latency_ms = (time.perf_counter() - started) * 1000
        s = outcome.stats
        log.info(
            "request %d %s: prompt %d reused %d evaluated %d generated %d (%s) debounce %.0f ms "
            "prompt %.1f ms generate %.1f ms postprocess %.1f ms total %.1f ms",
            flight.request_id, "automatic" if automatic else "invoked", s.prompt_tokens, s.reused_tokens,
            s.evaluated_tokens, s.generated_tokens, s.stop_reason, waited, outcome.timings["prompt"],
            outcome.timings["generate"], outcome.timings["postprocess"], self.last_latency_ms,
        )
        self.send_status()
        return Completed(outcome.text, "model")

    async def _infer(
        self, engine: LlamaEngine, plan: pipeline.Plan, flight: InFlight, uri: str
    ) -> pipeline.Outcome | None:
        loop = asyncio.get_running_loop()
        cs = self.settings.completion
        anchor = self.anchors.get(uri)
        self.generating += 1
        self.stats.modelCalls += 1
        self.send_status()
        try:
            outcome = await loop.run_in_executor(
                self.model_executor,
                lambda: pipeline.infer(engine, plan, cs, flight.cancel, engine.context_size, anchor, self.layout),
            )
            s = outcome.stats
            self.stats.evaluatedTokens += s.evaluated_tokens
            self.stats.reusedTokens += s.reused_tokens
            self.stats.generatedTokens += s.generated_tokens
            if flight.cancel.cancelled:
                self.stats.cancelled += 1
                log.info("request %d cancelled (%s) after %d tokens", flight.request_id, flight.cancel.reason,
                         s.generated_tokens)
                return None
        except asyncio.CancelledError:
            flight.cancel.cancel("$/cancelRequest")
            self.stats.cancelled += 1
            raise
        except InfillError as exc:
            log.error("request %d failed: %s", flight.request_id, exc)
            return None
        finally:
            self.generating -= 1
            self.send_status()
        return outcome

    # --- talking to the client ---------------------------------------------------------------------------

    def set_state(self, state: str, message: str, progress: int | None = None) -> None:
        self.state, self.status_message, self.load_progress = state, message, progress
        self.send_status()

    def status_payload(self) -> dict[str, Any]:
        ms = self.model_settings()
        state = self.state if self.settings.completion.enable or self.state != "ready" else "disabled"
        return {
            "state": state,
            "generating": self.generating > 0,
            "message": self.status_message,
            "model": ms.path.rsplit("/", 1)[-1] if ms.path else ms.file,
            "progress": self.load_progress,
            "lastLatencyMs": None if self.last_latency_ms is None else round(self.last_latency_ms, 1),
            "gpuOffload": gpu_offload_supported(),
            "stats": dataclasses.asdict(self.stats),
        }

    def send_status(self) -> None:
        if self.protocol.writer is None:
            return
        self.protocol.notify("infill/status", self.status_payload())

    def show(self, kind: types.MessageType, message: str) -> None:
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.WARNING, "%s", message)
        if self.protocol.writer is not None:
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            self.show(types.MessageType.Warning, message)
