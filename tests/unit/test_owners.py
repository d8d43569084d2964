"""The server's owners alone, without LSP: the answer cache (stamps), the scheduler (streams, shared
runs, linked tokens) and the status's coalescing."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from infill_ls.completion import pipeline
from infill_ls.completion.answers import AnswerCache, Stamp
from infill_ls.completion.scheduler import LinkedCancel, Scheduler, SharedCancel
from infill_ls.config import CompletionSettings
from infill_ls.engine.base import CancelToken
from infill_ls.status import Coalescer

SETTINGS = CompletionSettings()
STAMP = Stamp(SETTINGS, 1)


def plan(text: str, offset: int | None = None) -> pipeline.Plan:
    return pipeline.plan(text, len(text) if offset is None else offset, SETTINGS, automatic=False)


@pytest.mark.parametrize(
    ("stored", "asked", "text", "expected"),
    [
        (STAMP, STAMP, "x = ", ("cache", " 42")),
        (STAMP, Stamp(SETTINGS, 2), "x = ", None),
        (STAMP, Stamp(dataclasses.replace(SETTINGS, maxTokens=8), 1), "x = ", None),
        (STAMP, STAMP, "y = ", None),
    ],
    ids=["same-stamp", "newer-engine", "other-settings", "other-context"],
)
def test_the_cache_serves_only_under_the_same_stamp(
    stored: Stamp, asked: Stamp, text: str, expected: tuple[str, str] | None
) -> None:
    service = AnswerCache()
    service.remember("a", plan("x = "), stored, " 42")
    service.shown.clear()
    answer = service.answer("a", plan(text), asked)
    assert (None if answer is None else (answer.source, answer.text)) == expected


@pytest.mark.parametrize(
    ("asked", "typed", "expected"),
    [(STAMP, "4", "2"), (Stamp(SETTINGS, 2), "4", None), (STAMP, "5", None)],
    ids=["typed-through", "not-after-a-model-change", "typed-something-else"],
)
def test_typing_through_needs_the_same_stamp(asked: Stamp, typed: str, expected: str | None) -> None:
    service = AnswerCache()
    service.remember("a", plan("x = "), STAMP, "42")
    answer = service.answer("a", plan("x = " + typed), asked)
    assert (None if answer is None else answer.text) == expected


def test_a_speculated_result_is_counted_as_such() -> None:
    service = AnswerCache()
    service.store_speculation(plan("x = 42"), STAMP, "\n")
    answer = service.answer("a", plan("x = 42"), STAMP)
    assert answer is not None and answer.source == "speculation"


@pytest.mark.parametrize(
    ("cancelled", "expected"),
    [((), False), ((0,), False), ((0, 1), True)],
    ids=["none-left", "one-of-two-left", "both-left"],
)
def test_a_shared_run_stops_only_when_every_request_left(cancelled: tuple[int, ...], expected: bool) -> None:
    shared, waiters = SharedCancel(), [CancelToken(), CancelToken()]
    for waiter in waiters:
        shared.join(waiter)
    for i in cancelled:
        waiters[i].cancel("superseded")
    assert shared.cancelled is expected


def test_a_linked_token_follows_its_parent_and_shares_its_owner() -> None:
    parent = CancelToken()
    child = LinkedCancel(parent)
    assert child.owner is parent.owner and not child.cancelled
    child.cancel("background replaced")
    assert child.cancelled and not parent.cancelled
    other = LinkedCancel(parent)
    parent.cancel("superseded")
    assert other.cancelled


@pytest.mark.parametrize(
    ("second", "first_cancelled"),
    [(("a", "inline"), True), (("a", "menu"), False), (("b", "inline"), False)],
    ids=["same-stream", "other-kind", "other-document"],
)
def test_a_request_supersedes_only_its_own_stream(second: tuple[str, str], first_cancelled: bool) -> None:
    scheduler = Scheduler()
    first = scheduler.begin("a", "inline")
    scheduler.begin(*second)
    assert first.cancel.cancelled is first_cancelled


async def test_identical_requests_wait_on_one_run() -> None:
    scheduler = Scheduler()
    started: list[CancelToken] = []
    gate = asyncio.Event()

    async def run(cancel: CancelToken) -> str:
        started.append(cancel)
        await gate.wait()
        return "text"

    inline, menu = scheduler.begin("a", "inline"), scheduler.begin("a", "menu")
    both = asyncio.gather(scheduler.shared("k", inline, run), scheduler.shared("k", menu, run))
    await asyncio.sleep(0)
    inline.cancel.cancel("superseded")  # one request leaving does not stop the other's answer
    gate.set()
    assert await both == [("text", False), ("text", True)]
    assert len(started) == 1 and not started[0].cancelled
    assert scheduler.runs == {}


async def test_status_changes_close_together_are_sent_as_one() -> None:
    sent: list[dict[str, Any]] = []
    figures = {"requests": 0}
    status = Coalescer(lambda: dict(figures), sent.append, interval=0.05)
    for _ in range(5):
        figures["requests"] += 1
        status.changed()
    await asyncio.sleep(0.01)
    assert sent == [{"requests": 5}]
    figures["requests"] += 1
    status.changed()
    status.changed()
    await asyncio.sleep(0.1)
    assert sent == [{"requests": 5}, {"requests": 6}]
    figures["requests"] += 1
    status.flush()
    assert sent[-1] == {"requests": 7}
    status.changed()
    status.flush()  # nothing new: the client already has this status
    await asyncio.sleep(0.1)
    assert len(sent) == 3


async def test_status_sends_nothing_after_close() -> None:
    """After `shutdown` the stream may close at any moment: a pending or later status must not be written."""
    sent: list[dict[str, Any]] = []
    figures = {"requests": 0}
    status = Coalescer(lambda: dict(figures), sent.append, interval=0.05)
    status.changed()
    await asyncio.sleep(0.01)
    figures["requests"] += 1
    status.changed()  # pending: due 50 ms after the first
    status.close()
    figures["requests"] += 1
    status.changed()
    status.flush()
    await asyncio.sleep(0.1)
    assert sent == [{"requests": 0}]
