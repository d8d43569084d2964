"""The llama-server fixture itself: start, restart on the same URL, crash, API key, slots, metrics, and what
happens without a binary."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from llamaserver import ENV_BINARY, LlamaServer, LlamaServerFactory

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key"


def health(url: str) -> int | str:
    """The HTTP status of GET /health, or "down" when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return "down"


def status(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_binary_runs(llama_server_binary: Path) -> None:
    version = subprocess.run([str(llama_server_binary), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and "version:" in version.stdout + version.stderr


@pytest.mark.parametrize("down", ["stop", "kill"])
def test_restart_on_the_same_url(llama_server_factory: LlamaServerFactory, down: str) -> None:
    server = llama_server_factory()
    url, pid = server.url, server.process.pid if server.process else None
    assert health(url) == 200
    getattr(server, down)()
    assert (server.running, health(url)) == (False, "down")
    server.start().wait_ready()
    assert (server.url, health(url)) == (url, 200)
    assert server.process is not None and server.process.pid != pid
    assert f"--port {server.port}" in server.log_path.read_text()  # the output goes to the log, not the terminal


def test_the_module_server_is_up(llama_server: LlamaServer) -> None:
    assert (health(llama_server.url), len(llama_server.slots())) == (200, 1)


@pytest.fixture(scope="module")
def keyed_server(
    llama_server_binary: Path, remote_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    with LlamaServer(remote_model, api_key=KEY, executable=llama_server_binary,
                     log_dir=tmp_path_factory.mktemp("keyed")) as server:
        yield server


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        pytest.param("/slots", {}, 401, id="no-key"),
        pytest.param("/slots", {"Authorization": "Bearer wrong"}, 401, id="wrong-key"),
        pytest.param("/slots", {"Authorization": f"Bearer {KEY}"}, 200, id="key"),
        pytest.param("/health", {}, 200, id="health-needs-no-key"),
    ],
)
def test_api_key(keyed_server: LlamaServer, path: str, headers: dict[str, str], expected: int) -> None:
    assert status(keyed_server.url + path, headers) == expected


def test_helpers_send_the_key(keyed_server: LlamaServer) -> None:
    assert len(keyed_server.slots()) == 1 and "llamacpp:prompt_tokens_total" in keyed_server.metrics()


@pytest.mark.parametrize(("slots", "context"), [pytest.param(1, 2048, id="one"), pytest.param(3, 1024, id="three")])
def test_slots_of_the_given_context(llama_server_factory: LlamaServerFactory, slots: int, context: int) -> None:
    server = llama_server_factory(slots=slots, context=context)
    assert [(s["id"], s["n_ctx"]) for s in server.slots()] == [(i, context) for i in range(slots)]


def test_metrics_count_the_prompt_tokens_evaluated(llama_server_factory: LlamaServerFactory) -> None:
    """/metrics and each answer's timings agree: the whole prompt cold, one token for a prompt one token longer."""
    server = llama_server_factory()
    ids = server.request_json("/tokenize", {"content": "def add(a, b): return"})["tokens"]
    evaluated = []
    for prompt in (ids, [*ids, ids[-1]]):
        before = server.metrics()["llamacpp:prompt_tokens_total"]
        answer = server.request_json("/completion", {"prompt": prompt, "n_predict": 1, "cache_prompt": True})
        evaluated.append((server.metrics()["llamacpp:prompt_tokens_total"] - before, answer["timings"]["prompt_n"]))
    assert evaluated == [(len(ids), len(ids)), (1, 1)]


@pytest.mark.parametrize(
    ("required", "outcome"),
    [pytest.param("", "1 skipped", id="optional"), pytest.param("1", "1 error", id="required")],
)
def test_without_a_binary(required: str, outcome: str) -> None:
    env = os.environ | {ENV_BINARY: "/nonexistent/llama-server", "INFILL_REMOTE_REQUIRED": required}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
         "tests/remote/test_fixture.py::test_binary_runs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert outcome in run.stdout, run.stdout[-2000:]
    assert "scripts/llama-server-setup.sh" in run.stdout, run.stdout[-2000:]
