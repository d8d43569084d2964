"""`infill/diagnostics`: what a soak test watches for leaks (asyncio tasks, threads, memory, Python objects)."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import threading
from collections import Counter
from typing import Any

from pygls.lsp.server import LanguageServer

METHOD = "infill/diagnostics"


def rss_bytes() -> int | None:
    """Resident memory now (Linux /proc), or None where there is no /proc."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def thread_groups() -> dict[str, int]:
    """Live threads by name without the worker number: `ThreadPoolExecutor-0_3` counts as `ThreadPoolExecutor-0`."""
    return dict(Counter(re.sub(r"_\d+$", "", t.name) for t in threading.enumerate()))


def snapshot(ls: LanguageServer) -> dict[str, Any]:
    """Counts at this moment, taken on the event loop's thread."""
    return {
        "tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
        "threadGroups": thread_groups(),
        "rssBytes": rss_bytes(),
        "pythonObjects": len(gc.get_objects()),
        # pygls' book of running handlers by message id (a private attribute; 0 where it has none)
        "handlerFutures": len(getattr(ls.protocol, "_request_futures", ())),
    }


def register(ls: LanguageServer) -> None:
    # A plain def runs on the event loop at once: the count of tasks does not include a task of its own.
    @ls.feature(METHOD)
    def diagnostics(ls: LanguageServer, params: Any) -> dict[str, Any]:
        return snapshot(ls)
