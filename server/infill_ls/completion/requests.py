"""The request flow: one completion request from the moment the handler asks until the answer (and the
speculation that follows it). It is given the owners it works with and no LSP:

    exclusion check -> plan (skip?) -> cross-file block -> answer without the model (typing-through, cache)
    -> debounce (prefilling meanwhile) -> one model run, shared by identical requests -> alternatives -> report
    -> speculation on the answer.

The server builds one `Requests` and delegates `complete` to it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..config import Settings
from ..engine.base import CancelToken, Engine, InfillError
from ..engine.host import Lease, ModelHost, Stale
from ..engine.remote import ModelChanged, Unavailable
from ..exclusion import Exclusions
from ..models import Layout
from ..status import Status
from . import pipeline
from .answers import AnswerCache, Stamp
from .context import Context
from .crossfile.sources import CrossFileSources, Document, StaleBlock
from .prompt import NO_BLOCK, CrossFileBlock
from .scheduler import Flight, LinkedCancel, Scheduler
from .syntax import language_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completed:
    """A finished request: the text to insert (maybe empty) and how it was obtained."""

    text: str
    source: str
    """model, shared, cache, speculation, typed-through or none."""
    alternatives: tuple[str, ...] = ()
    """An Invoked request's sampled completions that follow `text` (see Requests._alternatives)."""
    confidence: float | None = None
    """`text`'s confidence: the mean log-probability of its tokens; None where the engine gives none."""
    alternative_confidences: tuple[float | None, ...] = ()
    """The confidence of each alternative."""

    @property
    def texts(self) -> tuple[str, ...]:
        """Every item's text, best first; none when `text` is empty."""
        return (self.text, *self.alternatives) if self.text else ()

    @property
    def scored(self) -> list[tuple[str, float | None]]:
        """Every item's text with its confidence, best first."""
        confidences = (self.confidence, *self.alternative_confidences)
        return [(text, confidences[i] if i < len(confidences) else None) for i, text in enumerate(self.texts)]


NONE = Completed("", "none")


@dataclass(frozen=True)
class FlowOptions:
    """What the command line fixes for the flow's lifetime."""

    layout: Layout | None = None
    """Prompt layout override (`--layout`); None picks per model family."""
    speculate: bool = True
    """Precompute the completion that follows accepting the one just shown (on a remote engine only with
    `infill.engine.speculate`)."""


class Workspace(Protocol):
    """What the flow reads of the editor's workspace (the server adapts the LSP one)."""

    def documents(self) -> Mapping[str, Document] | None:
        """The open documents by URI; None before `initialize` made the workspace."""
        ...

    def folders(self) -> list[Path]:
        """The workspace folders' local paths."""
        ...


class Requests:
    """Owns the flow of requests; reports every event of it to the status."""

    def __init__(
        self, host: ModelHost, scheduler: Scheduler, answers: AnswerCache, sources: CrossFileSources,
        exclusions: Exclusions, status: Status, workspace: Workspace, options: FlowOptions | None = None,
    ) -> None:
        self.host = host
        self.scheduler = scheduler
        self.answers = answers
        self.sources = sources
        self.exclusions = exclusions
        self.status = status
        self.workspace = workspace
        self.options = options or FlowOptions()
        self.settings = Settings()
        """The settings tree in force (the server sets it when the client's settings change)."""
        self._focus: tuple[str, str, int] | None = None
        """Where the user rests (uri, text, offset), to warm up once nothing else runs (see `focused`)."""
        self._told_focus = False
        """Whether the client has sent `infill/didFocus` (then a stale context block is renewed by the warm-up)."""
        self._warming: CancelToken | None = None
        """The warm-up under way: a newer focus stops it."""

    # --- exclusions ----------------------------------------------------------------------------------------

    def refresh_exclusions(self) -> None:
        """Work out again which open documents are excluded (settings, documents or `.infillignore` changed)."""
        docs = self.workspace.documents()
        uris = [] if docs is None else [doc.uri for doc in docs.values()]
        if self.exclusions.refresh(uris, self.workspace.folders()):
            log.info("excluded open documents: %s", ", ".join(self.exclusions.open) or "none")
            self.status.changed()

    # --- one request ---------------------------------------------------------------------------------------

    async def complete(
        self, uri: str, kind: str, text: str, offset: int, automatic: bool,
        replace: tuple[int, int, str] | None = None, language_id: str = "",
    ) -> Completed:
        """One request: plan, answer without the model if possible, debounce, run the model (or join the
        identical run under way), keep the result. `kind` (inline or menu) separates request streams;
        `language_id` is the document's languageId (`completion.trigger`)."""
        flight = self.scheduler.begin(uri, kind)
        self.status.request()
        self._focus = None  # the user is at work: a request keeps its own file warm
        self.refresh_exclusions()
        try:
            if uri in self.exclusions.open:  # nothing of it is read, sent or kept
                log.info("request %d: not completing in %s: %s", flight.request_id, uri, self.exclusions.open[uri])
                return NONE
            done = await self._complete(flight, text, offset, automatic, replace, language_id)
            if done.text and pipeline.hidden(self.settings.completion, done.confidence, automatic):
                log.info("request %d: suggestion hidden: confidence %.3f below minConfidence", flight.request_id,
                         done.confidence)
                self.answers.forget(uri)  # nothing is shown: nothing to type through
                return NONE
            return done
        finally:
            self.scheduler.finish(flight)
            self.status.flush()  # the client sees the status that goes with the answer before the answer
            self._warm_up_when_idle()

    async def _complete(
        self, flight: Flight, text: str, offset: int, automatic: bool, replace: tuple[int, int, str] | None,
        language_id: str = "",
    ) -> Completed:
        started = time.perf_counter()
        cs = self.settings.completion
        self.sources.touch(flight.uri)
        plan = pipeline.plan(text, offset, cs, automatic, replace, language=language_for(flight.uri),
                             language_id=language_id)
        if plan.skip is not None:  # decided before the cross-file block, which a skipped request never needs
            log.debug("request %d skipped: %s", flight.request_id, plan.skip)
            return NONE
        plan = dataclasses.replace(plan, extra=self._cross_file(flight.uri, text, offset))
        stamp = Stamp(cs, self.host.generation)
        known = self.answers.answer(flight.uri, plan, stamp) if self.host.confirmed() else None
        if known is not None:
            self.status.answered(known.source)
            return await self._alternatives(flight, plan, stamp, automatic,
                                            Completed(known.text, known.source, confidence=known.confidence))
        if self.host.state != "ready":
            return NONE
        waited = self.scheduler.wait_ms(flight.uri, cs) if automatic else 0.0
        if waited > 0:
            self._prefill(plan, flight, stamp)
            await asyncio.sleep(waited / 1000)
            if not self.scheduler.is_current(flight):
                self.status.dropped()
                log.info("request %d dropped after debounce: a newer request arrived", flight.request_id)
                return NONE

        sampled = self._samples(flight, automatic, stamp) > 0

        async def run(cancel: CancelToken) -> pipeline.Outcome | None:
            outcome = await self._run(plan, cancel, flight.uri, stamp)
            if outcome is not None:  # kept even when only a request that joined the run is still waiting
                self.answers.remember(flight.uri, plan, stamp, outcome.text, outcome.confidence)
                self._report(flight, outcome, automatic, waited, started)
                if outcome.text and self.speculates() and not sampled:
                    self._speculate(flight.uri, plan.ctx, outcome.text, stamp, plan.extra)
            return outcome

        outcome, joined = await self.scheduler.shared(self.answers.key(plan, stamp), flight, run)
        if outcome is None or not self.scheduler.is_current(flight):
            return NONE
        if joined:
            self.status.answered("shared")
        done = await self._alternatives(flight, plan, stamp, automatic, Completed(
            outcome.text, "shared" if joined else "model", confidence=outcome.confidence))
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
        confidences: list[float | None] = []
        for seed in range(1, count):
            outcome = await self._run(plan, LinkedCancel(flight.cancel), flight.uri, stamp, seed=seed)
            if not self.scheduler.is_current(flight):
                return NONE
            if outcome is None:  # the engine failed or was replaced: what there is so far
                break
            if outcome.text and outcome.text not in texts:
                texts.append(outcome.text)
                confidences.append(outcome.confidence)
        log.info("request %d: %d alternatives from %d samples", flight.request_id, len(texts) - 1, count - 1)
        return dataclasses.replace(first, alternatives=tuple(texts[1:]), alternative_confidences=tuple(confidences))

    @staticmethod
    def _samples(flight: Flight, automatic: bool, stamp: Stamp) -> int:
        """How many sampled alternatives follow the greedy item of `flight` (0 for one item)."""
        count = stamp.settings.alternatives
        return 0 if automatic or flight.kind != "inline" else max(0, count - 1)

    def _cross_file(self, uri: str, text: str, offset: int, stale: StaleBlock | None = None) -> CrossFileBlock:
        """Other files' snippets for a request (none before `initialize` made the workspace). A block made stale by
        other documents keeps serving while the client tells where the user rests (its successor is built by the
        warm-up, see sources.py), and is rebuilt at once for a client that never does."""
        docs = self.workspace.documents()
        if docs is None:
            return NO_BLOCK
        if stale is None:
            stale = "keep" if self._told_focus and self._warms_up() else "rebuild"
        return self.sources.extra(uri, text, offset, docs, self.workspace.folders(), self.settings.context, stale)

    def speculates(self) -> bool:
        """Speculation spends idle compute: on a shared server that is other people's, so only when asked."""
        return self.options.speculate and (not self.host.remote or self.settings.engine.speculate)

    def _call(self, plan: pipeline.Plan, cancel: CancelToken, stamp: Stamp, speculative: bool = False,
              seed: int | None = None) -> pipeline.Call:
        return pipeline.Call(plan, stamp.settings, cancel, self.options.layout, speculative, seed)

    def _job(self, call: pipeline.Call) -> Callable[[Engine], pipeline.Outcome]:
        return lambda engine: pipeline.infer(engine, call)

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
        self._prefill_in_background(plan, LinkedCancel(flight.cancel), stamp, self.status.prefilled)

    def _prefill_in_background(self, plan: pipeline.Plan, cancel: CancelToken, stamp: Stamp,
                               report: Callable[[int], None]) -> bool:
        """Evaluate `plan`'s prompt in the background slot; `report` gets the tokens evaluated. False when the
        engine of `stamp` is gone."""
        lease = self._lease(stamp)
        if lease is None:
            return False
        call = self._call(plan, cancel, stamp)

        def job(engine: Engine) -> int:
            return pipeline.prefill(engine, call)

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
            report(f.result())

        self.host.background(lease, job, cancel).add_done_callback(done)
        return True

    # --- warm-up (infill/didFocus) -------------------------------------------------------------------------

    def focused(self, uri: str, text: str, offset: int) -> None:
        """The user rests in `uri` at `offset` (`infill/didFocus`): once nothing else runs, evaluate the prompt a
        request there would build, so that the first keystroke there costs what a keystroke costs. Ignored for
        excluded documents, with completions off, and on a remote engine unless `infill.engine.speculate`."""
        self._told_focus = True
        self.refresh_exclusions()
        if not self.settings.completion.enable or uri in self.exclusions.open:
            log.debug("not warming up %s: excluded or completions off", uri)
            return
        if not self._warms_up():
            log.debug("not warming up %s: a shared server's compute (infill.engine.speculate is off)", uri)
            return
        self._focus = (uri, text, offset)
        if self._warming is not None:  # the user went on: warm up where they are now (it starts when this one ends)
            self._warming.cancel("a newer focus")
        self._warm_up_when_idle()

    def _warms_up(self) -> bool:
        """Whether warm-ups run: in process, and on a remote engine only with `infill.engine.speculate` (they spend
        the shared server's compute). Where they do not, nothing would renew a stale context block."""
        return not self.host.remote or self.settings.engine.speculate

    def _warm_up_when_idle(self) -> None:
        """Start the warm-up asked for last, unless a request or background work runs (then it waits for them)."""
        if self._focus is None or self.host.state != "ready" or self.status.generating or self.host.busy:
            return
        (uri, text, offset), self._focus = self._focus, None
        cs = self.settings.completion
        plan = pipeline.plan(text, offset, cs, automatic=False, language=language_for(uri))
        if plan.skip is not None:
            return
        plan = dataclasses.replace(plan, extra=self._cross_file(uri, text, offset, "pending"))
        cancel = CancelToken()

        def warmed(evaluated: int) -> None:
            if self._warming is cancel:
                self._warming = None
            if not cancel.cancelled and self.sources.adopt(uri, plan.extra):
                log.debug("renewed the context of %s", uri)
            self.status.warmed(evaluated)
            log.debug("warmed up %s: %d tokens evaluated", uri, evaluated)
            self._warm_up_when_idle()

        if self._prefill_in_background(plan, cancel, Stamp(cs, self.host.generation), warmed):
            self._warming = cancel
            self.status.warmup_started()

    def _speculate(self, uri: str, ctx: Context, text: str, stamp: Stamp, extra: CrossFileBlock) -> None:
        """Precompute the completion for the state in which the user has accepted `text`."""
        accepted = pipeline.plan(ctx.prefix + text + ctx.suffix, len(ctx.prefix) + len(text), stamp.settings,
                                 automatic=False, extra=extra, language=language_for(uri))
        if self.answers.has(accepted, stamp):
            return
        cancel = CancelToken()
        self.status.speculation_started(cancel)

        async def speculate() -> None:
            stored = False
            try:
                outcome = await self._run(accepted, cancel, uri, stamp, speculative=True)
                if outcome is not None and not cancel.cancelled:
                    self.answers.store_speculation(accepted, stamp, outcome.text, outcome.confidence)
                    stored = True
            finally:
                self.status.speculation_ended(cancel, stored)
                self._warm_up_when_idle()

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
        job = self._job(self._call(plan, cancel, stamp, speculative, seed))
        if speculative:
            running: Awaitable[pipeline.Outcome] = self.host.background(lease, job, cancel)
        else:
            self.host.cancel_background("real request")  # speculation and prefill never hold up a request
            self.status.call_started()
            running = self.host.run(lease, job)
        try:
            outcome = await running
        except asyncio.CancelledError:
            cancel.cancel("$/cancelRequest")
            self.status.call_cancelled()
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
                self.status.call_ended()
        s = outcome.stats
        if not speculative:
            self.scheduler.learn(uri, s.generated_tokens, s.total_ms - s.ttft_ms, finished=not cancel.cancelled)
        self.status.call_stats(s, speculative, cancel.cancelled)
        if cancel.cancelled:
            log.info("%s cancelled (%s) after %d tokens", "speculation" if speculative else "request",
                     cancel.why, s.generated_tokens)
            return None
        return outcome

    def _report(self, flight: Flight, outcome: pipeline.Outcome, automatic: bool, waited: float,
                started: float) -> None:
        latency = (time.perf_counter() - started) * 1000
        s = outcome.stats
        self.status.last_call(s, outcome.timings, waited, latency, outcome.confidence)
        log.info(
            "request %d %s: prompt %d reused %d evaluated %d generated %d (%s) debounce %.0f ms "
            "prompt %.1f ms generate %.1f ms postprocess %.1f ms total %.1f ms",
            flight.request_id, "automatic" if automatic else "invoked", s.prompt_tokens, s.reused_tokens,
            s.evaluated_tokens, s.generated_tokens, s.stop_reason, waited, outcome.timings["prompt"],
            outcome.timings["generate"], outcome.timings["postprocess"], latency,
        )

