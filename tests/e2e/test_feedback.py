"""Acceptance statistics over LSP (issue 25): every item carries the `infill.accepted` command with its id and
confidence; workspace/executeCommand and infill/didFeedback count what became of it; `infill/stats` and
`infill-ls stats --json` report the counts per language; the file holds no code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import custom_client, inline_params, plain, start, wait_ready

SOURCE = "def secret_function_name():\n    x =\n"


def open_as(client: LanguageClient, uri: str, language: str, text: str = SOURCE) -> str:
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, text)))
    return uri


async def suggest(client: LanguageClient, uri: str) -> dict[str, Any]:
    """An Invoked request at the end of `x =`: the one item's command argument (id, confidence)."""
    result = await client.text_document_inline_completion_async(inline_params(uri, 1, 7))
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 1, result
    command = result.items[0].command
    assert command is not None and command.command == "infill.accepted" and command.title == "infill: accepted"
    assert command.arguments is not None
    argument: dict[str, Any] = command.arguments[0]
    return argument


def feedback(client: LanguageClient, sid: str, event: str, **extra: Any) -> None:
    client.protocol.notify("infill/didFeedback", {"id": sid, "event": event, **extra})


def cli_stats(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(state), "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "infill_ls", "stats", *args], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def by_language(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["language"]: row for row in report["rows"]}


async def test_a_session_is_counted_per_language(answer_model: Path, tmp_path: Path) -> None:
    async with custom_client(env={"XDG_STATE_HOME": str(tmp_path)}) as client:
        caps = await client_with_commands(client, answer_model)
        assert caps.execute_command_provider is not None
        assert list(caps.execute_command_provider.commands) == ["infill.accepted"]
        py = open_as(client, "file:///work/a.py", "python")
        rs = open_as(client, "file:///work/b.rs", "rust")

        first = await suggest(client, py)  # accepted whole through the item's command (twice: counted once)
        assert isinstance(first["confidence"], float) and first["confidence"] <= 0, first
        for _ in range(2):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="infill.accepted", arguments=[first]))
        second = await suggest(client, py)  # shown, a word taken, the rest dismissed
        feedback(client, second["id"], "shown")
        feedback(client, second["id"], "shown")
        feedback(client, second["id"], "acceptedPart", characters=2, part="word")
        feedback(client, second["id"], "dismissed")
        third = await suggest(client, rs)  # shown, typed over; a late accept is not counted
        feedback(client, third["id"], "shown")
        feedback(client, third["id"], "typedOver")
        feedback(client, third["id"], "accepted")
        feedback(client, "no-such-id", "accepted")  # ignored
        feedback(client, third["id"], "exploded")  # ignored
        assert len({first["id"], second["id"], third["id"]}) == 3

        report = await client.protocol.send_request_async("infill/stats", {"days": 7})
        served = plain(report)

    done = cli_stats(tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["rows"] == served["rows"] and printed["days"] == 7
    rows = by_language(printed)
    assert set(rows) == {"python", "rust"}
    python, rust = rows["python"], rows["rust"]
    assert (python["answered"], python["shown"], python["accepted"], python["acceptedPart"], python["dismissed"],
            python["typedOver"], python["acceptedChars"]) == (2, 1, 1, 1, 1, 0, len(" 42") + 2)
    assert (rust["answered"], rust["shown"], rust["accepted"], rust["acceptedPart"], rust["typedOver"]) == (
        1, 1, 0, 0, 1)
    assert python["rate"] == 2.0 and rust["rate"] == 0.0  # (accepted + part) / shown
    assert {row["model"] for row in printed["rows"]} == {answer_model.name}
    assert sum(day["answered"] for day in printed["daily"]) == 3
    database = Path(printed["path"])
    assert database.is_relative_to(tmp_path) and database.is_file()
    content = database.read_bytes()
    assert b"secret_function_name" not in content and b"x =" not in content
    assert b"file:///work" not in content


async def client_with_commands(client: LanguageClient, model: Path) -> types.ServerCapabilities:
    """Initialize as VS Code with `model` (as `start` does) and return the server's capabilities."""
    options = {"infill": {"model": {"path": str(model), "contextSize": 1024},
                          "completion": {"debounceMs": 0, "alternatives": 1}}}
    result = await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options=options))
    await wait_ready(client)
    return result.capabilities


async def test_stats_off_writes_nothing(answer_model: Path, tmp_path: Path) -> None:
    async with custom_client(env={"XDG_STATE_HOME": str(tmp_path)}) as client:
        await start(client, answer_model)
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"infill": {"model": {"path": str(answer_model), "contextSize": 1024},
                                 "completion": {"debounceMs": 0, "alternatives": 1}, "stats": {"enable": False}}}))
        uri = open_as(client, "file:///work/a.py", "python")
        argument = await suggest(client, uri)
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="infill.accepted", arguments=[argument]))
        report = await client.protocol.send_request_async("infill/stats", {"days": 30})
        assert report.enabled is False and report.rows == []
    assert not (tmp_path / "infill-ls").exists()


@pytest.mark.parametrize("days", [pytest.param(0, id="zero"), pytest.param("7", id="string"),
                                  pytest.param(4000, id="too-many")])
async def test_bad_stats_params_are_an_error_not_a_crash(client: LanguageClient, answer_model: Path,
                                                         days: Any) -> None:
    await start(client, answer_model)
    with pytest.raises(Exception, match="days"):
        await client.protocol.send_request_async("infill/stats", {"days": days})
    report = await client.protocol.send_request_async("infill/stats", {"days": 1})  # still serving
    assert report.days == 1


async def test_a_menu_item_carries_the_command_and_data(answer_model: Path, tmp_path: Path) -> None:
    """A client without inline completion (as Helix) gets menu items; accepting one runs its command."""
    async with custom_client(env={"XDG_STATE_HOME": str(tmp_path)}) as client:
        await start(client, answer_model, capabilities=types.ClientCapabilities())
        uri = open_as(client, "file:///work/a.go", "go", "func f() {\n    x =\n")
        menu = await client.text_document_completion_async(types.CompletionParams(
            types.TextDocumentIdentifier(uri), types.Position(1, 7),
            types.CompletionContext(types.CompletionTriggerKind.Invoked)))
        assert isinstance(menu, types.CompletionList) and len(menu.items) == 1, menu
        item = menu.items[0]
        assert item.command is not None and item.command.command == "infill.accepted"
        assert item.command.arguments is not None and item.command.arguments[0] == item.data
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="infill.accepted", arguments=[item.data]))
        report = plain(await client.protocol.send_request_async("infill/stats", {"days": 1}))
    [row] = report["rows"]
    assert (row["language"], row["answered"], row["accepted"], row["acceptedChars"]) == ("go", 1, 1, len(" 42"))
