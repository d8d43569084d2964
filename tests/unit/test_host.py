"""The model host alone: loads superseding each other, leases, the background slot, retries. Fake engines and a
fake resolver stand in for llama.cpp and the hub, so every interleaving is chosen by the test."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infill_ls.config import ModelSettings
from infill_ls.engine.base import CancelToken, InfillError
from infill_ls.engine.host import ModelHost, Stale
from infill_ls.engine.loader import Progress


@dataclass
class FakeEngine:
    name: str
    closed: bool = False
    changed: bool = False
    calls: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.closed = True

    def file_changed(self) -> bool:
        return self.changed

    def use(self, what: str) -> str:
        assert not self.closed, f"{self.name} used after close"
        self.calls.append(what)
        return f"{self.name}:{what}"


class Events:
    def __init__(self) -> None:
        self.begun: list[str] = []
        self.ended: list[tuple[str, str]] = []
        self.failures: list[str] = []
        self.states: list[str] = []

    def state_changed(self) -> None:
        pass

    def load_failed(self, message: str) -> None:
        self.failures.append(message)

    def loaded(self, engine: Any, path: Path) -> str:
        return f"loaded {engine.name}"

    async def progress_begin(self, title: str) -> object | None:
        self.begun.append(title)
        return title

    def progress_report(self, handle: object | None, percentage: int, message: str) -> None:
        pass

    def progress_end(self, handle: object | None, message: str) -> None:
        self.ended.append((str(handle), message))


class Hub:
    """Resolves `path` settings at once; repo/file settings 'download' until released or cancelled."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.stopped: list[str] = []
        self.missing: set[str] = set()

    def resolve(self, ms: ModelSettings, progress: Progress) -> Path:
        if ms.path:
            if ms.path in self.missing:
                raise InfillError(f"model file not found: {ms.path}")
            return Path(ms.path)
        done = 0
        while not self.release.wait(0.005):
            done += 1
            try:
                progress(done, 1000)
            except BaseException:
                self.stopped.append(ms.file)
                raise
        return Path(ms.file)


def load(path: Path, ms: ModelSettings) -> FakeEngine:
    return FakeEngine(path.name)


async def until(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def make() -> tuple[ModelHost, Events, Hub]:
    events, hub = Events(), Hub()
    return ModelHost(hub.resolve, load, events), events, hub


async def test_a_local_path_supersedes_a_download_under_way() -> None:
    host, events, hub = make()
    host.ensure(ModelSettings(repo="org/repo", file="big.gguf"))
    await until(lambda: host.message.startswith("downloading"))
    host.ensure(ModelSettings(path="/models/small.gguf"))
    await until(lambda: host.state == "ready")
    assert host.engine.name == "small.gguf"
    await until(lambda: hub.stopped == ["big.gguf"])
    await asyncio.sleep(0.05)  # the stopped download must not report again
    assert (host.state, host.message) == ("ready", "loaded small.gguf")
    assert len(events.ended) == len(events.begun) == 2
    assert dict(events.ended)[events.begun[0]] == "cancelled"


async def test_an_engine_is_closed_only_after_its_last_lease() -> None:
    host, _, _ = make()
    host.ensure(ModelSettings(path="/m/a.gguf"))
    await until(lambda: host.state == "ready")
    lease = host.acquire()
    assert lease is not None
    old = lease.engine
    host.ensure(ModelSettings(path="/m/b.gguf"))
    await until(lambda: host.state == "ready")
    assert host.engine.name == "b.gguf"
    assert not old.closed, "closed while a job still held it"
    with pytest.raises(Stale):  # replaced before the job reached the model thread: it does not run
        await host.run(lease, lambda engine: engine.use("late"))
    assert old.calls == []
    host.release(lease)
    await host.run(host.acquire(), lambda engine: engine.use("flush"))  # the close is queued before this
    assert old.closed


async def test_a_new_background_job_cancels_the_one_before() -> None:
    host, _, _ = make()
    host.ensure(ModelSettings(path="/m/a.gguf"))
    await until(lambda: host.state == "ready")
    gate = threading.Event()
    first, second = CancelToken(), CancelToken()
    one = host.background(host.acquire(), lambda e: gate.wait(5) and first.cancelled, first)
    two = host.background(host.acquire(), lambda e: second.cancelled, second)
    assert first.cancelled and not second.cancelled
    gate.set()
    assert await one is True
    assert await two is False
    await asyncio.sleep(0)  # the slot is freed by the job's done callback
    host.cancel_background("real request")
    assert not second.cancelled, "a finished job's token is no longer the slot's"


async def test_a_failed_load_is_retried_when_asked_again() -> None:
    host, events, hub = make()
    hub.missing.add("/m/late.gguf")
    host.ensure(ModelSettings(path="/m/late.gguf"))
    await until(lambda: host.state == "error")
    assert events.failures == ["model file not found: /m/late.gguf"]
    hub.missing.clear()
    host.ensure(ModelSettings(path="/m/late.gguf"))
    await until(lambda: host.state == "ready")
    assert host.engine.name == "late.gguf"


async def test_a_model_file_changed_on_disk_is_reloaded() -> None:
    host, _, _ = make()
    host.ensure(ModelSettings(path="/m/a.gguf"))
    await until(lambda: host.state == "ready")
    first = host.engine
    first.changed = True
    assert host.acquire() is None
    await until(lambda: host.state == "ready" and host.engine is not first)
    await host.run(host.acquire(), lambda engine: engine.use("flush"))
    assert first.closed


async def test_a_load_superseded_while_loading_closes_its_engine_unused() -> None:
    built: list[FakeEngine] = []
    gate = threading.Event()

    def slow_load(path: Path, ms: ModelSettings) -> FakeEngine:
        if path.name == "slow.gguf":
            gate.wait(5)
        built.append(FakeEngine(path.name))
        return built[-1]

    events, hub = Events(), Hub()
    host = ModelHost(hub.resolve, slow_load, events)
    host.ensure(ModelSettings(path="/m/slow.gguf"))
    await until(lambda: host.message == "loading slow.gguf")
    host.ensure(ModelSettings(path="/m/fast.gguf"))
    gate.set()
    await until(lambda: host.state == "ready")
    await host.run(host.acquire(), lambda engine: engine.use("flush"))
    assert host.engine.name == "fast.gguf"
    assert [(e.name, e.closed) for e in built] == [("slow.gguf", True), ("fast.gguf", False)]
    assert len(events.ended) == 2
