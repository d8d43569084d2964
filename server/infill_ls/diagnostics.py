"""`infill/diagnostics`: what a soak test watches for leaks (asyncio tasks, threads, memory, Python objects)."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
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


def snapshot() -> dict[str, Any]:
    """Counts at this moment, taken on the event loop's thread."""
    return {
        "tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
        "rssBytes": rss_bytes(),
        "pythonObjects": len(gc.get_objects()),
    }


def register(ls: LanguageServer) -> None:
    # A plain def runs on the event loop at once: the count of tasks does not include a task of its own.
    @ls.feature(METHOD)
    def diagnostics(ls: LanguageServer, params: Any) -> dict[str, Any]:
        return snapshot()
