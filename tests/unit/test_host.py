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
from infill_ls.engine.remote import Remote, Unavailable


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

    def unconfirmed(self) -> bool:
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


async def test_answers_are_confirmed_only_while_the_engine_is() -> None:
    """The answer cache may serve the current engine's answers only while nothing it serves is to be confirmed."""
    host, _, _ = make()
    assert not host.confirmed()  # nothing loaded
    host.ensure(ModelSettings(path="/m/a.gguf"))
    await until(lambda: host.state == "ready")
    assert host.confirmed()
    host.engine.changed = True
    assert not host.confirmed()


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


class Servers:
    """Connects to a fake remote engine while `up`; counts the tries."""

    def __init__(self) -> None:
        self.up = False
        self.tries = 0

    def resolve(self, source: Any, progress: Progress) -> None:
        return None

    def load(self, path: Path | None, source: Remote) -> FakeEngine:
        self.tries += 1
        if not self.up:
            raise Unavailable(f"cannot reach the inference server at {source.host}: connection refused")
        return FakeEngine(source.host)


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Servers:
    monkeypatch.setattr("infill_ls.engine.host.RETRY_S", (0.01, 0.02))
    return Servers()


async def test_remote_engine_is_retried_until_it_serves_and_told_once_per_outage(servers: Servers) -> None:
    events = Events()
    host = ModelHost(servers.resolve, servers.load, events)  # type: ignore[arg-type]
    host.ensure(Remote("http://gpu:8080"))
    await until(lambda: servers.tries >= 4)
    assert host.state == "error" and "trying again" in host.message
    assert events.failures == ["cannot reach the inference server at gpu:8080: connection refused"]
    servers.up = True
    await until(lambda: host.state == "ready")
    first = host.generation
    host.fail(first - 1, "from an older engine")  # a late report about an engine already replaced
    assert host.state == "ready"
    servers.up = False
    host.fail(first, "the inference server at gpu:8080 closed the connection")
    host.fail(first, "the inference server at gpu:8080 closed the connection")  # a second request, same outage
    assert host.state == "error"
    await until(lambda: servers.tries >= 8)
    servers.up = True
    await until(lambda: host.state == "ready")
    assert events.failures[1:] == ["the inference server at gpu:8080 closed the connection"]
    assert host.generation > first


async def test_other_settings_stop_the_retries(servers: Servers) -> None:
    host = ModelHost(servers.resolve, servers.load, Events())  # type: ignore[arg-type]
    host.ensure(Remote("http://gpu:8080"))
    await until(lambda: servers.tries >= 2)
    host.ensure(Remote("http://other:8080"))
    tries = servers.tries
    servers.up = True
    await until(lambda: host.state == "ready")
    await asyncio.sleep(0.1)
    assert host.engine.name == "other:8080" and servers.tries == tries + 1


async def test_a_local_model_is_not_retried(servers: Servers) -> None:
    hub = Hub()
    hub.missing.add("/m/gone.gguf")
    host = ModelHost(hub.resolve, load, Events())  # type: ignore[arg-type]
    host.ensure(ModelSettings(path="/m/gone.gguf"))
    await until(lambda: host.state == "error")
    await asyncio.sleep(0.1)
    assert host.state == "error" and "trying again" not in host.message


async def test_a_reload_retires_the_engine_before_the_new_one_loads() -> None:
    """Issue 21, 9c: results stamped with the old generation stop being served when the switch is asked for, not
    when the new model is ready (its download may take minutes)."""
    host, _, hub = make()
    host.ensure(ModelSettings(path="/m/a.gguf"))
    await until(lambda: host.state == "ready")
    old, generation = host.engine, host.generation
    host.ensure(ModelSettings(repo="org/repo", file="big.gguf"))  # downloads until released
    assert (host.state, host.engine, host.generation > generation) == ("loading", None, True)
    await until(lambda: old.closed)
    hub.release.set()
    await until(lambda: host.state == "ready")
    assert host.engine.name == "big.gguf"


async def test_a_remote_engine_is_renewed_at_once_when_its_server_serves_another_model(servers: Servers) -> None:
    servers.up = True
    events = Events()
    host = ModelHost(servers.resolve, servers.load, events)  # type: ignore[arg-type]
    host.ensure(Remote("http://gpu:8080"))
    await until(lambda: host.state == "ready")
    first, generation = host.engine, host.generation
    host.renew(generation - 1, "a late report about an engine already replaced")
    assert host.engine is first
    host.renew(generation, "the inference server at gpu:8080 now serves b.gguf, not a.gguf")
    assert host.generation > generation and host.state == "loading"
    await until(lambda: host.state == "ready")
    assert host.engine is not first and servers.tries == 2 and events.failures == []
