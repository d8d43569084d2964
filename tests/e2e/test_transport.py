"""Serving over TCP (for debugging), and requests that arrive while the model is still loading."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from infill_ls.server import InfillServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_over_tcp(answer_model: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "infill_ls", "serve", "--tcp", "--port", str(port), "--model", str(answer_model)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = LanguageClient("tcp-test", "1")
    try:
        for _ in range(200):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"nothing listens on port {port}")
        result = await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
        assert result.capabilities.inline_completion_provider is not None
        assert result.server_info is not None and result.server_info.name == "infill-ls"
    finally:
        server.kill()
        server.wait()
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            await asyncio.wait_for(client.stop(), 5)


async def test_a_request_before_the_model_is_ready_gets_an_empty_result() -> None:
    server = InfillServer()  # no client attached: the model is not loaded, the state is "loading"
    assert (server.host.state, server.host.engine) == ("loading", None)
    done = await server.complete("file:///a.py", "inline", "x =", 3, automatic=False)
    assert (done.text, done.source) == ("", "none")
