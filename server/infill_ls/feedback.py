"""Local acceptance statistics (issue 25): how often the suggestions answered on this machine were shown, taken
whole or in part, dismissed or typed over, per day, language and model.

Two owners:

- `StatsStore`: the SQLite file (standard library `sqlite3`) in the user's state folder, one row per day, language
  and model. It holds counts only: never a suggestion's text, never a file name. Every write and read runs on one
  worker thread of its own, so a slow or locked disk never holds up a request; the first error (locked,
  corrupt, unwritable) is logged once and turns the store off for the session.
- `Feedback`: the suggestions answered in this session, by id (bounded), and what became of each: each id's
  terminal outcome (accepted, dismissed, typed over) is counted once, "shown" and "accepted in part" once per id
  too; unknown ids are ignored.

`infill-ls stats` (cli.py) and the `infill/stats` request read the same rows through `report`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import itertools
import logging
import os
import secrets
import sqlite3
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

log = logging.getLogger(__name__)

FILE_NAME = "stats.sqlite3"
MAX_DAYS = 3650
KEPT_IDS = 4096
"""Suggestions remembered by id; an event for an older one is ignored (a client reports within seconds)."""

COUNTS = ("answered", "shown", "accepted", "acceptedPart", "dismissed", "typedOver", "acceptedChars")
Event = Literal["shown", "accepted", "acceptedPart", "dismissed", "typedOver"]
EVENTS: tuple[str, ...] = ("shown", "accepted", "acceptedPart", "dismissed", "typedOver")
TERMINAL = ("accepted", "dismissed", "typedOver")

SCHEMA = """
CREATE TABLE IF NOT EXISTS daily (
    day TEXT NOT NULL, language TEXT NOT NULL, model TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0, shown INTEGER NOT NULL DEFAULT 0, accepted INTEGER NOT NULL DEFAULT 0,
    acceptedPart INTEGER NOT NULL DEFAULT 0, dismissed INTEGER NOT NULL DEFAULT 0,
    typedOver INTEGER NOT NULL DEFAULT 0, acceptedChars INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, language, model)
)
"""


def state_dir(env: dict[str, str] | None = None, platform: str | None = None) -> Path:
    """The user's state folder for infill-ls: `$XDG_STATE_HOME/infill-ls` (default `~/.local/state/infill-ls`) on
    Linux and the other Unix systems, `~/Library/Application Support/infill-ls` on macOS, and
    `%LOCALAPPDATA%\\infill-ls` on Windows. XDG_STATE_HOME wins everywhere when set (tests and users use it)."""
    env = dict(os.environ) if env is None else env
    platform = sys.platform if platform is None else platform
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "infill-ls"
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if platform == "darwin":
        return home / "Library" / "Application Support" / "infill-ls"
    if platform.startswith("win"):
        base = env.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "infill-ls"
    return home / ".local" / "state" / "infill-ls"


def stats_path(env: dict[str, str] | None = None, platform: str | None = None) -> Path:
    """The statistics file."""
    return state_dir(env, platform) / FILE_NAME


class Row(TypedDict):
    language: str
    model: str
    answered: int
    shown: int
    accepted: int
    acceptedPart: int
    dismissed: int
    typedOver: int
    acceptedChars: int
    rate: float | None


class Day(TypedDict):
    day: str
    answered: int
    shown: int
    accepted: int
    acceptedPart: int
    rate: float | None


class Report(TypedDict):
    """The JSON of `infill/stats` and `infill-ls stats --json` (docs/protocol.md)."""

    days: int
    since: str
    enabled: bool
    path: str
    rows: list[Row]
    daily: list[Day]


def rate(counts: dict[str, int] | Row | Day) -> float | None:
    """(accepted + acceptedPart) / shown, or / answered where nothing was reported shown; None for neither."""
    taken = counts["accepted"] + counts["acceptedPart"]
    base = counts["shown"] or counts["answered"]
    return round(taken / base, 4) if base else None


def since(days: int, today: datetime.date) -> datetime.date:
    """The first day of a report over `days` days that ends `today`."""
    return today - datetime.timedelta(days=days - 1)


def read_report(path: Path, days: int, today: datetime.date, enabled: bool) -> Report:
    """The report over the last `days` days from the file at `path` (empty when it does not exist). Raises
    sqlite3.Error for a file that is no statistics database."""
    first = since(days, today).isoformat()
    report: Report = {"days": days, "since": first, "enabled": enabled, "path": str(path), "rows": [],
                      "daily": []}
    if not path.is_file():
        return report
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2.0)
    try:
        sums = ", ".join(f"SUM({name})" for name in COUNTS)
        for language, model, *values in connection.execute(
            f"SELECT language, model, {sums} FROM daily WHERE day >= ? GROUP BY language, model "
            "ORDER BY language, model", (first,)
        ):
            row = cast(Row, {"language": language, "model": model, **dict(zip(COUNTS, map(int, values), strict=True))})
            row["rate"] = rate(row)
            report["rows"].append(row)
        for day, *values in connection.execute(
            "SELECT day, SUM(answered), SUM(shown), SUM(accepted), SUM(acceptedPart) FROM daily WHERE day >= ? "
            "GROUP BY day ORDER BY day", (first,)
        ):
            entry = cast(Day, {"day": day, **dict(zip(("answered", "shown", "accepted", "acceptedPart"),
                                                      map(int, values), strict=True))})
            entry["rate"] = rate(entry)
            report["daily"].append(entry)
    finally:
        connection.close()
    return report


class StatsStore:
    """The statistics file, written on a thread of its own. `enabled` False: nothing is written (the file is not
    even created). The first error turns the store off for the session (one warning)."""

    def __init__(self, path: Path | None = None, today: Callable[[], datetime.date] = datetime.date.today,
                 busy_s: float = 2.0) -> None:
        self.path = path or stats_path()
        self.today = today
        self.busy_s = busy_s
        """How long a write waits for another server's write to the same file (on the store's own thread)."""
        self.enabled = True
        """`infill.stats.enable`."""
        self.failed = ""
        """Why the store is off for the session (the first error), or empty."""
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="infill-stats")
        self._connection: sqlite3.Connection | None = None

    @property
    def writing(self) -> bool:
        return self.enabled and not self.failed

    def add(self, language: str, model: str, **counts: int) -> concurrent.futures.Future[None] | None:
        """Add `counts` (names of COUNTS, may be negative) to today's row of `language` and `model`."""
        if not self.writing or not any(counts.values()):
            return None
        day = self.today().isoformat()
        try:
            return self._pool.submit(self._write, day, language, model, counts)
        except RuntimeError:  # closed: the session is over
            return None

    def _write(self, day: str, language: str, model: str, counts: dict[str, int]) -> None:
        if self.failed:
            return
        try:
            connection = self._connect()
            names = [name for name in COUNTS if counts.get(name)]
            columns = ", ".join(names)
            marks = ", ".join("?" for _ in names)
            updates = ", ".join(f"{name} = {name} + excluded.{name}" for name in names)
            with connection:
                connection.execute(
                    f"INSERT INTO daily (day, language, model, {columns}) VALUES (?, ?, ?, {marks}) "
                    f"ON CONFLICT (day, language, model) DO UPDATE SET {updates}",
                    (day, language, model, *(counts[name] for name in names)),
                )
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.busy_s)
            try:
                connection.execute(SCHEMA)
            except sqlite3.Error:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _fail(self, exc: Exception) -> None:
        self.failed = str(exc) or type(exc).__name__
        log.warning("acceptance statistics off for this session: %s: %s", self.path, self.failed)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def report(self, days: int) -> Report:
        """The report over the last `days` days, read after every write submitted before."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._report, days)

    def _report(self, days: int) -> Report:
        try:
            return read_report(self.path, days, self.today(), self.writing)
        except sqlite3.Error as exc:
            log.warning("cannot read the acceptance statistics %s: %s", self.path, exc)
            return {"days": days, "since": since(days, self.today()).isoformat(), "enabled": False,
                    "path": str(self.path), "rows": [], "daily": []}

    def flush(self) -> None:
        """Wait for the writes submitted so far (tests, shutdown)."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        self._pool.submit(close)
        self._pool.shutdown(wait=True)


@dataclass
class Suggestion:
    """One item answered in this session, by id."""

    language: str
    model: str
    chars: int
    shown: bool = False
    part: bool = False
    """Counted as accepted in part."""
    part_chars: int = 0
    outcome: str = ""
    """accepted, dismissed or typedOver, once set."""


class Feedback:
    """The suggestions answered by id, and the counting of what the client reports about them."""

    def __init__(self, store: StatsStore, session: str | None = None) -> None:
        self.store = store
        self.session = session or secrets.token_hex(4)
        self._ids = itertools.count(1)
        self.items: OrderedDict[str, Suggestion] = OrderedDict()

    def answered(self, language: str, model: str, texts: Iterable[str]) -> list[str]:
        """Ids for the items answered now (one each, counted as "answered")."""
        ids = []
        for text in texts:
            sid = f"{self.session}-{next(self._ids)}"
            self.items[sid] = Suggestion(language, model, len(text))
            ids.append(sid)
        while len(self.items) > KEPT_IDS:
            self.items.popitem(last=False)
        if ids:
            self.store.add(language, model, answered=len(ids))
        return ids

    def event(self, sid: str, event: str, characters: int | None = None) -> bool:
        """What the client reports of the item `sid`; False when ignored (unknown id or event, or already
        counted)."""
        item = self.items.get(sid)
        if item is None or event not in EVENTS:
            log.debug("feedback ignored: %s for %s", event, sid)
            return False
        counts = self._count(item, event, characters)
        if not counts:
            return False
        self.store.add(item.language, item.model, **counts)
        return True

    @staticmethod
    def _count(item: Suggestion, event: str, characters: int | None) -> dict[str, int]:
        """What `event` adds to the item's day row. An item is accepted whole at most once (then a part accept
        counted before is taken back and only the rest of its characters is added); dismissed or typed over once,
        and not after it was accepted; each part accept adds its characters."""
        if event == "shown":
            if item.shown:
                return {}
            item.shown = True
            return {"shown": 1}
        if event == "acceptedPart":
            if item.outcome == "accepted":
                return {}
            chars = max(0, characters or 0)
            item.part_chars += chars
            counts = {"acceptedChars": chars}
            if not item.part:
                item.part = True
                counts["acceptedPart"] = 1
            return counts
        if item.outcome:
            return {}
        item.outcome = event
        if event != "accepted":
            return {event: 1}
        counts = {"accepted": 1, "acceptedChars": max(0, item.chars - item.part_chars)}
        if item.part:
            counts["acceptedPart"] = -1
        return counts


def parse_feedback(params: Any) -> tuple[str, str, int | None] | None:
    """(id, event, characters) from `infill/didFeedback` params, or None when they are bad."""
    if not isinstance(params, dict):
        return None
    sid, event, characters = params.get("id"), params.get("event"), params.get("characters")
    if not isinstance(sid, str) or event not in EVENTS:
        return None
    if characters is not None and (isinstance(characters, bool) or not isinstance(characters, int)):
        return None
    return sid, event, characters


def parse_days(value: Any) -> int | None:
    """A report's length in days (1..MAX_DAYS), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        return None
    return value
