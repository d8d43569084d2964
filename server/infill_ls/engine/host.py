"""The model host: the one model thread, the current engine and its generation number, the load state machine,
leases, and the one background slot.

- **Loads** go download -> load -> ready | error. A newer load supersedes an older one at once: the older
  one's download is stopped at its next progress tick, its progress and state reports are ignored, its
  work-done progress is ended, and an engine it still manages to build is closed unused.
- **Leases**: a job gets the engine current when it asks (`acquire`), runs on that engine and no other, and
  an engine replaced by a reload is closed only after its last lease is released. A job whose engine was
  replaced before the model thread reached it does not run at all (`Stale`).
- **Background slot**: prefill and speculation share one slot; starting a background job cancels the one
  before, and `cancel_background` frees the engine for a real request.
- **Reconnecting**: a remote engine that cannot be reached (at its load, or when a request finds it gone,
  `fail`) is connected again with backoff (RETRY_S), until it serves or other settings are asked for. The user
  is told once per outage; the status says when the next try is. A remote engine whose server now serves another
  model (`renew`) is connected again at once: a new engine, its FIM tokens and context size detected anew.
- **Generations**: the engine being replaced is retired as soon as a load starts, not when the new one is
  installed: results stamped with its generation (the completion cache) are never served again, not even while
  the new model loads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from ..config import ModelSettings
from .base import CancelToken, InfillError
from .loader import Progress, describe
from .remote import Remote

log = logging.getLogger(__name__)

T = TypeVar("T")
State = Literal["loading", "ready", "error"]
Source = ModelSettings | Remote
"""What an engine is made from: a model file, or a remote inference server."""
RETRY_S = (1.0, 2.0, 4.0, 8.0, 10.0)
"""Seconds before each new try to reach a remote engine; the last one repeats."""


class HostedEngine(Protocol):
    """What the host needs of an engine beyond what jobs use."""

    def close(self) -> None: ...

    def file_changed(self) -> bool:
        """The model file is no longer the one loaded (truncated, overwritten, removed)."""
        ...

    def unconfirmed(self) -> bool:
        """Whether what the engine serves is to be confirmed before its earlier answers are served again (a model
        file changed on disk; a remote server's model not checked for a while)."""
        ...


class Stale(Exception):
    """The job's engine was replaced before the job could run."""


class LoadCancelled(Exception):
    """A download stopped because a newer load superseded it."""


Resolve = Callable[[Source, Progress], Path | None]
"""Find (or download, reporting byte counts) the model file; None for a remote engine. Runs on a worker thread."""
Load = Callable[[Path | None, Source], Any]
"""Build an engine from the file (or connect to the server). Runs on the model thread."""


class Events(Protocol):
    """What the host tells the rest of the server."""

    def state_changed(self) -> None: ...

    def load_failed(self, message: str) -> None: ...

    def loaded(self, engine: Any, path: Path | None) -> str:
        """A new engine serves; returns the status message that describes it."""
        ...

    async def progress_begin(self, title: str) -> object | None: ...

    def progress_report(self, handle: object | None, percentage: int, message: str) -> None: ...

    def progress_end(self, handle: object | None, message: str) -> None: ...


@dataclass
class Lease:
    """The right to run jobs on one engine until released."""

    engine: Any
    generation: int
    released: bool = False


@dataclass
class _Load:
    settings: Source
    automatic: bool = False
    """A retry of a remote engine, not a load anyone asked for: its failure is not shown again."""
    cancel: CancelToken = field(default_factory=CancelToken)
    progress: object | None = None
    """The client's work-done progress handle, until ended."""


def in_daemon_thread(fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run `fn(*args)` in a daemon thread: a download stalled on the network must not keep the server from
    exiting (executor threads are joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=work, name="infill-download", daemon=True).start()
    return future


class ModelHost:
    def __init__(self, resolve: Resolve, load: Load, events: Events) -> None:
        self._resolve = resolve
        self._load_engine = load
        self._events = events
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infill-model")
        """The one thread that owns every engine (a Llama object is not thread-safe)."""
        self.engine: Any = None
        """The current engine, once a load has succeeded."""
        self.generation = 0
        """Bumped whenever the current engine is replaced; results carry it, so nothing from an older engine
        is ever served."""
        self.state: State = "loading"
        self.message = "starting"
        self.progress: int | None = None
        """Download/load progress in percent while loading."""
        self.settings: Source | None = None
        """The model settings (or remote server) of the current engine or of the load under way."""
        self._load: _Load | None = None
        self._task: asyncio.Task[None] | None = None
        self._leases: dict[int, int] = {}
        """Open leases per generation."""
        self._retired: dict[int, Any] = {}
        """Replaced engines waiting for their last lease, by generation."""
        self._background: CancelToken | None = None
        self._failures = 0
        """Tries to reach a remote engine that failed in a row."""
        self._retry: asyncio.TimerHandle | None = None

    # --- loading -----------------------------------------------------------------------------------------

    @property
    def remote(self) -> bool:
        """The engine asked for runs on an inference server (shared with others, maybe)."""
        return isinstance(self.settings, Remote)

    def ensure(self, wanted: Source) -> None:
        """Load `wanted` unless it is already loaded or loading. A failed load is retried when asked again
        (a remote engine is also retried by itself while it is being retried)."""
        if wanted == self.settings and (self.state != "error" or self._retry is not None):
            return
        self.reload(wanted)

    def reload(self, wanted: Source, automatic: bool = False) -> None:
        """Start loading `wanted` now, superseding any load under way (and any retry waiting)."""
        if self._load is not None:
            self._load.cancel.cancel("superseded")
            self._end_progress(self._load, "cancelled")
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if not automatic:
            self._failures = 0
        if self.engine is not None:  # nothing of the engine being replaced is served from now on
            self._retire()
        self.settings = wanted
        self._load = _Load(wanted, automatic)
        if not automatic:  # a retry keeps the outage's error in the status until it succeeds
            verb = "connecting to" if isinstance(wanted, Remote) else "loading"
            self.state, self.message, self.progress = "loading", f"{verb} {describe(wanted)}", 0
            self._events.state_changed()
        self._task = asyncio.get_running_loop().create_task(self._run_load(self._load))

    def fail(self, generation: int, message: str) -> None:
        """A request found the remote engine of `generation` unable to serve: drop it and reconnect with
        backoff. Requests failing together report one outage."""
        if generation != self.generation or self.state != "ready" or not isinstance(self.settings, Remote):
            return
        self._set_error(message)

    def renew(self, generation: int, message: str) -> None:
        """A request found that the server of the remote engine of `generation` now serves another model: make a
        new engine at once (a new generation: nothing the old one made is served again)."""
        if generation != self.generation or self.engine is None or self.settings is None:
            return
        log.warning("%s: connecting again", message)
        self.reload(self.settings)

    def _current(self, load: _Load) -> bool:
        return self._load is load and not load.cancel.cancelled

    def _set(self, load: _Load, state: State, message: str, progress: int | None) -> None:
        if self._current(load):
            self.state, self.message, self.progress = state, message, progress
            self._events.state_changed()

    async def _run_load(self, load: _Load) -> None:
        loop = asyncio.get_running_loop()
        ms = load.settings
        verb = "connecting to" if isinstance(ms, Remote) else "loading"
        handle = None if load.automatic else await self._events.progress_begin(f"infill: {verb} {describe(ms)}")
        load.progress = handle
        outcome = "cancelled"
        try:
            last = [-1]

            def on_bytes(done: int, total: int) -> None:  # on the download thread
                if load.cancel.cancelled:
                    raise LoadCancelled
                pct = int(done * 100 / total) if total else 0
                if pct != last[0]:
                    last[0] = pct
                    loop.call_soon_threadsafe(self._downloaded, load, handle, pct)

            # Not on the model thread: a slow download must not hold up the engine that is serving meanwhile.
            path = await in_daemon_thread(self._resolve, ms, on_bytes)
            if not self._current(load):
                return
            if path is not None:
                self._set(load, "loading", f"loading {path.name}", 100)
            engine = await loop.run_in_executor(self.executor, self._load_engine, path, ms)
            if not self._current(load):
                self.executor.submit(engine.close)
                return
            self._install(engine)
            self._load = None
            self._failures = 0
            self.state, self.message, self.progress = "ready", self._events.loaded(engine, path), None
            self._events.state_changed()
            outcome = "ready"
        except LoadCancelled:
            log.info("download of %s stopped: a newer model was asked for", describe(ms))
        except InfillError as exc:
            outcome = "failed"
            if self._current(load):
                self._load = None
                self._set_error(str(exc), quiet=load.automatic)
        except Exception as exc:  # a background task: never let it die silently
            outcome = "failed"
            log.exception("loading %s failed", describe(ms))
            if self._current(load):
                self._load = None
                self._set_error(f"cannot load {describe(ms)}: {exc}", quiet=load.automatic)
        finally:
            self._end_progress(load, outcome)

    def _end_progress(self, load: _Load, message: str) -> None:
        handle, load.progress = load.progress, None
        if handle is not None:
            self._events.progress_end(handle, message)

    def _set_error(self, message: str, quiet: bool = False) -> None:
        """The engine cannot serve: say so (unless `quiet`: a retry failing again), and for a remote engine
        try again after a backoff."""
        self._retire()
        self.state, self.message, self.progress = "error", message, None
        if isinstance(self.settings, Remote):
            delay = RETRY_S[min(self._failures, len(RETRY_S) - 1)]
            self._failures += 1
            self.message = f"{message}; trying again in {delay:g} s"
            self._retry = asyncio.get_running_loop().call_later(delay, self._try_again, self.settings)
        self._events.state_changed()
        if not quiet:
            self._events.load_failed(message)

    def _try_again(self, wanted: Source) -> None:
        self._retry = None
        if self.settings == wanted and self.state == "error":
            log.info("trying %s again", describe(wanted))
            self.reload(wanted, automatic=True)

    def _downloaded(self, load: _Load, handle: object | None, pct: int) -> None:
        if not self._current(load):
            return
        self._set(load, "loading", f"downloading {describe(load.settings).rsplit('/', 1)[-1]}: {pct}%", pct)
        self._events.progress_report(handle, pct, f"downloading {pct}%")

    def _install(self, engine: Any) -> None:
        self._retire()
        self.engine = engine

    def _retire(self) -> None:
        """Replace the current engine by nothing; close it once its last lease is released."""
        self.cancel_background("model replaced")
        old, generation = self.engine, self.generation
        self.engine = None
        self.generation += 1
        if old is not None:
            self._retired[generation] = old
            self._close_if_free(generation)

    def _close_if_free(self, generation: int) -> None:
        if self._leases.get(generation, 0) == 0 and generation in self._retired:
            self.executor.submit(self._retired.pop(generation).close)

    # --- jobs --------------------------------------------------------------------------------------------

    def acquire(self) -> Lease | None:
        """A lease on the current engine, or None while none is ready. A model file changed on disk (truncated,
        overwritten) is reloaded instead: the resident copy no longer matches the file the user names."""
        engine = self.engine
        if engine is None or self.state != "ready":
            return None
        if engine.file_changed():
            log.warning("the model file changed on disk: reloading it")
            assert self.settings is not None
            self.reload(self.settings)
            return None
        self._leases[self.generation] = self._leases.get(self.generation, 0) + 1
        return Lease(engine, self.generation)

    def confirmed(self) -> bool:
        """Whether answers the current engine made may be served without asking it (the answer cache): not while
        what it serves is to be confirmed, so that the request reaches the engine, which checks (and a stale engine
        is replaced) before anything it made is shown again."""
        engine = self.engine
        return engine is not None and self.state == "ready" and not engine.unconfirmed()

    def release(self, lease: Lease) -> None:
        if lease.released:
            return
        lease.released = True
        left = self._leases.get(lease.generation, 0) - 1
        if left > 0:
            self._leases[lease.generation] = left
        else:
            self._leases.pop(lease.generation, None)
            self._close_if_free(lease.generation)

    async def run(self, lease: Lease, job: Callable[[Any], T]) -> T:
        """Run `job(engine)` on the model thread with the lease's engine; raise Stale if it was replaced first."""

        def guarded() -> T:
            if lease.generation != self.generation:
                raise Stale
            return job(lease.engine)

        return await asyncio.get_running_loop().run_in_executor(self.executor, guarded)

    def background(self, lease: Lease, job: Callable[[Any], T], cancel: CancelToken) -> asyncio.Future[T]:
        """Run `job` in the background slot (cancelling the job there before); the lease is released when it ends."""
        self.cancel_background("replaced by newer background work")
        self._background = cancel
        future = asyncio.ensure_future(self.run(lease, job))

        def done(_: asyncio.Future[T]) -> None:
            self.release(lease)
            if self._background is cancel:
                self._background = None

        future.add_done_callback(done)
        return future

    @property
    def busy(self) -> bool:
        """Whether background work (a prefill, a speculation, a warm-up) holds the background slot."""
        return self._background is not None

    def cancel_background(self, reason: str) -> None:
        if self._background is not None:
            self._background.cancel(reason)
            self._background = None
