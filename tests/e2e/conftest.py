"""pytest-lsp plumbing: a client talking to `python -m infill_ls` over stdio."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest_lsp
from lsprotocol import types
from pygls.protocol import JsonRPCNotification, _dict_to_object
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from infill_ls.handlers import plain

SERVER = [sys.executable, "-m", "infill_ls", "--log-level", "info"]



def keep_status_objects(client: LanguageClient) -> None:
    """Hand `infill/status` params over as the JSON objects they are: pygls makes namedtuples of them, which
    cannot hold keys that are no identifiers (the URIs of `excluded`)."""

    def structure(obj: dict[str, Any], cls: type[Any]) -> Any:
        if "params" in obj and obj.get("method") != "infill/status":
            obj["params"] = _dict_to_object(obj["params"])
        return cls(**obj)

    client.protocol._converter.register_structure_hook(JsonRPCNotification, structure)


@pytest_lsp.fixture(config=ClientServerConfig(SERVER))
async def client(lsp_client: LanguageClient) -> AsyncIterator[LanguageClient]:
    keep_status_objects(lsp_client)
    statuses: list[dict[str, Any]] = []
    lsp_client.statuses = statuses  # type: ignore[attr-defined]

    @lsp_client.feature("infill/status")
    def on_status(params: Any) -> None:
        statuses.append(plain(params))

    yield lsp_client
    await lsp_client.shutdown_session()


def statuses(client: LanguageClient) -> list[dict[str, Any]]:
    return client.statuses  # type: ignore[attr-defined, no-any-return]


async def wait_status(
    client: LanguageClient, check: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    """The first status (already received or coming) for which `check` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    seen = 0
    while True:
        for status in statuses(client)[seen:]:
            if check(status):
                return status
        seen = len(statuses(client))
        assert asyncio.get_running_loop().time() < deadline, f"no matching status in {statuses(client)[-3:]}"
        await asyncio.sleep(0.02)


async def start(
    client: LanguageClient, model: Path, capabilities: str | types.ClientCapabilities = "visual-studio-code",
    **completion: Any,
) -> None:
    """Initialize with `model` and wait until the server reports it ready.

    One item per request unless `alternatives` is given: the tests of other features count model calls and
    items of Invoked requests (test_alternatives.py tests the alternatives)."""
    caps = client_capabilities(capabilities) if isinstance(capabilities, str) else capabilities
    options = {"infill": {"model": {"path": str(model), "contextSize": 1024},
                          "completion": {"debounceMs": 0, "alternatives": 1, **completion}}}
    await client.initialize_session(types.InitializeParams(capabilities=caps, initialization_options=options))
    await wait_ready(client)


async def wait_ready(client: LanguageClient) -> dict[str, Any]:
    status = await wait_status(client, lambda s: s["state"] in ("ready", "error"))
    assert status["state"] == "ready", status
    return status


def open_doc(client: LanguageClient, text: str, uri: str = "file:///work/example.py", version: int = 1) -> str:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", version, text))
    )
    return uri


def inline_params(uri: str, line: int, character: int, automatic: bool = False) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Automatic if automatic else types.InlineCompletionTriggerKind.Invoked
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=kind),
        text_document=types.TextDocumentIdentifier(uri),
        position=types.Position(line, character),
    )


@contextlib.asynccontextmanager
async def custom_client(
    extra_args: Sequence[str] = (), env: dict[str, str] | None = None
) -> AsyncIterator[LanguageClient]:
    """A client for a server started with `extra_args` and extra environment `env` (the fixture's, otherwise)."""
    config = ClientServerConfig([*SERVER, *extra_args], server_env={**os.environ, **(env or {})})
    client = await config.start()
    keep_status_objects(client)
    client.statuses = []  # type: ignore[attr-defined]

    @client.feature("infill/status")
    def on_status(params: Any) -> None:
        client.statuses.append(plain(params))  # type: ignore[attr-defined]

    try:
        yield client
    finally:
        await client.shutdown_session()


def settings_change(client: LanguageClient, infill: dict[str, Any]) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"infill": infill}))


async def idle(client: LanguageClient, timeout: float = 60) -> dict[str, Any]:
    """Wait until the newest status has shown no generation or speculation for a while, and return it."""
    deadline = asyncio.get_running_loop().time() + timeout
    quiet = 0
    while quiet < 5:
        await asyncio.sleep(0.05)
        last = statuses(client)[-1]
        quiet = quiet + 1 if not last["generating"] and not last["speculating"] else 0
        assert asyncio.get_running_loop().time() < deadline, f"never idle: {last}"
    return statuses(client)[-1]
