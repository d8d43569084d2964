"""What llama.cpp's own server does when one user moves between files (docs/team.md "A file switch").

One client sends `/completion` prompts as an editor plugin that drives llama-server directly would: the text
before the cursor (`--prefix-chars`) of three real files, visiting A -> B -> A -> C -> A and typing a character
at each visit, with `cache_prompt`. Printed per request: llama-server's own `timings.prompt_n` (tokens
evaluated) and `cache_n` (tokens taken from the slot's cache), for each server configuration:

- `1 slot`: `-np 1`, llama-server's prompt cache in RAM off (`--cache-ram 0`): the slot holds one prompt;
- `1 slot + cache-ram`: `-np 1` with the prompt cache in RAM at its default (a slot's prompt is saved to host
  memory when another prompt takes the slot, and restored when a similar one comes back);
- `1 slot + cache-reuse`: `-np 1 --cache-ram 0 --cache-reuse 256` (shifted chunks, as llama.vim asks for);
- `4 slots`: `-np 4 --cache-ram 0` (a prompt goes to the idle slot whose cached prompt is most similar).

    python bench/server_switch.py --model MODEL.gguf [--llama-server PATH] [--prefix-chars 6000]
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import string
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures
from tests.fixtures.llamaserver import LlamaServer, binary

VISITS = "A B A C A"
CONFIGS = {
    "1 slot": (1, ["--cache-ram", "0"]),
    "1 slot + cache-ram": (1, []),
    "1 slot + cache-reuse": (1, ["--cache-ram", "0", "--cache-reuse", "256"]),
    "4 slots": (4, ["--cache-ram", "0"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--llama-server", help="default: $INFILL_LLAMA_SERVER or the setup script's build")
    parser.add_argument("--prefix-chars", type=int, default=6000)
    parser.add_argument("--context", type=int, default=4096, help="tokens per slot")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.llama_server:
        os.environ["INFILL_LLAMA_SERVER"] = args.llama_server
    if binary() is None:
        raise SystemExit("no llama-server: set INFILL_LLAMA_SERVER or pass --llama-server")
    files = {name: Path(inspect.getfile(module)).read_text(encoding="utf-8")
             for name, module in zip("ABC", (textwrap, string, shutil), strict=True)}
    prefixes = {name: text[max(0, len(text) // 2 - args.prefix_chars) : len(text) // 2] for name, text in files.items()}
    print(f"model {args.model.name}; /completion with cache_prompt, up to {args.prefix_chars} chars before the middle "
          "of textwrap.py (A), string.py (B), shutil.py (C); one character typed at each visit")
    print(f"{'server':<22} " + " ".join(f"{f'{k + 1}:{n}':>11}" for k, n in enumerate(VISITS.split()))
          + "   (prompt_n evaluated / cache_n reused)")
    for label, (slots, extra) in CONFIGS.items():
        typed = dict.fromkeys(files, "")
        cells = []
        with LlamaServer(args.model, slots=slots, context=args.context, threads=args.threads, extra=extra) as server:
            for name in VISITS.split():
                typed[name] += "x"
                answer = server.request_json("/completion", {
                    "prompt": prefixes[name] + typed[name], "n_predict": 4, "cache_prompt": True,
                    "temperature": 0}, timeout=600)
                timings = answer.get("timings", {})
                cells.append(f"{timings.get('prompt_n', '?')}/{timings.get('cache_n', '?')}")
        print(f"{label:<22} " + " ".join(f"{c:>11}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
