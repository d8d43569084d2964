"""Logging: stderr always, and the client (window/logMessage) while a language server is connected."""

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
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}


def setup(level: str) -> None:
    """Send every log line to stderr (never stdout)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("infill_ls").setLevel(level.upper())


class ClientLogHandler(logging.Handler):
    """Forward records to the client as window/logMessage, from any thread."""

    def __init__(self, server: LanguageServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self.server = server
        self.loop = loop
        self.loop_thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            params = types.LogMessageParams(
                type=LEVELS.get(record.levelno, types.MessageType.Log), message=self.format(record)
            )
            if threading.get_ident() == self.loop_thread:
                self._send(params)
            else:
                self.loop.call_soon_threadsafe(self._send, params)
        except Exception:  # logging must never break the server
            self.handleError(record)

    def _send(self, params: types.LogMessageParams) -> None:
        if self.server.protocol.writer is not None:
            self.server.window_log_message(params)
