"""Logging: each record once, at its own level.

Before the client has sent `initialized`, and after `shutdown`, records go to stderr. In between they go to the
client as window/logMessage and not also to stderr: VS Code shows a server's stderr in the same output channel
(every record would show twice) and Neovim logs all of it at error level. stderr keeps what the client cannot
receive: other libraries' records, CRITICAL records (the process may be ending) and whatever is not a record
(a C library's output, a traceback of a crash). Never stdout: that is the LSP stream."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

LEVELS = {
    logging.CRITICAL: types.MessageType.Error,
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
    logging.DEBUG: types.MessageType.Debug,
}

SENT = "infill_sent_to_client"
"""The attribute ClientLogHandler sets on a record it sent, so that the stderr handler leaves it out."""


class NotSentToClient(logging.Filter):
    """Lets through the records the client did not get."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.__dict__.get(SENT, False)


def setup(level: str) -> None:
    """Send log lines to stderr (never stdout), except those ClientLogHandler sends to the client."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(NotSentToClient())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("infill_ls").setLevel(level.upper())


class ClientLogHandler(logging.Handler):
    """Sends `infill_ls` records to the client as window/logMessage, from any thread, between `start` (on
    `initialized`) and `stop` (on `shutdown`). A record it sent is marked, and the stderr handler skips it."""

    def __init__(self, server: LanguageServer) -> None:
        super().__init__(logging.DEBUG)
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None
        """The server's event loop while the client takes records; None before `start` and after `stop`."""
        self.loop_thread = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.loop_thread = loop, threading.get_ident()
        logging.getLogger("infill_ls").addHandler(self)

    def stop(self) -> None:
        logging.getLogger("infill_ls").removeHandler(self)
        self.loop = None

    def emit(self, record: logging.LogRecord) -> None:
        loop = self.loop
        if loop is None or record.levelno >= logging.CRITICAL or self.server.protocol.writer is None:
            return
        try:
            params = types.LogMessageParams(type=LEVELS.get(record.levelno, types.MessageType.Log),
                                            message=self.format(record))
            if threading.get_ident() == self.loop_thread:
                self._send(params)
            else:
                loop.call_soon_threadsafe(self._send, params)
        except RuntimeError:  # the loop is closed: the record stays on stderr
            return
        except Exception:  # logging must never break the server
            self.handleError(record)
            return
        record.__dict__[SENT] = True

    def _send(self, params: types.LogMessageParams) -> None:
        if self.server.protocol.writer is not None:
            self.server.window_log_message(params)
