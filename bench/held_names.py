"""What holding the generation to known names costs (docs/context.md, "Names held to what exists").

    python bench/held_names.py [--model SmolLM2.gguf] [--module PATH.py] [--repeat 100]

Prints: the choices after `module.` for a module (parsed once per file version, then cached), the piece index the
engine builds when it loads, and the mask per generated token (the first one after the dot, then inside a name).
Default: SmolLM2-135M (49k tokens) and jinja2 3.1.4's `nodes.py` (fetched as bench/quality.py fetches it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from quality import fetch, smollm2

from infill_ls.completion.crossfile.focus import Binding, choices, class_names, module_names, need_at, parsed
from infill_ls.config import ModelSettings
from infill_ls.engine import names
from infill_ls.engine.llama import LlamaEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--module", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    module = args.module or fetch("jinja2==3.1.4") / "jinja2" / "nodes.py"
    text = module.read_text(encoding="utf-8")
    line = f"x = {module.stem}."
    need = need_at(line)
    assert need is not None
    binding = Binding(module.name, text)

    for cache in (parsed, module_names, class_names):
        cache.cache_clear()
    started = time.perf_counter()
    held = choices(need, binding, line)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(args.repeat):
        choices(need, binding, line)
    cached = (time.perf_counter() - started) / args.repeat
    print(f"choices after `{line}` ({module.name}, {len(text) // 1024} KiB, {len(held)} names): "
          f"{first * 1000:.1f} ms first, {cached * 1000:.2f} ms cached")

    engine = LlamaEngine.load(args.model or smollm2(), ModelSettings(threads=1))
    started = time.perf_counter()
    index = names.Pieces(engine._piece_index())
    print(f"piece index ({engine.llm.n_vocab()} tokens): {(time.perf_counter() - started) * 1000:.0f} ms, "
          "once, when the model loads")
    encoded = [name.encode() for name in held]
    longest = max(encoded, key=len)
    for done in (b"", longest[: len(longest) // 2], longest):
        started = time.perf_counter()
        for _ in range(args.repeat):
            allowed = names.next_tokens(done, encoded, index)
            if allowed is not None:
                engine._names_mask(allowed)
        per = (time.perf_counter() - started) / args.repeat
        print(f"mask after {done.decode()!r:34}: {per * 1000:.2f} ms per generated token")


if __name__ == "__main__":
    main()
