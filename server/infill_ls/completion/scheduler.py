"""The scheduler: request streams per (document, kind), superseding and cancelling, the debounce and its
pace, and shared model runs (identical in-flight requests, such as the inline and menu requests VS Code sends
for one spot, wait on one generation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..config import CompletionSettings
from ..engine.base import CancelToken
from .debounce import Pace, adaptive_wait

T = TypeVar("T")


class LinkedCancel(CancelToken):
    """Cancelled by its own `cancel()` or when its parent is cancelled."""

    def __init__(self, parent: CancelToken) -> None:
        super().__init__(owner=parent.owner)
        self._parent = parent

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or self._parent.cancelled


class SharedCancel(CancelToken):
    """The token of a shared run: cancelled by its own `cancel()`, or once every request waiting on the run
    has been cancelled (one request leaving does not stop the others' answer)."""

    def __init__(self, owner: object | None = None) -> None:
        super().__init__(owner)
        self._waiters: tuple[CancelToken, ...] = ()

    def join(self, waiter: CancelToken) -> None:
        self._waiters = (*self._waiters, waiter)

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        waiters = self._waiters
        return bool(waiters) and all(w.cancelled for w in waiters)

    @property
    def why(self) -> str:
        return self.reason or next((w.reason for w in self._waiters if w.reason), "")


@dataclass
class Flight:
    """One completion request."""

    uri: str
    kind: str
    request_id: int
    cancel: CancelToken = field(default_factory=CancelToken)


@dataclass
class Run(Generic[T]):
    cancel: SharedCancel
    task: asyncio.Future[T]


class Scheduler:
    def __init__(self) -> None:
        self.inflight: dict[tuple[str, str], Flight] = {}
        """The newest request per (document URI, kind): inline and menu requests supersede only their own kind."""
        self.runs: dict[Hashable, Run[object]] = {}
        """Model runs under way by result key."""
        self.pace: dict[str, Pace] = {}
        """Keystroke and model pace per document, for the adaptive debounce."""
        self._next_id = 0

    # --- streams -----------------------------------------------------------------------------------------

    def begin(self, uri: str, kind: str) -> Flight:
        """Register a new request for (uri, kind), superseding (cancelling) the one before it."""
        self._next_id += 1
        previous = self.inflight.get((uri, kind))
        if previous is not None:
            previous.cancel.cancel("superseded")
        flight = Flight(uri, kind, self._next_id)
        self.inflight[(uri, kind)] = flight
        return flight

    def is_current(self, flight: Flight) -> bool:
        return self.inflight.get((flight.uri, flight.kind)) is flight and not flight.cancel.cancelled

    def finish(self, flight: Flight) -> None:
        """The request has been answered: forget it (a newer one may already have taken its place)."""
        if self.inflight.get((flight.uri, flight.kind)) is flight:
            del self.inflight[(flight.uri, flight.kind)]

    def document_changed(self, uri: str) -> None:
        """An edit: cancel the document's requests and count the keystroke for the adaptive debounce."""
        self.cancel_document(uri, "document changed")
        self.pace_of(uri).keystroke(time.perf_counter() * 1000)

    def cancel_document(self, uri: str, reason: str) -> None:
        for key in [k for k in self.inflight if k[0] == uri]:
            self.inflight.pop(key).cancel.cancel(reason)

    def close_document(self, uri: str) -> None:
        self.cancel_document(uri, "document closed")
        self.pace.pop(uri, None)

    def cancel_all(self, reason: str) -> None:
        for flight in self.inflight.values():
            flight.cancel.cancel(reason)
        self.inflight.clear()

    # --- debounce ----------------------------------------------------------------------------------------

    def pace_of(self, uri: str) -> Pace:
        return self.pace.setdefault(uri, Pace())

    def wait_ms(self, uri: str, settings: CompletionSettings) -> float:
        """How long an automatic request for `uri` waits before it runs the model."""
        if not settings.adaptiveDebounce:
            return float(settings.debounceMs)
        pace = self.pace_of(uri)
        return adaptive_wait(float(settings.debounceMs), pace.model_ms(settings.maxTokens), pace.typing_ms)

    def learn(self, uri: str, tokens: int, decode_ms: float, finished: bool) -> None:
        """A model call for an open document ended (a closed document's pace is not brought back)."""
        if uri in self.pace or any(k[0] == uri for k in self.inflight):
            self.pace_of(uri).generation(tokens, decode_ms, finished)

    # --- shared runs -------------------------------------------------------------------------------------

    async def shared(
        self, key: Hashable, flight: Flight, start: Callable[[CancelToken], Awaitable[T]]
    ) -> tuple[T, bool]:
        """The result of the run for `key`: joined if one is under way, else started with `start(cancel)`.

        Returns the result and whether the run was joined. The run stops (its token turns cancelled) only
        when every request waiting on it was cancelled."""
        run = self.runs.get(key)
        joined = run is not None and not run.cancel.cancelled and not run.task.done()
        if run is None or not joined:
            cancel = SharedCancel(owner=flight.cancel.owner)  # the starter's prefill and this run are one request
            task: asyncio.Future[T] = asyncio.ensure_future(start(cancel))
            run = Run(cancel, task)  # type: ignore[arg-type]
            self.runs[key] = run
            task.add_done_callback(lambda _: self._run_done(key, run))
        run.cancel.join(flight.cancel)
        try:
            result: T = await asyncio.shield(run.task)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            flight.cancel.cancel("$/cancelRequest")  # the run goes on only while another request waits on it
            raise
        return result, joined

    def _run_done(self, key: Hashable, run: Run[object]) -> None:
        if self.runs.get(key) is run:
            del self.runs[key]
        if not run.task.cancelled():
            run.task.exception()  # retrieved here, so a failure after every waiter left is not reported as lost
