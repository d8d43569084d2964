"""infill-ls over LSP with a real llama-server as its engine (`infill.engine.url`), through llama.cpp's own API and
the OpenAI-style one: the same completions as in process, a keystroke that costs the server only the new tokens,
cancellation that stops the server, and every fault of issue 13 with recovery."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from llamaserver import LlamaServer, LlamaServerFactory
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from ..e2e.conftest import custom_client, idle, inline_params, open_doc, settings_change, statuses, wait_status

APIS = [pytest.param("llama.cpp", id="native"), pytest.param("openai", id="openai")]
DOC = "def total(items):\n    return sum(items)\n\nx =\n"
AT_X = (3, 3)  # after `x =`: the answer model writes ` 42`


def shown(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages]


@contextlib.asynccontextmanager
async def session(
    engine: dict[str, Any], env: dict[str, str] | None = None, model: dict[str, Any] | None = None,
    **completion: Any,
) -> AsyncIterator[LanguageClient]:
    """An infill-ls started with `infill.engine` = `engine`, initialized (not waiting for ready)."""
    async with custom_client(env=env) as client:
        options = {"infill": {"engine": engine, "model": model or {},
                              "completion": {"debounceMs": 0, "alternatives": 1, **completion}}}
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"), initialization_options=options))
        yield client


async def ready(client: LanguageClient, timeout: float = 60) -> dict[str, Any]:
    status = await wait_status(client, lambda s: s["state"] == "ready", timeout)
    return status


async def then(client: LanguageClient, check: Callable[[dict[str, Any]], bool], timeout: float = 90) -> dict[str, Any]:
    """The first status from now on (not one already received) for which `check` holds."""
    seen = len(statuses(client))
    return await wait_status(client, lambda s: statuses(client).index(s) >= seen and check(s), timeout)


async def ask(client: LanguageClient, uri: str, at: tuple[int, int] = AT_X) -> str:
    result = await client.text_document_inline_completion_async(inline_params(uri, *at))
    items = result if isinstance(result, list) else (result.items if result else [])
    return items[0].insert_text if items else ""  # type: ignore[return-value]


def edit(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        [types.TextDocumentContentChangeWholeDocument(text)]))


@pytest.mark.parametrize("api", APIS)
async def test_completes_as_in_process(api: str, llama_server: LlamaServer, remote_model: Path) -> None:
    """The remote engine gives the in-process engine's answer, and the status names the server."""
    async with session({"url": llama_server.url, "api": api}) as client:
        status = await ready(client)
        uri = open_doc(client, DOC)
        remote = await ask(client, uri)
    assert status["engine"] == {"kind": "remote", "url": llama_server.url, "host": f"127.0.0.1:{llama_server.port}",
                                "api": api, "model": str(remote_model)}
    async with session({}, model={"path": str(remote_model)}) as client:
        await ready(client)
        uri = open_doc(client, DOC)
        local = await ask(client, uri)
    assert remote == local == " 42"


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    "doc",
    [pytest.param("def total(items):\n    return sum(items)\n\nx = \n", id="space-after-code"),
     pytest.param("def total(items):\n    return sum(items)\n\nx = tot\n", id="half-a-word")],
)
async def test_a_healed_prompt_completes_as_in_process(
    api: str, doc: str, llama_server_factory: LlamaServerFactory, context_model: Path,
) -> None:
    """Token healing on llama-server (the first token's candidates from its `/completion`, then the stream after
    the chosen one, through either API) gives the in-process engine's answer, on a model whose answers depend on
    the whole prompt."""
    server = llama_server_factory(context_model)
    at = (3, len(doc.split("\n")[3]))
    answers = []
    for engine, model in (({"url": server.url, "api": api}, {}), ({}, {"path": str(context_model)})):
        async with session(engine, model=model, maxTokens=8) as client:
            await ready(client)
            answers.append(await ask(client, open_doc(client, doc), at))
    assert answers[0] == answers[1] != ""


@pytest.mark.parametrize("api", APIS)
async def test_a_keystroke_costs_the_server_only_the_new_tokens(
    api: str, llama_server_factory: LlamaServerFactory, context_model: Path
) -> None:
    """Typing only appends to the suffix-first prompt: the server's prompt cache evaluates the new tokens alone,
    as llama-server reports it (each answer's timings, and /metrics)."""
    server = llama_server_factory(context_model)
    body = "    for item in items:\n        print(item)\n"
    head, tail = "def show(items):\n", "\n\ndef other():\n    pass\n"
    async with session({"url": server.url, "api": api}, maxTokens=4) as client:
        await ready(client)
        uri = open_doc(client, head + tail)
        await ask(client, uri, (1, 0))
        evaluated, counted = [], []
        for n in range(1, 25):
            text = head + body[:n] + tail
            edit(client, uri, n + 1, text)
            line = body[:n].count("\n")
            before = server.metrics()["llamacpp:prompt_tokens_total"]
            calls = statuses(client)[-1]["stats"]["modelCalls"]
            await ask(client, uri, (1 + line, n - (body[:n].rfind("\n") + 1)))
            counted.append(int(server.metrics()["llamacpp:prompt_tokens_total"] - before))
            status = statuses(client)[-1]
            if status["stats"]["modelCalls"] > calls:  # not typed through the suggestion shown
                evaluated.append(status["last"]["evaluatedTokens"])
    assert len(evaluated) >= 12, evaluated
    assert max(evaluated) <= 8 and max(counted) <= 8, (evaluated, counted)
    assert sum(evaluated) == sum(counted) > 0


@pytest.mark.parametrize("api", APIS)
async def test_a_cancelled_request_stops_the_server(
    api: str, llama_server_factory: LlamaServerFactory, slow_endless_model: Path
) -> None:
    """A request superseded by an edit closes its stream, and llama-server stops generating at once instead of
    writing all 3000 tokens."""
    server = llama_server_factory(slow_endless_model)
    async with session({"url": server.url, "api": api}, maxTokens=3000, multiline="always") as client:
        await ready(client)
        uri = open_doc(client, "def f():\n    ")
        request = asyncio.ensure_future(client.text_document_inline_completion_async(inline_params(uri, 1, 4)))
        await wait_status(client, lambda s: s["generating"])
        await asyncio.sleep(0.3)
        edit(client, uri, 2, "def f():\n    y")
        result = await request
        await wait_status(client, lambda s: not s["generating"])
        for _ in range(200):  # the server notices the closed connection between two tokens
            if not any(slot["is_processing"] for slot in server.slots()):
                break
            await asyncio.sleep(0.05)
        predicted = server.metrics()["llamacpp:tokens_predicted_total"]
        await asyncio.sleep(0.5)
        assert server.metrics()["llamacpp:tokens_predicted_total"] == predicted
    assert not (result.items if isinstance(result, types.InlineCompletionList) else result)
    assert 0 < predicted < 3000
    assert not any(slot["is_processing"] for slot in server.slots())


async def test_three_users_keep_their_own_cache(llama_server_factory: LlamaServerFactory, context_model: Path) -> None:
    """Three editors typing in different files at once on a server with three slots: each keystroke costs the
    server only that user's new tokens (each user keeps a slot with its own cached prompt)."""
    server = llama_server_factory(context_model, slots=3)
    notes = "    # notes\n"
    files = [f"def user{k}(values):\n    total = 0\n{notes * (10 * k + 5)}\n" for k in range(3)]
    typed = "    for v in values:\n        total += v\n"

    async def user(k: int) -> list[int]:
        async with session({"url": server.url}, maxTokens=4) as client:
            await ready(client)
            uri = open_doc(client, files[k], uri=f"file:///work/user{k}.py")
            await ask(client, uri, (files[k].count("\n"), 0))
            costs = []
            for n in range(1, 20):
                text = files[k] + typed[:n]
                edit(client, uri, n + 1, text)
                lines = text.split("\n")
                calls = statuses(client)[-1]["stats"]["modelCalls"]
                await ask(client, uri, (len(lines) - 1, len(lines[-1])))
                status = statuses(client)[-1]
                if status["stats"]["modelCalls"] > calls:  # not typed through the suggestion shown
                    costs.append(status["last"]["evaluatedTokens"])
            return costs

    costs = await asyncio.gather(*(user(k) for k in range(3)))
    assert all(len(c) >= 8 and max(c) <= 8 for c in costs), costs


async def test_speculation_is_off_for_a_remote_engine_unless_asked(llama_server: LlamaServer) -> None:
    for speculate, expected in ((False, 0), (True, 1)):
        async with session({"url": llama_server.url, "speculate": speculate}) as client:
            await ready(client)
            uri = open_doc(client, DOC)
            assert await ask(client, uri) == " 42"
            status = await wait_status(client, lambda s: not s["speculating"] and not s["generating"])
            await asyncio.sleep(0.5)
            status = statuses(client)[-1]
        assert min(status["stats"]["speculations"] + status["stats"]["speculationsCancelled"], 1) == expected


# --- faults ------------------------------------------------------------------------------------------------------


async def test_server_down_at_start_then_up(
    llama_server_binary: Path, remote_model: Path, tmp_path: Path
) -> None:
    """Nothing listens yet: one message, an empty answer, and the server is used once it is up."""
    server = LlamaServer(remote_model, executable=llama_server_binary, log_dir=tmp_path)
    try:
        async with session({"url": server.url}) as client:
            status = await wait_status(client, lambda s: s["state"] == "error")
            uri = open_doc(client, DOC)
            assert await ask(client, uri) == ""
            assert await ask(client, uri) == ""
            server.start().wait_ready()
            await then(client, lambda s: s["state"] == "ready")
            answer = await ask(client, uri)
            messages = list(shown(client))
    finally:
        server.stop()
    assert "connection refused" in status["message"] and f"127.0.0.1:{server.port}" in status["message"]
    assert answer == " 42"
    assert len([m for m in messages if "connection refused" in m]) == 1, messages


@pytest.mark.parametrize("how", ["kill", "stop"])
async def test_server_restarted_mid_session(how: str, llama_server_factory: LlamaServerFactory) -> None:
    """The server crashes (or is stopped) and comes back: requests meanwhile get nothing, the user is told once,
    and completions come back without restarting anything."""
    server = llama_server_factory()
    async with session({"url": server.url}) as client:
        await ready(client)
        uri = open_doc(client, DOC)
        assert await ask(client, uri) == " 42"
        getattr(server, how)()
        answers = []
        for version in range(2, 6):  # a new document version each time: no cache answers it
            edit(client, uri, version, DOC + "#" * version)
            answers.append(await ask(client, uri))
        down = await wait_status(client, lambda s: s["state"] == "error")
        server.start().wait_ready()
        await then(client, lambda s: s["state"] == "ready")
        edit(client, uri, 10, DOC + "# back")
        back = await ask(client, uri)
        messages = list(shown(client))
    assert answers == [""] * 4
    assert "127.0.0.1" in down["message"]
    assert len(messages) == 1, messages
    assert back == " 42"


async def test_timeout(llama_server_factory: LlamaServerFactory, endless_model: Path) -> None:
    """The one slot is busy with someone's long generation: the request waits longer than `timeoutMs`, gets an
    empty answer, and the user is told once.

    The hog must hold the slot until it is killed. The endless model never stops by itself, but llama-server stops
    a generation that fills the slot's context (context shift is off by default: `stop_type` "limit" after
    n_ctx - 2 tokens, whatever `n_predict` asks), which now and then came before our request (4094 tokens in
    about 0.5-4 s against 1-4 s to start infill-ls): the slot was free and the request answered. With
    `--context-shift` and `n_predict` -1 the generation has no end; the small context makes a hog that stops at
    the limit again (510 tokens) free the slot before the request in most runs, not 1 in 10."""
    server = llama_server_factory(endless_model, context=512, extra=["--context-shift"])
    hog = subprocess.Popen([sys.executable, "-c", (
        "import json, urllib.request as u; u.urlopen(u.Request("
        f"'{server.url}/completion', json.dumps({{'prompt': 'x', 'n_predict': -1}}).encode(),"
        " {'Content-Type': 'application/json'}), timeout=600).read()")])
    try:
        for _ in range(200):
            if any(slot["is_processing"] for slot in server.slots()):
                break
            await asyncio.sleep(0.05)
        async with session({"url": server.url, "timeoutMs": 500}) as client:
            status = await wait_status(client, lambda s: s["state"] in ("ready", "error"))
            if status["state"] == "ready":  # connecting needs no slot; the completion does
                uri = open_doc(client, DOC)
                assert await ask(client, uri) == ""
                status = await wait_status(client, lambda s: s["state"] == "error")
            messages = list(shown(client))
    finally:
        hog.kill()
        hog.wait()
    assert "did not answer within 0.5 s" in status["message"], status
    assert len(messages) == 1, messages


async def test_api_key(llama_server_factory: LlamaServerFactory) -> None:
    """A server with an API key: without INFILL_API_KEY one clear message naming it; with it, completions."""
    server = llama_server_factory(api_key="team-secret")
    async with session({"url": server.url}, env={"INFILL_API_KEY": ""}) as client:
        status = await wait_status(client, lambda s: s["state"] == "error")
        messages = list(shown(client))
    assert "HTTP 401" in status["message"] and "INFILL_API_KEY" in status["message"]
    assert len(messages) == 1
    async with session({"url": server.url}, env={"INFILL_API_KEY": "team-secret"}) as client:
        await ready(client)
        assert await ask(client, open_doc(client, DOC)) == " 42"


async def test_model_without_fim_tokens(llama_server_factory: LlamaServerFactory, smollm2_model: Path) -> None:
    """SmolLM2 has no FIM tokens: one message, and completions from the prefix alone."""
    server = llama_server_factory(smollm2_model, context=2048)
    async with session({"url": server.url}, maxTokens=8) as client:
        await ready(client)
        uri = open_doc(client, "def add(a, b):\n    return ")
        answer = await ask(client, uri, (1, 11))
        messages = list(shown(client))
    assert [m for m in messages if "no FIM tokens" in m] == messages and len(messages) == 1, messages
    assert answer.strip()


async def test_local_tokenizer_of_another_vocabulary(llama_server: LlamaServer, smollm2_model: Path) -> None:
    """`infill.model.path` names a local GGUF whose vocabulary is not the served model's: it is set aside (one
    message) and the server tokenizes; the answer is the server model's."""
    async with session({"url": llama_server.url}, model={"path": str(smollm2_model)}) as client:
        status = await ready(client)
        answer = await ask(client, open_doc(client, DOC))
        messages = list(shown(client))
    assert "tokenizer server" in status["message"]
    assert len(messages) == 1 and "does not match" in messages[0], messages
    assert answer == " 42"


async def test_local_tokenizer_of_the_served_model(llama_server: LlamaServer, remote_model: Path) -> None:
    async with session({"url": llama_server.url, "api": "openai"}, model={"path": str(remote_model)}) as client:
        status = await ready(client)
        answer = await ask(client, open_doc(client, DOC))
        messages = list(shown(client))
    assert f"tokenizer {remote_model}" in status["message"]
    assert (answer, messages) == (" 42", [])


async def test_settings_switch_between_remote_and_local(llama_server: LlamaServer, remote_model: Path) -> None:
    async with session({"url": llama_server.url}) as client:
        await ready(client)
        settings_change(client, {"model": {"path": str(remote_model)}})
        local = await then(client, lambda s: s["state"] == "ready" and s["engine"]["kind"] == "local")
        settings_change(client, {"engine": {"url": llama_server.url}})
        remote = await then(client, lambda s: s["state"] == "ready" and s["engine"]["kind"] == "remote")
        assert await ask(client, open_doc(client, DOC)) == " 42"
    assert local["model"] == remote_model.name and remote["engine"]["api"] == "llama.cpp"


@pytest.mark.parametrize("api", APIS)
def test_cli_complete_prints_the_server_timings(api: str, llama_server: LlamaServer, tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text(DOC)
    done = subprocess.run(
        [sys.executable, "-m", "infill_ls", "complete", f"{source}:4:4", "--engine-url", llama_server.url,
         "--engine-api", api, "--stats"], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, " 42"), done.stderr
    assert "server timings: {" in done.stderr and "'prompt_n'" in done.stderr


def test_cli_server_down(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text(DOC)
    done = subprocess.run(
        [sys.executable, "-m", "infill_ls", "complete", f"{source}:4:4", "--engine-url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "infill-ls: error: cannot reach the inference server at 127.0.0.1:9: connection refused"]


@pytest.mark.parametrize("api", APIS)
async def test_an_invoked_request_gets_sampled_alternatives(
    api: str, llama_server_factory: LlamaServerFactory, context_model: Path
) -> None:
    """Issue 14: the remote engine samples the alternatives too (the temperature and seed go in the request)."""
    server = llama_server_factory(context_model)
    async with session({"url": server.url, "api": api}, maxTokens=6, alternatives=3) as client:
        await ready(client)
        uri = open_doc(client, "def add(a, b):\n    return ")
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        calls = (await idle(client))["stats"]["modelCalls"]
    texts = [item.insert_text for item in result.items] if result else []
    assert 2 <= len(texts) <= 3 and len(set(texts)) == len(texts), texts
    assert calls == 3
