from __future__ import annotations

from pathlib import Path

from pytest_lsp import LanguageClient

from .conftest import idle, open_doc, start, statuses, wait_status
from .test_server import change
from .test_warm_files import ask, focus_at


def functions_source(name: str, functions: int = 40) -> str:
    return "\n".join(f"def {name}_{i}(value):\n    return value * {i} + len('{name}')\n" for i in range(functions))


async def test_repro(client: LanguageClient, tiny_model: Path) -> None:
    await start(client, tiny_model, maxTokens=4)
    a, b = functions_source("alpha"), functions_source("beta")
    ua = open_doc(client, a, "file:///w/alpha.py")
    focus_at(client, ua, 0, 0)
    n = a.count("\n")
    change(client, ua, 2, n, len(a.split("\n")[-1]), "\n")
    first = await ask(client, ua, n + 1, 0)
    ub = open_doc(client, b, "file:///w/beta.py")
    focus_at(client, ub, 0, 0)
    await wait_status(client, lambda s: s["stats"]["warmups"] >= 2 and not s["generating"])
    change(client, ub, 2, n, len(b.split("\n")[-1]), "\n")
    await ask(client, ub, n + 1, 0)
    focus_at(client, ua, n + 1, 0)
    change(client, ua, 3, n + 1, 0, "d")
    back = await ask(client, ua, n + 1, 1)
    await idle(client)
    print("FIRST", first)
    print("BACK", back)
    print("STATS", statuses(client)[-1]["stats"], statuses(client)[-1]["warm"])
    assert back["evaluatedTokens"] <= 8
