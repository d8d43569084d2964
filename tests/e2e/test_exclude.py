"""Excluded files over LSP (issue 21, item 4): a secret file is never completed in, never context for another file,
never logged; a git-ignored open document is never context; the status names each excluded open document."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import custom_client, inline_params, open_doc, settings_change, statuses, wait_ready, wait_status

SECRET = "sk-live-4f9c2e7d1b8a6350"
ENV_TEXT = f"OPENAI_API_KEY={SECRET}\nDATABASE_URL=postgres://admin:hunter2@db/prod\nDEBUG="
APP = "import os\n\n\ndef connect():\n    key = os.environ[\"OPENAI_API_KEY\"]\n    return "
DEFAULT = "(infill.exclude default)"


async def begin(client: LanguageClient, model: Path, root: Path, **infill: Any) -> None:
    """Initialize with the workspace folder `root` and the `infill` settings given (exclude, ...)."""
    completion = {"debounceMs": 0, "alternatives": 1, "maxTokens": 4, **infill.pop("completion", {})}
    options = {"infill": {"model": {"path": str(model), "contextSize": 1024}, "completion": completion, **infill}}
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(root.as_uri(), root.name)]))
    await wait_ready(client)


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path.as_uri()


async def ask(client: LanguageClient, uri: str, text: str) -> tuple[list[str], int, dict[str, Any]]:
    """An Invoked inline request at the end of `text`: its items, the model calls it made, the last call's figures."""
    calls = statuses(client)[-1]["stats"]["modelCalls"]
    lines = text.split("\n")
    result = await client.text_document_inline_completion_async(inline_params(uri, len(lines) - 1, len(lines[-1])))
    items = [str(i.insert_text) for i in (result.items if isinstance(result, types.InlineCompletionList) else [])]
    status = statuses(client)[-1]
    return items, status["stats"]["modelCalls"] - calls, status["last"]


@pytest.mark.parametrize(
    ("file", "settings", "ignore_file", "why"),
    [
        pytest.param(".env", {}, "", f'matches ".env" {DEFAULT}', id="dotenv"),
        pytest.param("config/.env.production", {}, "", f'matches ".env.*" {DEFAULT}', id="dotenv-variant-nested"),
        pytest.param("deploy/tls/server.key", {}, "", f'matches "*.key" {DEFAULT}', id="private-key"),
        pytest.param("../home/.ssh/config", {}, "", f'matches ".ssh/" {DEFAULT}', id="ssh-outside-the-folder"),
        pytest.param("../home/.aws/config", {}, "", f'matches ".aws/" {DEFAULT}', id="aws-outside-the-folder"),
        pytest.param("ops/vault.py", {"exclude": ["ops/vault.py"]}, "", 'matches "ops/vault.py" (infill.exclude)',
                     id="user-pattern"),
        pytest.param("notes/private.py", {}, "notes/\n", 'matches "notes/" (.infillignore)', id="infillignore"),
    ],
)
async def test_an_excluded_file_is_not_completed_and_the_status_says_why(
    client: LanguageClient, context_model: Path, tmp_path: Path, file: str, settings: dict[str, Any],
    ignore_file: str, why: str,
) -> None:
    root = tmp_path / "proj"
    if ignore_file:
        write(root / ".infillignore", ignore_file)
    uri = write((root / file).resolve(), ENV_TEXT)
    await begin(client, context_model, root, **settings)
    open_doc(client, ENV_TEXT, uri=uri)
    status = await wait_status(client, lambda s: s["excluded"] != {})
    assert status["excluded"] == {uri: why}
    items, calls, _ = await ask(client, uri, ENV_TEXT)
    assert (items, calls) == ([], 0)
    assert statuses(client)[-1]["stats"]["requests"] == 1
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    await wait_status(client, lambda s: s["excluded"] == {})


@pytest.mark.parametrize(
    ("settings", "ignore_file"),
    [
        pytest.param({"exclude": ["!.env.example"]}, "", id="user-re-includes"),
        pytest.param({}, "!.env.example\n", id="infillignore-re-includes"),
    ],
)
async def test_a_re_included_file_is_completed(
    client: LanguageClient, context_model: Path, tmp_path: Path, settings: dict[str, Any], ignore_file: str,
) -> None:
    root = tmp_path / "proj"
    if ignore_file:
        write(root / ".infillignore", ignore_file)
    uri = write(root / ".env.example", "OPENAI_API_KEY=\nDEBUG=")
    await begin(client, context_model, root, **settings)
    open_doc(client, "OPENAI_API_KEY=\nDEBUG=", uri=uri)
    _, calls, _ = await ask(client, uri, "OPENAI_API_KEY=\nDEBUG=")
    assert calls == 1
    assert statuses(client)[-1]["excluded"] == {}


async def test_a_menu_request_in_an_excluded_file_gets_nothing(
    client: LanguageClient, context_model: Path, tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    uri = write(root / ".env", ENV_TEXT)
    await begin(client, context_model, root, completion={"menu": "always"})
    open_doc(client, ENV_TEXT, uri=uri)
    lines = ENV_TEXT.split("\n")
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), types.Position(len(lines) - 1, len(lines[-1])),
        context=types.CompletionContext(types.CompletionTriggerKind.Invoked)))
    assert isinstance(result, types.CompletionList) and list(result.items) == []
    assert statuses(client)[-1]["stats"]["modelCalls"] == 0


async def test_an_infillignore_written_later_is_noticed_at_the_next_request(
    client: LanguageClient, context_model: Path, tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    uri = write(root / "notes.py", APP)
    await begin(client, context_model, root)
    open_doc(client, APP, uri=uri)
    _, calls, _ = await ask(client, uri, APP)
    assert calls == 1 and statuses(client)[-1]["excluded"] == {}
    write(root / ".infillignore", "# private notes\nnotes.py\n")
    items, calls, _ = await ask(client, uri, APP)
    assert (items, calls) == ([], 0)
    assert statuses(client)[-1]["excluded"] == {uri: 'matches "notes.py" (.infillignore)'}


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version=version, uri=uri),
        [types.TextDocumentContentChangeWholeDocument(text)]))


def git_init(root: Path, ignore: str) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text(ignore)


@pytest.mark.parametrize(
    ("other", "ignore"),
    [
        pytest.param(".env", "", id="excluded-dotenv"),
        pytest.param("secrets.toml", "", id="excluded-secrets-file"),
        pytest.param("build/generated.py", "build/\n", id="git-ignored-folder"),
        pytest.param("local_settings.py", "local_settings.py\n", id="git-ignored-file"),
    ],
)
async def test_an_open_excluded_or_git_ignored_document_is_no_context(
    client: LanguageClient, context_model: Path, tmp_path: Path, other: str, ignore: str,
) -> None:
    """The other document's text would add its tokens to the prompt (as a document not excluded does: the
    control); excluded or git-ignored, the prompt of a completion in app.py stays as long as without it."""
    root = tmp_path / "proj"
    git_init(root, ignore)
    app = write(root / "app.py", APP)
    await begin(client, context_model, root)
    open_doc(client, APP, uri=app)
    _, _, alone = await ask(client, app, APP)
    open_doc(client, ENV_TEXT, uri=write(root / other, ENV_TEXT))
    edited = APP + " "  # another text: no cached answer
    change(client, app, 2, edited)
    _, calls, hidden = await ask(client, app, edited)
    open_doc(client, ENV_TEXT, uri=write(root / "shown.py", ENV_TEXT))
    _, _, control = await ask(client, app, edited)
    assert calls == 1
    assert abs(hidden["promptTokens"] - alone["promptTokens"]) <= 2, (alone, hidden)
    assert control["promptTokens"] > alone["promptTokens"] + 20, (alone, control)


async def test_a_recent_edit_of_an_excluded_document_is_no_context(
    client: LanguageClient, context_model: Path, tmp_path: Path
) -> None:
    """Recent edits are a source of their own: an edit in `.env` never reaches the prompt of app.py."""
    root = tmp_path / "proj"
    app = write(root / "app.py", APP)
    env = write(root / ".env", "DEBUG=1\n")
    await begin(client, context_model, root, context={"openDocuments": False})
    open_doc(client, APP, uri=app)
    open_doc(client, "DEBUG=1\n", uri=env)
    _, _, alone = await ask(client, app, APP)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version=2, uri=env), [types.TextDocumentContentChangePartial(
            types.Range(types.Position(1, 0), types.Position(1, 0)), ENV_TEXT)]))
    change(client, app, 2, APP + " ")  # another text: no cached answer
    _, calls, after = await ask(client, app, APP + " ")
    assert calls == 1
    assert abs(after["promptTokens"] - alone["promptTokens"]) <= 2, (alone, after)


@pytest.mark.parametrize(
    ("exclude", "message", "still"),
    [
        pytest.param(".env.local", "infill.exclude: '.env.local' must be a list of glob patterns", ".env",
                     id="a-string"),
        pytest.param({"a": 1}, "infill.exclude: {'a': 1} must be a list of glob patterns", "id_rsa", id="an-object"),
        pytest.param(["*.vault", 7, "!"], "infill.exclude: holds 7, '!', which are no glob pattern", "x.vault",
                     id="bad-items-dropped-good-kept"),
    ],
)
async def test_a_bad_exclude_setting_falls_back_with_a_message(
    client: LanguageClient, context_model: Path, tmp_path: Path, exclude: Any, message: str, still: str,
) -> None:
    """The message names the key; the built-in list (and the good patterns) still exclude."""
    root = tmp_path / "proj"
    await begin(client, context_model, root)
    settings_change(client, {"model": {"path": str(context_model), "contextSize": 1024}, "exclude": exclude})
    uri = write(root / still, ENV_TEXT)
    open_doc(client, ENV_TEXT, uri=uri)
    await wait_status(client, lambda s: uri in s["excluded"])
    assert any(message in m.message for m in client.messages), [m.message for m in client.messages]


async def test_no_secret_reaches_the_log(context_model: Path, tmp_path: Path) -> None:
    """At debug level, with `.env` open beside app.py and completions asked in both: its text is in no log record
    and no notification."""
    root = tmp_path / "proj"
    async with custom_client(["--log-level", "debug"]) as client:
        await begin(client, context_model, root)
        env = write(root / ".env", ENV_TEXT)
        app = write(root / "app.py", APP)
        open_doc(client, ENV_TEXT, uri=env)
        open_doc(client, APP, uri=app)
        await ask(client, app, APP)
        await ask(client, env, ENV_TEXT)
        assert statuses(client)[-1]["stats"]["modelCalls"] == 1
        logged = [m.message for m in client.log_messages] + [m.message for m in client.messages]
        assert len(logged) > 5
        assert [line for line in logged if SECRET in line or "hunter2" in line] == []
        assert SECRET not in str(statuses(client))
