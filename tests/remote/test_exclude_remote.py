"""Excluded files and a shared inference server (issue 21, item 4), seen where it matters: at the wire. A recording
proxy in front of a real llama-server keeps every request infill-ls makes; the prompts' token ids are turned back
into text by the server's own /detokenize. With `.env` open in a tab, nothing of it is in any request, while an
open document that is not excluded is in the prompt (the control: the observation sees context); a request
inside `.env` sends nothing at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llamaserver import LlamaServer
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from recordingproxy import Recorded, RecordingProxy

from ..e2e.conftest import custom_client, inline_params, open_doc, statuses, wait_status

SECRET = "sk-live-4f9c2e7d1b8a6350"
PASSWORD = "hunter2-rosebud"
ENV_TEXT = f"OPENAI_API_KEY={SECRET}\nDATABASE_PASSWORD={PASSWORD}\nDEBUG="
SHOP = "def shipping_cost_for_parcel(weight_kg):\n    return weight_kg * 4.75\n"
APP = "import os\n\n\ndef connect():\n    key = os.environ['OPENAI_API_KEY']\n" \
      "    cost = shipping_cost_for_parcel(2)\n    x ="
GENERATE = ("/completion", "/v1/completions")


async def ask(client: LanguageClient, uri: str, text: str) -> None:
    lines = text.split("\n")
    await client.text_document_inline_completion_async(inline_params(uri, len(lines) - 1, len(lines[-1])))


def prompts(server: LlamaServer, recorded: list[Recorded]) -> list[str]:
    """The text of every prompt sent for a generation, from its token ids."""
    ids = [json.loads(r.body)["prompt"] for r in recorded if r.path in GENERATE]
    return [str(server.request_json("/detokenize", {"tokens": p})["content"]) for p in ids]


async def test_no_excluded_text_reaches_the_inference_server(llama_server: LlamaServer, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    files = {".env": ENV_TEXT, "shop.py": SHOP, "app.py": APP}
    for name, text in files.items():
        (root / name).write_text(text)
    uris = {name: (root / name).as_uri() for name in files}
    with RecordingProxy(llama_server.url) as proxy:
        async with custom_client() as client:
            options: dict[str, Any] = {"infill": {"engine": {"url": proxy.url}, "completion": {
                "debounceMs": 0, "alternatives": 1, "maxTokens": 8}}}
            await client.initialize_session(types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"), initialization_options=options,
                workspace_folders=[types.WorkspaceFolder(root.as_uri(), root.name)]))
            await wait_status(client, lambda s: s["state"] in ("ready", "error"))
            assert statuses(client)[-1]["state"] == "ready", statuses(client)[-1]
            for name, text in files.items():
                open_doc(client, text, uri=uris[name])
            await ask(client, uris["app.py"], APP)
            assert statuses(client)[-1]["stats"]["modelCalls"] == 1
            before = len(proxy.recorded())
            await ask(client, uris[".env"], ENV_TEXT)
            assert statuses(client)[-1]["excluded"] == {uris[".env"]: 'matches ".env" (infill.exclude default)'}
            assert statuses(client)[-1]["stats"]["modelCalls"] == 1
    recorded = proxy.recorded()
    sent = prompts(llama_server, recorded)
    assert any("shipping_cost_for_parcel" in p for p in sent), sent  # the control: context does reach the prompt
    bodies = [r.body.decode("utf-8", errors="replace") for r in recorded]
    assert [t for t in bodies + sent if SECRET in t or PASSWORD in t] == []
    assert [r.path for r in recorded[before:] if r.path in (*GENERATE, "/tokenize", "/detokenize")] == []
