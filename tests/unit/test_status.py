"""Status alone: each event's figures, and the payload it builds from the owners it reads (docs/protocol.md,
editors/vscode/src/core/status.ts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from infill_ls.config import ModelSettings
from infill_ls.engine.base import CancelToken, GenerationStats
from infill_ls.engine.remote import Remote
from infill_ls.status import Status, StatusPayload


@dataclass
class Host:
    state: str = "ready"
    message: str = "loaded"
    progress: int | None = None
    settings: Any = None
    engine: Any = None


@dataclass
class Excluded:
    open: dict[str, str] = field(default_factory=dict)


def make(host: Host | None = None, excluded: dict[str, str] | None = None) -> Status:
    return Status(host or Host(), Excluded(excluded or {}), lambda payload: None)


CALL = GenerationStats(prompt_tokens=10, reused_tokens=4, evaluated_tokens=6, generated_tokens=3)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (lambda s: s.request(), {"requests": 1}),
        (lambda s: s.dropped(), {"dropped": 1}),
        (lambda s: s.answered("cache"), {"cacheHits": 1}),
        (lambda s: s.answered("speculation"), {"cacheHits": 1, "speculativeHits": 1}),
        (lambda s: s.answered("typed-through"), {"typedThrough": 1}),
        (lambda s: s.answered("shared"), {"shared": 1}),
        (lambda s: (s.call_started(), s.call_ended()), {"modelCalls": 1}),
        (lambda s: s.call_cancelled(), {"cancelled": 1}),
        (lambda s: s.call_stats(CALL, False, False), {"evaluatedTokens": 6, "reusedTokens": 4, "generatedTokens": 3}),
        (lambda s: s.call_stats(CALL, False, True),
         {"evaluatedTokens": 6, "reusedTokens": 4, "generatedTokens": 3, "wastedTokens": 3, "cancelled": 1}),
        (lambda s: s.call_stats(CALL, True, True),
         {"evaluatedTokens": 6, "reusedTokens": 4, "generatedTokens": 3, "speculativeWastedTokens": 3}),
        (lambda s: s.prefilled(7), {"evaluatedTokens": 7}),
        (lambda s: s.warmup_started(), {"warmups": 1}),
        (lambda s: s.warmed(9), {"warmupTokens": 9, "evaluatedTokens": 9}),
    ],
    ids=["request", "drop", "cache", "speculation-hit", "typed-through", "shared", "model-call", "cancelled",
         "call-tokens", "cancelled-call-wastes", "cancelled-speculation-wastes", "prefill", "warm-up", "warmed"],
)
def test_each_event_writes_its_figures(event: Callable[[Status], object], expected: dict[str, int]) -> None:
    status = make()
    before = status.payload()["stats"]
    event(status)
    after = status.payload()["stats"]
    assert {k: v for k, v in after.items() if v != before[k]} == expected


@pytest.mark.parametrize(
    ("stored", "cancelled", "expected"),
    [(True, False, {"speculations": 1}), (False, True, {"speculationsCancelled": 1}), (False, False, {})],
    ids=["stored", "cut-short", "failed"],
)
def test_a_speculation_shows_while_it_runs(stored: bool, cancelled: bool, expected: dict[str, int]) -> None:
    status = make()
    cancel = CancelToken()
    status.speculation_started(cancel)
    assert status.payload()["speculating"]
    if cancelled:
        cancel.cancel("real request")
    status.speculation_ended(cancel, stored)
    payload = status.payload()
    assert not payload["speculating"]
    assert {k: v for k, v in payload["stats"].items() if v} == expected


class WarmEngine:
    def warm(self) -> dict[str, int]:
        return {"files": 2, "tokens": 300, "bytes": 6000, "budgetBytes": 10_000}


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        pytest.param(None, {"files": 0, "tokens": 0, "bytes": 0, "budgetBytes": 0}, id="no-engine-zeros"),
        pytest.param(WarmEngine(), {"files": 2, "tokens": 300, "bytes": 6000, "budgetBytes": 10_000},
                     id="the-engine-says"),
    ],
)
def test_warm_comes_from_the_engine(engine: Any, expected: dict[str, int]) -> None:
    assert make(Host(engine=engine)).payload()["warm"] == expected


def test_the_payload_has_every_field_of_the_protocol() -> None:
    payload = make(excluded={"file:///w/.env": "matches \".env\""}).payload()
    assert set(payload) == set(StatusPayload.__annotations__)
    assert (payload["state"], payload["engine"], payload["excluded"]) == (
        "ready", {"kind": "local"}, {"file:///w/.env": "matches \".env\""})


@pytest.mark.parametrize(
    ("settings", "enabled", "expected"),
    [
        (ModelSettings(path="/m/coder.gguf"), True, ("ready", "coder.gguf", {"kind": "local"})),
        (ModelSettings(path="/m/coder.gguf"), False, ("disabled", "coder.gguf", {"kind": "local"})),
        (Remote(url="http://gpu:8080"), True,
         ("ready", None, {"kind": "remote", "url": "http://gpu:8080", "host": "gpu:8080", "api": None,
                          "model": None})),
    ],
    ids=["local", "disabled", "remote-not-yet-connected"],
)
def test_the_payload_names_the_model_and_the_engine(
    settings: Any, enabled: bool, expected: tuple[str, str | None, dict[str, Any]]
) -> None:
    status = make(Host(settings=settings))
    status.configured(enabled, settings if isinstance(settings, ModelSettings) else ModelSettings())
    payload = status.payload()
    assert (payload["state"], payload["model"], payload["engine"]) == expected


def test_the_last_call_figures() -> None:
    status = make()
    status.last_call(GenerationStats(prompt_tokens=10, ttft_ms=1.234, total_ms=5.678, server={"prompt_n": 1.0}),
                     {"prompt": 0.5}, 40.0, 12.34)
    payload = status.payload()
    assert (payload["lastLatencyMs"], payload["last"]["modelMs"], payload["last"]["server"]) == (
        12.3, 5.68, {"prompt_n": 1.0})
