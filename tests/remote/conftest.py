"""A real llama.cpp `llama-server` on 127.0.0.1 for the remote-engine tests (tests/fixtures/llamaserver.py).

`llama_server`: one slot, started once per module with `remote_model` (tests that stop or kill it start it again;
those that need other options use the factory). `llama_server_factory(slots=3, api_key="k", ...)`: as many
servers as a test wants, each started and ready, all stopped when the test ends.

Without a llama-server binary (scripts/llama-server-setup.sh builds one; INFILL_LLAMA_SERVER names one) these
tests are skipped, or fail when INFILL_REMOTE_REQUIRED=1 (scripts/test.sh sets it, so CI never skips them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from llamaserver import ENV_BINARY, LlamaServer, LlamaServerFactory, binary
from tinymodel import write_tiny_model


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    found = binary()
    if found is None:
        named = os.environ.get(ENV_BINARY)
        message = (f"{ENV_BINARY}={named} is not an executable file" if named else "no llama-server binary")
        message += ("; build it with scripts/llama-server-setup.sh (about 15 minutes once, cached outside the clone)"
                    f" or set {ENV_BINARY} to one")
        if os.environ.get("INFILL_REMOTE_REQUIRED") == "1":
            pytest.fail(message + " (INFILL_REMOTE_REQUIRED=1)", pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def remote_model(answer_model: Path) -> Path:
    """The model the servers load: the tiny random CodeLlama-style model that completes `x =` with ` 42`."""
    return answer_model


@pytest.fixture(scope="module")
def llama_server(
    llama_server_binary: Path, remote_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    with LlamaServer(remote_model, executable=llama_server_binary,
                     log_dir=tmp_path_factory.mktemp("llama-server")) as server:
        yield server


@pytest.fixture
def llama_server_factory(llama_server_binary: Path, remote_model: Path, tmp_path: Path) -> Iterator[LlamaServerFactory]:
    started: list[LlamaServer] = []

    def make(
        model: Path | None = None, *, slots: int = 1, context: int = 4096, api_key: str | None = None,
        extra: Sequence[str] = (), wait: bool = True,
    ) -> LlamaServer:
        server = LlamaServer(model or remote_model, slots=slots, context=context, api_key=api_key, extra=extra,
                             executable=llama_server_binary, log_dir=tmp_path)
        started.append(server)
        server.start()
        return server.wait_ready() if wait else server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def slow_endless_model(models_dir: Path) -> Path:
    """Writes `▁x` forever, like `endless_model`, but deep enough (32 layers) that 3000 tokens take about 11 s here,
    not 2: a cancel that arrives late on a loaded machine still lands before the end (the endless model wrote all
    3000 once, under load, before the cancel reached llama-server)."""
    return write_tiny_model(models_dir / "slow-endless.gguf", default="▁x", layers=32, ff=512)
