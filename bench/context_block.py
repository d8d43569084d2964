"""Time `CrossFileSources.extra` (completion/crossfile/sources.py), the context block: per request that reuses
the block (every keystroke while its sources stay: since issue 21 it looks at each file it read, one `stat`
each) and per rebuild (the imports read and their `.gitignore` rules looked at), for a Python file importing
from `--modules` modules.

    python bench/context_block.py [--modules 16] [--requests 2000]
    PYTHONPATH=/other/checkout/server python bench/context_block.py   # another version of the server

Prints the microseconds per call, median over 5 rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from infill_ls.completion.crossfile.sources import CrossFileSources
from infill_ls.config import ContextSettings


class Doc:
    def __init__(self, uri: str, source: str) -> None:
        self.uri, self.source, self.version = uri, source, 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve() / "proj"
        (root / ".git").mkdir(parents=True)
        (root / ".gitignore").write_text("__pycache__/\n*.pyc\nbuild/\n.env\n")
        for k in range(args.modules):
            (root / "pkg").mkdir(exist_ok=True)
            (root / "pkg" / f"mod{k}.py").write_text(f"def f{k}(x):\n    return x + {k}\n\n\nLIMIT_{k} = {k}\n")
        text = "".join(f"from pkg.mod{k} import f{k}\n" for k in range(args.modules)) + "\n\nx = f0(\n"
        uri = (root / "main.py").as_uri()
        docs = {uri: Doc(uri, text)}
        settings = ContextSettings()
        reuse, rebuild = [], []
        for _ in range(5):
            sources = CrossFileSources()
            start = time.perf_counter()
            for _ in range(20):
                sources.blocks.clear()
                sources.extra(uri, text, len(text), docs, [root], settings)
            rebuild.append((time.perf_counter() - start) / 20 * 1e6)
            start = time.perf_counter()
            for _ in range(args.requests):
                sources.extra(uri, text, len(text), docs, [root], settings)
            reuse.append((time.perf_counter() - start) / args.requests * 1e6)
        print(f"{args.modules} imported modules: reuse {statistics.median(reuse):.1f} us per request, "
              f"rebuild {statistics.median(rebuild):.0f} us")


if __name__ == "__main__":
    main()
