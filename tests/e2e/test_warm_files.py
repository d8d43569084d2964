"""Warm files over LSP (issue 24): a file the user comes back to keeps its KV state, and `infill/didFocus` warms a
file up before its first keystroke. Costs are prompt tokens read from `infill/status`, never times; every request
is Invoked (no debounce to wait for)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from tests.fixtures.sources import functions_source

from .conftest import idle, inline_params, open_doc, settings_change, start, statuses, wait_status
from .test_server import change

FILES = {name: (f"file:///work/{name}.py", functions_source(name)) for name in ("alpha", "beta", "gamma")}
END = (80, 0)
"""The position after the last function (line, character)."""


def open_all(client: LanguageClient, names: str = "alpha beta gamma") -> dict[str, str]:
    return {name: open_doc(client, FILES[name][1], FILES[name][0]) for name in names.split()}


async def ask(client: LanguageClient, uri: str, line: int = END[0], character: int = END[1]) -> dict[str, Any]:
    """Ask for a completion and return the last call's figures (`last` of the status that came with the answer)."""
    await client.text_document_inline_completion_async(inline_params(uri, line, character))
    return dict(statuses(client)[-1]["last"])


def focus(client: LanguageClient, params: Any) -> None:
    client.protocol.notify("infill/didFocus", params)


def focus_at(client: LanguageClient, uri: str, line: int = END[0], character: int = END[1]) -> None:
    focus(client, {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})


async def test_switching_back_evaluates_only_what_changed(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, maxTokens=4)
    uris = open_all(client, "alpha beta")
    first = await ask(client, uris["alpha"])
    await ask(client, uris["beta"])
    change(client, uris["alpha"], 2, *END, "d")  # back to alpha: type one character and ask
    back = await ask(client, uris["alpha"], END[0], 1)
    assert first["evaluatedTokens"] > 400  # the whole file was evaluated the first time
    assert back["evaluatedTokens"] <= 8, back
    warm = statuses(client)[-1]["warm"]
    assert warm["files"] == 2 and warm["bytes"] > 0 and warm["budgetBytes"] > 0, warm


async def test_without_warm_memory_a_switch_back_costs_the_whole_prompt(
    client: LanguageClient, tiny_model: Path
) -> None:
    await start(client, tiny_model, maxTokens=4)
    ready = len(statuses(client))
    settings_change(client, {"model": {"path": str(tiny_model), "contextSize": 1024},
                             "completion": {"debounceMs": 0, "alternatives": 1, "maxTokens": 4, "warmMemoryMb": 0}})
    await wait_status(client, lambda s: s["warm"]["budgetBytes"] == 0)
    uris = open_all(client, "alpha beta")
    await ask(client, uris["alpha"])
    await ask(client, uris["beta"])
    back = await ask(client, uris["alpha"])
    assert back["evaluatedTokens"] > 400, back
    assert statuses(client)[-1]["warm"]["files"] == 1
    assert all(s["state"] == "ready" for s in statuses(client)[ready:])  # the setting never reloaded the model


async def test_a_focused_file_is_warm_before_its_first_keystroke(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, maxTokens=4)
    uris = open_all(client)
    await ask(client, uris["alpha"])
    await ask(client, uris["beta"])
    focus_at(client, uris["gamma"])
    done = await wait_status(client, lambda s: s["stats"]["warmupTokens"] > 0)
    assert done["stats"]["warmups"] == 1
    first = await ask(client, uris["gamma"])
    assert first["promptTokens"] > 400
    assert first["evaluatedTokens"] <= 8, first
    assert done["stats"]["warmupTokens"] >= first["promptTokens"] - 8
    change(client, uris["alpha"], 2, *END, "d")  # the warm-up kept the others warm too
    back = await ask(client, uris["alpha"], END[0], 1)
    assert back["promptTokens"] > 400 and back["evaluatedTokens"] <= 8, back


async def test_a_request_during_a_warm_up_takes_over(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, maxTokens=4)
    uris = open_all(client)
    focus_at(client, uris["gamma"])
    first = await ask(client, uris["gamma"])  # arrives while the warm-up evaluates the same prompt
    await idle(client)
    stats = statuses(client)[-1]["stats"]
    assert stats["warmups"] == 1
    # whatever the warm-up evaluated before the request took over (it stops between two chunks: counted in
    # test_requests.py), the request reused: the prompt was evaluated once, give or take the chunk under way
    assert stats["warmupTokens"] + first["evaluatedTokens"] <= first["promptTokens"] + 64, (stats, first)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"textDocument": {"uri": "file:///work/nowhere.py"}, "position": {"line": 0, "character": 0}},
                     id="unknown-document"),
        pytest.param({"textDocument": {"uri": FILES["alpha"][0]}, "position": {"line": 9999, "character": 0}},
                     id="position-out-of-range"),
        pytest.param({"textDocument": {"uri": FILES["alpha"][0]}, "position": {"line": -1, "character": "x"}},
                     id="bad-position"),
        pytest.param({"textDocument": "alpha"}, id="no-position"),
        pytest.param({}, id="empty"),
        pytest.param([1, 2], id="not-an-object"),
    ],
)
async def test_bad_focus_params_are_ignored(client: LanguageClient, tiny_model: Path, params: Any) -> None:
    await start(client, tiny_model, maxTokens=4)
    uris = open_all(client, "alpha")
    focus(client, params)
    answered = await ask(client, uris["alpha"])  # the server lives on and answers
    assert answered["evaluatedTokens"] > 0
    assert statuses(client)[-1]["stats"]["warmups"] == 0


@pytest.mark.parametrize(
    ("settings", "uri"),
    [
        pytest.param({"completion": {"enable": False}}, FILES["alpha"][0], id="completions-disabled"),
        pytest.param({"exclude": ["alpha.py"]}, FILES["alpha"][0], id="excluded-document"),
    ],
)
async def test_no_warm_up_where_no_completion_would_run(
    client: LanguageClient, tiny_model: Path, settings: dict[str, Any], uri: str
) -> None:
    await start(client, tiny_model, maxTokens=4)
    open_all(client)
    settings_change(client, {"model": {"path": str(tiny_model), "contextSize": 1024}, **settings})
    focus_at(client, uri)
    focus_at(client, FILES["beta"][0], 0, 0)  # a focus that warms up: the one before was handled by then
    await wait_status(client, lambda s: s["stats"]["warmups"] >= 1 or s["state"] == "disabled")
    await idle(client)
    assert statuses(client)[-1]["stats"]["warmups"] == (0 if "enable" in settings.get("completion", {}) else 1)


async def test_a_model_reload_drops_every_warm_file(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, maxTokens=4)
    uris = open_all(client, "alpha beta")
    await ask(client, uris["alpha"])
    await ask(client, uris["beta"])
    assert statuses(client)[-1]["warm"]["files"] == 2
    settings_change(client, {"model": {"path": str(tiny_model), "contextSize": 2048},  # a reload
                             "completion": {"debounceMs": 0, "alternatives": 1, "maxTokens": 4}})
    await wait_status(client, lambda s: s["state"] == "loading")
    ready = await wait_status(client, lambda s: s["state"] == "ready")
    assert ready["warm"] == {"files": 0, "tokens": 0, "bytes": 0, "budgetBytes": ready["warm"]["budgetBytes"]}
    assert ready["warm"]["budgetBytes"] > 0  # the new model's automatic budget
    back = await ask(client, uris["alpha"])  # the new engine evaluates the file again, and answers
    assert back["evaluatedTokens"] > 400


BETA_USES_ALPHA = functions_source("beta", 8) + "\n\ntotal = alpha_39(2) + alpha_38(3) + alpha_37(4)\n"
"""A file opened later that shares names with alpha's last lines: it belongs in alpha's context block."""


async def test_a_file_opened_elsewhere_leaves_a_kept_state_in_force(client: LanguageClient, tiny_model: Path) -> None:
    """A client that tells where the user rests: opening and editing another file makes alpha's context block stale
    but keeps it (and alpha's KV state) in force, so the switch back costs a keystroke; the next warm-up of alpha
    renews the block in the background, and the request after it still costs a keystroke."""
    await start(client, tiny_model, maxTokens=4)
    alpha = open_doc(client, FILES["alpha"][1], FILES["alpha"][0])
    focus_at(client, alpha)  # this client tells focus
    await wait_status(client, lambda s: s["stats"]["warmups"] == 1 and not s["generating"])
    await idle(client)
    first = await ask(client, alpha)
    beta = open_doc(client, BETA_USES_ALPHA, FILES["beta"][0])
    await ask(client, beta, 10, 0)
    change(client, alpha, 2, *END, "d")
    back = await ask(client, alpha, END[0], 1)
    assert back["evaluatedTokens"] <= 8, back
    assert back["promptTokens"] <= first["promptTokens"] + 1  # the block in force has no beta yet
    warmed = statuses(client)[-1]["stats"]["warmupTokens"]
    focus_at(client, alpha, END[0], 1)
    await wait_status(client, lambda s: s["stats"]["warmupTokens"] > warmed and not s["generating"])
    await idle(client)
    renewed = await ask(client, alpha, END[0], 1)
    assert renewed["promptTokens"] > first["promptTokens"] + 8, (first, renewed)  # beta's lines are in it now
    assert renewed["evaluatedTokens"] <= 8, renewed


async def test_a_client_that_never_tells_focus_gets_the_block_rebuilt(client: LanguageClient, tiny_model: Path) -> None:
    """Helix sends no `infill/didFocus`: a block made stale elsewhere is rebuilt at the next request, as before."""
    await start(client, tiny_model, maxTokens=4)
    alpha = open_doc(client, FILES["alpha"][1], FILES["alpha"][0])
    first = await ask(client, alpha)
    beta = open_doc(client, BETA_USES_ALPHA, FILES["beta"][0])
    await ask(client, beta, 10, 0)
    back = await ask(client, alpha)
    assert back["promptTokens"] > first["promptTokens"] + 8, (first, back)
    assert statuses(client)[-1]["stats"]["warmups"] == 0


async def test_a_warm_up_at_the_top_of_another_file_keeps_the_file_left_warm(
    client: LanguageClient, smollm2_model: Path
) -> None:
    """A focus at (0, 0) (Neovim's on entering a file, before it waited for the cursor): on the prefix-only path
    (SmolLM2) that warm-up's prompt is a token or two, and it used to drop the live state of the file left without
    saving it (the switch back then cost the whole prompt)."""
    await start(client, smollm2_model, maxTokens=4)
    settings_change(client, {"model": {"path": str(smollm2_model), "contextSize": 1024},  # no block before the prefix
                             "completion": {"debounceMs": 0, "alternatives": 1, "maxTokens": 4},
                             "context": {"enable": False}})
    await wait_status(client, lambda s: s["state"] == "ready")
    uris = open_all(client, "alpha beta")
    first = await ask(client, uris["alpha"])
    focus_at(client, uris["beta"], 0, 0)
    await wait_status(client, lambda s: s["stats"]["warmups"] == 1 and not s["generating"])
    await idle(client)
    await ask(client, uris["beta"])
    change(client, uris["alpha"], 2, *END, "d")
    back = await ask(client, uris["alpha"], END[0], 1)
    assert first["evaluatedTokens"] > 300
    assert back["evaluatedTokens"] <= 8, back


async def alpha_then_beta(
    client: LanguageClient, tiny_model: Path, focus_beta: bool
) -> tuple[str, int, dict[str, Any]]:
    """Alpha, then beta opened and asked on a new line after their last (alpha focused at its top, as Neovim enters
    a file; beta too, and warmed up, with `focus_beta`): alpha's URI, that line, and alpha's figures."""
    await start(client, tiny_model, maxTokens=4)
    alpha, beta = FILES["alpha"][1], FILES["beta"][1]
    last = alpha.count("\n")
    a = open_doc(client, alpha, "file:///w/alpha.py")
    focus_at(client, a, 0, 0)
    change(client, a, 2, last, len(alpha.split("\n")[-1]), "\n")
    first = await ask(client, a, last + 1, 0)
    b = open_doc(client, beta, "file:///w/beta.py")
    if focus_beta:
        focus_at(client, b, 0, 0)
        await wait_status(client, lambda s: s["stats"]["warmups"] >= 2 and not s["generating"])
    change(client, b, 2, last, len(beta.split("\n")[-1]), "\n")
    await ask(client, b, last + 1, 0)
    return a, last + 1, first


async def test_a_warm_up_at_the_top_of_another_file_leaves_the_context_block_in_force(
    client: LanguageClient, tiny_model: Path
) -> None:
    """A focus at (0, 0) (Neovim's on entering a file, before it waited for the cursor), with the cross-file context on:
    that warm-up builds the next block as pending and never replaces the one in force, so coming back to the first file
    and typing costs a keystroke (it used to re-evaluate the whole prompt after a block built for another region)."""
    a, line, _ = await alpha_then_beta(client, tiny_model, focus_beta=True)
    focus_at(client, a, line, 0)
    change(client, a, 3, line, 0, "d")
    back = await ask(client, a, line, 1)
    assert back["evaluatedTokens"] <= 8, back


async def test_a_finished_warm_up_at_the_top_of_the_file_leaves_the_block_in_force(
    client: LanguageClient, tiny_model: Path
) -> None:
    """A focus at (0, 0) (Neovim's on entering a file, before it waited for the cursor): back in alpha (its block made
    stale by beta), that warm-up of alpha's top runs to its end before the user types at the end of alpha. The block it
    evaluated serves the top; the region the user types in keeps the block in force and its KV state, so the keystroke
    costs a keystroke (adopting the top's block used to cost the whole prompt: a rebuild for the end of the file)."""
    a, line, first = await alpha_then_beta(client, tiny_model, focus_beta=False)
    warmed = statuses(client)[-1]["stats"]["warmupTokens"]
    focus_at(client, a, 0, 0)
    await wait_status(client, lambda s: s["stats"]["warmupTokens"] > warmed and not s["generating"])
    await idle(client)
    change(client, a, 3, line, 0, "d")
    back = await ask(client, a, line, 1)
    assert back["evaluatedTokens"] <= 8, back
    assert back["promptTokens"] <= first["promptTokens"] + 1, (first, back)  # the block in force: no beta yet
