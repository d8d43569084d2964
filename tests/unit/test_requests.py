"""The request flow alone (completion/requests.py), without LSP and without llama.cpp: a scripted engine answers
by seed, so which answers come from the model, the cache, typing-through or a speculation is chosen by the test,
and the engine's calls are counted."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infill_ls.completion.answers import AnswerCache
from infill_ls.completion.crossfile.sources import CrossFileSources, Document
from infill_ls.completion.prompt import NO_BLOCK
from infill_ls.completion.requests import Completed, FlowOptions, Requests
from infill_ls.completion.scheduler import Scheduler
from infill_ls.config import DEFAULT_EXCLUDE, ContextSettings, ModelSettings, Settings
from infill_ls.engine.base import CancelToken, Generation, GenerationParams, GenerationStats, InfillError
from infill_ls.engine.host import ModelHost
from infill_ls.engine.remote import Remote
from infill_ls.engine.states import NO_FIGURES, WarmFigures
from infill_ls.exclusion import Exclusions
from infill_ls.models import FimTokens
from infill_ls.status import Status

URI = "file:///w/a.py"
FIM = FimTokens("scripted", 1, 2, 3, frozenset({4}), False)


@dataclass
class ScriptedEngine:
    """An Engine whose answer depends only on the seed: `replies[seed]` (an InfillError when it is one)."""

    replies: Mapping[int, str | InfillError]
    fim: FimTokens = FIM
    add_bos: bool = False
    bos: int | None = None
    context_size: int = 4096
    heals: bool = False
    calls: list[GenerationParams] = field(default_factory=list)

    def piece(self, token: int) -> str:
        return chr(token - 256)

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) + 256 for c in text]

    def tokenize_infill(self, text: str) -> list[int]:
        return self.tokenize(text)

    def generate(self, prompt: Sequence[int], params: GenerationParams, cancel: CancelToken) -> Generation:
        self.calls.append(params)
        if params.max_tokens == 0:
            return Generation("", GenerationStats(len(prompt), evaluated_tokens=len(prompt), stop_reason="max_tokens"))
        reply = self.replies[params.seed]
        if isinstance(reply, InfillError):
            raise reply
        return Generation(reply, GenerationStats(len(prompt), evaluated_tokens=len(prompt),
                                                 generated_tokens=len(reply), stop_reason="eos"))

    def close(self) -> None:
        pass

    def file_changed(self) -> bool:
        return False

    def unconfirmed(self) -> bool:
        return False

    def keep_warm(self, memory_mb: int) -> None:
        pass

    def warm(self) -> WarmFigures:
        return NO_FIGURES


class HostEvents:
    def state_changed(self) -> None:
        pass

    def load_failed(self, message: str) -> None:
        raise AssertionError(message)

    def loaded(self, engine: Any, path: Path | None) -> str:
        return "scripted"

    async def progress_begin(self, title: str) -> object | None:
        return None

    def progress_report(self, handle: object | None, percentage: int, message: str) -> None:
        pass

    def progress_end(self, handle: object | None, message: str) -> None:
        pass


@dataclass
class Doc:
    uri: str
    source: str
    version: int | None = 1


@dataclass
class Workspace:
    docs: dict[str, Document] = field(default_factory=dict)

    def documents(self) -> Mapping[str, Document] | None:
        return self.docs

    def folders(self) -> list[Path]:
        return []


class CountingSources(CrossFileSources):
    """Counts the cross-file blocks asked for."""

    def __init__(self, exclusions: Exclusions) -> None:
        super().__init__(exclusions)
        self.built = 0

    def extra(self, *args: Any, **kwargs: Any) -> Any:
        self.built += 1
        return super().extra(*args, **kwargs)


async def flow(engine: ScriptedEngine, speculate: bool = False, alternatives: int = 1,
               workspace: Workspace | None = None, remote: bool = False) -> tuple[Requests, CountingSources]:
    host = ModelHost(lambda source, progress: Path("scripted.gguf"), lambda path, source: engine, HostEvents())
    exclusions = Exclusions(DEFAULT_EXCLUDE)
    sources = CountingSources(exclusions)
    status = Status(host, exclusions, lambda payload: None)
    requests = Requests(host, Scheduler(), AnswerCache(), sources, exclusions, status,
                        workspace or Workspace(), FlowOptions(speculate=speculate))
    settings = Settings()
    requests.settings = dataclasses.replace(
        settings, completion=dataclasses.replace(settings.completion, alternatives=alternatives),
        context=ContextSettings(enable=False))
    host.ensure(Remote("http://127.0.0.1:9") if remote else ModelSettings(path="scripted.gguf"))
    await until(lambda: host.state == "ready")
    return requests, sources


async def until(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def ask(requests: Requests, text: str, kind: str = "inline", automatic: bool = False) -> Completed:
    return await requests.complete(URI, kind, text, len(text), automatic)


@pytest.mark.parametrize(
    ("second", "expected", "calls"),
    [
        ("x = ", Completed("42", "cache"), 1),
        ("x = 4", Completed("2", "typed-through"), 1),
        ("y = ", Completed("42", "model"), 2),
    ],
    ids=["same-spot-from-the-cache", "typed-through", "elsewhere-from-the-model"],
)
async def test_where_the_second_answer_comes_from(second: str, expected: Completed, calls: int) -> None:
    engine = ScriptedEngine({0: "42"})
    requests, _ = await flow(engine)
    assert await ask(requests, "x = ") == Completed("42", "model")
    assert (await ask(requests, second), len(engine.calls)) == (expected, calls)
    stats = requests.status.stats
    assert (stats.requests, stats.modelCalls, stats.cacheHits + stats.typedThrough) == (2, calls, 2 - calls)


@pytest.mark.parametrize(
    ("kind", "automatic", "replies", "expected", "seeds"),
    [
        ("inline", False, {0: "42", 1: "43", 2: "42"}, ("42", "43"), [0, 1, 2]),
        ("inline", False, {0: "42", 1: "", 2: "44"}, ("42", "44"), [0, 1, 2]),
        ("inline", True, {0: "42", 1: "43", 2: "44"}, ("42",), [0]),
        ("menu", False, {0: "42", 1: "43", 2: "44"}, ("42",), [0]),
    ],
    ids=["duplicate-dropped", "empty-dropped", "automatic-one-item", "menu-one-item"],
)
async def test_an_invoked_inline_request_samples_alternatives(
    kind: str, automatic: bool, replies: dict[int, str], expected: tuple[str, ...], seeds: list[int]
) -> None:
    engine = ScriptedEngine(replies)
    requests, _ = await flow(engine, alternatives=3)
    requests.settings = dataclasses.replace(
        requests.settings, completion=dataclasses.replace(requests.settings.completion, debounceMs=0))
    done = await ask(requests, "x = ", kind, automatic)
    assert (done.texts, [p.seed for p in engine.calls]) == (expected, seeds)


async def test_a_skipped_request_builds_no_cross_file_block_and_calls_no_model() -> None:
    engine = ScriptedEngine({0: "42"})
    requests, sources = await flow(engine)
    done = await requests.complete(URI, "inline", "x = foo", 5, automatic=True)  # cursor inside a word
    assert (done, sources.built, len(engine.calls)) == (Completed("", "none"), 0, 0)
    await ask(requests, "x = ")
    assert sources.built == 1


async def test_an_excluded_document_is_never_read() -> None:
    secret = "file:///w/.env"
    engine = ScriptedEngine({0: "42"})
    requests, sources = await flow(engine, workspace=Workspace({secret: Doc(secret, "KEY=")}))
    done = await requests.complete(secret, "inline", "KEY=", 4, automatic=False)
    assert (done, sources.built, len(engine.calls)) == (Completed("", "none"), 0, 0)
    assert secret in requests.exclusions.open


async def test_an_engine_failure_costs_one_completion() -> None:
    engine = ScriptedEngine({0: InfillError("scripted failure")})
    requests, _ = await flow(engine)
    assert await ask(requests, "x = ") == Completed("", "none")
    engine.replies = {0: "42"}
    assert await ask(requests, "x = ") == Completed("42", "model")
    assert requests.status.generating == 0


async def test_the_accepted_answer_is_speculated_and_served_from_the_speculation() -> None:
    engine = ScriptedEngine({0: "42"})
    requests, _ = await flow(engine, speculate=True)
    assert await ask(requests, "x = ") == Completed("42", "model")
    await until(lambda: requests.status.stats.speculations == 1 and requests.status.speculation is None)
    assert await ask(requests, "x = 42") == Completed("42", "speculation")
    assert (len(engine.calls), requests.status.stats.speculativeHits) == (2, 1)


@pytest.mark.parametrize(
    ("remote", "speculate", "warmups"),
    [
        pytest.param(False, False, 1, id="in-process-always"),
        pytest.param(True, False, 0, id="remote-not-without-engine-speculate"),
        pytest.param(True, True, 1, id="remote-with-engine-speculate"),
    ],
)
async def test_a_focus_warms_up_on_a_remote_engine_only_when_asked(remote: bool, speculate: bool,
                                                                   warmups: int) -> None:
    engine = ScriptedEngine({0: "x"})
    requests, _ = await flow(engine, remote=remote)
    requests.settings = dataclasses.replace(requests.settings, engine=dataclasses.replace(
        requests.settings.engine, speculate=speculate))
    requests.focused(URI, "def f():\n    return ", 20)
    await until(lambda: not requests.host.busy)
    assert requests.status.stats.warmups == warmups
    assert [p.max_tokens for p in engine.calls] == [0] * warmups  # a prefill: the prompt only
    # a context block made stale elsewhere is kept only where a warm-up will renew it
    modes: list[str] = []
    requests.sources.extra = lambda *args: modes.append(args[-1]) or NO_BLOCK  # type: ignore[method-assign]
    await ask(requests, "y = ")
    assert modes == ["keep" if warmups else "rebuild"]


async def test_a_focus_while_a_request_runs_waits_for_it() -> None:
    engine = ScriptedEngine({0: "x"})
    requests, _ = await flow(engine)
    requests.status.generating += 1  # a real request runs
    requests.focused(URI, "def f():\n    return ", 20)
    assert requests.status.stats.warmups == 0
    requests.status.generating -= 1
    await ask(requests, "y = ")  # when it ends the warm-up starts (the request itself cleared an older focus)
    requests.focused(URI, "def f():\n    return ", 20)
    await until(lambda: not requests.host.busy)
    assert requests.status.stats.warmups == 1


@dataclass
class GatedPrefill(ScriptedEngine):
    """Prefills 64 tokens a chunk, each chunk when the test lets it go, checking the cancel before each (as
    LlamaEngine does): how many chunks a warm-up evaluates after a request arrived is counted, not timed."""

    gate: threading.Event = field(default_factory=threading.Event)
    evaluating: threading.Event = field(default_factory=threading.Event)

    def generate(self, prompt: Sequence[int], params: GenerationParams, cancel: CancelToken) -> Generation:
        if params.max_tokens:
            return super().generate(prompt, params, cancel)
        self.calls.append(params)
        done = 0
        while done < len(prompt) and not cancel.cancelled:
            self.evaluating.set()
            assert self.gate.wait(5), "the test never let the chunk go"
            self.gate.clear()
            done = min(len(prompt), done + 64)
        return Generation("", GenerationStats(len(prompt), evaluated_tokens=done, stop_reason="max_tokens"))


async def test_a_request_during_a_warm_up_waits_for_one_chunk_at_most() -> None:
    engine = GatedPrefill({0: "x"})
    requests, _ = await flow(engine)
    requests.focused(URI, "x = 1\n" * 200, 1200)  # a prompt of 1,200 tokens: 19 chunks
    await until(engine.evaluating.is_set)  # the warm-up evaluates its first chunk
    asked = asyncio.ensure_future(ask(requests, "y = "))
    await until(lambda: requests.status.generating > 0)  # the request has asked for the engine
    engine.gate.set()  # the chunk under way ends; the warm-up sees the cancel before the next
    assert (await asked).text == "x"
    assert (requests.status.stats.warmups, requests.status.stats.warmupTokens) == (1, 64)
