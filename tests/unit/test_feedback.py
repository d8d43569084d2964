"""The acceptance statistics alone (feedback.py): where the file lives, what each event counts, the daily rows and
the report, and a store that cannot write turning itself off without an error reaching a request."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from infill_ls.feedback import Feedback, StatsStore, parse_days, parse_feedback, rate, read_report, state_dir

DAY = datetime.date(2026, 3, 10)


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        pytest.param({"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}, "linux", "/x/state/infill-ls", id="xdg"),
        pytest.param({"HOME": "/home/u"}, "linux", "/home/u/.local/state/infill-ls", id="linux-default"),
        pytest.param({"HOME": "/home/u", "XDG_STATE_HOME": ""}, "linux", "/home/u/.local/state/infill-ls",
                     id="empty-xdg-is-unset"),
        pytest.param({"HOME": "/Users/u"}, "darwin", "/Users/u/Library/Application Support/infill-ls", id="macos"),
        pytest.param({"HOME": "/Users/u", "XDG_STATE_HOME": "/s"}, "darwin", "/s/infill-ls", id="macos-xdg-wins"),
        pytest.param({"USERPROFILE": "C:/Users/u", "LOCALAPPDATA": "C:/Users/u/AppData/Local"}, "win32",
                     "C:/Users/u/AppData/Local/infill-ls", id="windows"),
    ],
)
def test_state_dir(env: dict[str, str], platform: str, expected: str) -> None:
    assert state_dir(env, platform) == Path(expected)


def store(tmp_path: Path, day: datetime.date = DAY) -> StatsStore:
    return StatsStore(tmp_path / "state" / "stats.sqlite3", today=lambda: day)


def report(s: StatsStore, days: int = 7) -> dict[str, Any]:
    s.flush()
    return dict(read_report(s.path, days, s.today(), s.writing))


def counts(s: StatsStore, language: str = "python") -> dict[str, Any]:
    rows = {row["language"]: row for row in report(s)["rows"]}
    return dict(rows[language]) if language in rows else {}


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([], {"answered": 1}, id="answered-only-like-helix"),
        pytest.param([("accepted", None)], {"answered": 1, "accepted": 1, "acceptedChars": 5}, id="accepted-whole"),
        pytest.param([("accepted", None), ("accepted", None)], {"answered": 1, "accepted": 1, "acceptedChars": 5},
                     id="accepted-once-whichever-way"),
        pytest.param([("shown", None), ("shown", None)], {"answered": 1, "shown": 1}, id="shown-once"),
        pytest.param([("acceptedPart", 2), ("acceptedPart", 1)], {"answered": 1, "acceptedPart": 1, "acceptedChars": 3},
                     id="parts-count-once-chars-add"),
        pytest.param([("acceptedPart", 2), ("accepted", None)], {"answered": 1, "accepted": 1, "acceptedChars": 5},
                     id="part-then-rest-is-one-accept"),
        pytest.param([("acceptedPart", 2), ("dismissed", None)],
                     {"answered": 1, "acceptedPart": 1, "dismissed": 1, "acceptedChars": 2}, id="part-then-dismissed"),
        pytest.param([("dismissed", None), ("accepted", None)], {"answered": 1, "dismissed": 1},
                     id="terminal-outcome-once"),
        pytest.param([("accepted", None), ("typedOver", None)], {"answered": 1, "accepted": 1, "acceptedChars": 5},
                     id="accepted-then-typed-over-ignored"),
        pytest.param([("typedOver", None)], {"answered": 1, "typedOver": 1}, id="typed-over"),
        pytest.param([("acceptedPart", -4)], {"answered": 1, "acceptedPart": 1}, id="negative-chars-are-zero"),
    ],
)
def test_events(tmp_path: Path, events: list[tuple[str, int | None]], expected: dict[str, int]) -> None:
    s = store(tmp_path)
    fb = Feedback(s)
    [sid] = fb.answered("python", "m.gguf", ["hello"])
    for event, characters in events:
        fb.event(sid, event, characters)
    row = counts(s)
    zeros = {"answered": 0, "shown": 0, "accepted": 0, "acceptedPart": 0, "dismissed": 0, "typedOver": 0,
             "acceptedChars": 0}
    assert {k: row[k] for k in zeros} == {**zeros, **expected}


def test_unknown_ids_and_events_are_ignored(tmp_path: Path) -> None:
    s = store(tmp_path)
    fb = Feedback(s)
    [sid] = fb.answered("python", "m", ["x"])
    assert not fb.event("other", "accepted")
    assert not fb.event(sid, "liked")
    assert counts(s)["accepted"] == 0


def test_ids_are_unique_across_sessions_and_items(tmp_path: Path) -> None:
    s = store(tmp_path)
    ids = Feedback(s).answered("python", "m", ["a", "b"]) + Feedback(s).answered("python", "m", ["a"])
    assert len(set(ids)) == 3


def test_rows_per_day_language_model_and_the_window(tmp_path: Path) -> None:
    path = tmp_path / "stats.sqlite3"
    for day, language, model in [(DAY, "python", "a"), (DAY, "python", "a"), (DAY, "go", "a"),
                                 (DAY - datetime.timedelta(days=6), "python", "b"),
                                 (DAY - datetime.timedelta(days=7), "python", "a")]:
        s = StatsStore(path, today=lambda day=day: day)  # type: ignore[misc]
        fb = Feedback(s)
        [sid] = fb.answered(language, model, ["abc"])
        fb.event(sid, "accepted")
        s.close()
    week = read_report(path, 7, DAY, True)
    assert week["since"] == "2026-03-04"
    assert [(r["language"], r["model"], r["answered"], r["accepted"]) for r in week["rows"]] == [
        ("go", "a", 1, 1), ("python", "a", 2, 2), ("python", "b", 1, 1)]
    assert [(d["day"], d["answered"]) for d in week["daily"]] == [("2026-03-04", 1), ("2026-03-10", 3)]
    assert sum(r["answered"] for r in read_report(path, 30, DAY, True)["rows"]) == 5
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM daily").fetchone() == (4,)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param({"answered": 4, "shown": 2, "accepted": 1, "acceptedPart": 0}, 0.5, id="per-shown"),
        pytest.param({"answered": 4, "shown": 0, "accepted": 1, "acceptedPart": 1}, 0.5, id="per-answered"),
        pytest.param({"answered": 0, "shown": 0, "accepted": 0, "acceptedPart": 0}, None, id="none"),
    ],
)
def test_rate(row: dict[str, int], expected: float | None) -> None:
    assert rate(row) == expected  # type: ignore[arg-type]


def test_off_writes_nothing(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.enabled = False
    fb = Feedback(s)
    [sid] = fb.answered("python", "m", ["x"])
    fb.event(sid, "accepted")
    s.flush()
    assert not s.path.parent.exists()


@pytest.mark.parametrize("problem", ["corrupt", "unwritable", "locked"])
def test_a_store_that_cannot_write_turns_off_once(
    tmp_path: Path, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    s = StatsStore(tmp_path / "state" / "stats.sqlite3", today=lambda: DAY, busy_s=0)
    s.path.parent.mkdir(parents=True)
    holder = None
    if problem == "corrupt":
        s.path.write_bytes(b"this is no database" * 100)
    elif problem == "unwritable":
        s.path.mkdir()  # a folder where the file should be
    else:  # another process holds the file locked
        holder = sqlite3.connect(s.path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    try:
        fb = Feedback(s)
        for _ in range(3):
            [sid] = fb.answered("python", "m", ["x"])  # never raises
            fb.event(sid, "accepted")
        s.flush()
    finally:
        if holder is not None:
            holder.close()
    assert s.failed and not s.writing
    assert len([r for r in caplog.records if "statistics off" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"id": "a", "event": "shown"}, ("a", "shown", None), id="shown"),
        pytest.param({"id": "a", "event": "acceptedPart", "characters": 3, "part": "word"}, ("a", "acceptedPart", 3),
                     id="part"),
        pytest.param({"id": 1, "event": "shown"}, None, id="id-not-string"),
        pytest.param({"id": "a", "event": "clicked"}, None, id="unknown-event"),
        pytest.param({"id": "a", "event": "acceptedPart", "characters": "3"}, None, id="characters-not-int"),
        pytest.param({"id": "a", "event": "acceptedPart", "characters": True}, None, id="characters-bool"),
        pytest.param(["a", "shown"], None, id="not-an-object"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_feedback(params: Any, expected: Any) -> None:
    assert parse_feedback(params) == expected


@pytest.mark.parametrize(("value", "expected"), [(7, 7), (1, 1), (3650, 3650), (0, None), (3651, None), ("7", None),
                                                 (True, None), (7.0, None)])
def test_parse_days(value: Any, expected: int | None) -> None:
    assert parse_days(value) == expected
