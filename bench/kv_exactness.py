"""Replay the scripted editing session of tests/fixtures/editing.py on an engine that reuses its KV cache and
on one that evaluates every prompt afresh, and print how many answers differ, and what the reuse saved.

A step "shifted" when its request reused cached runs moved to new positions (directly, or through its own
prefill with --prefill): those answers may differ from a fresh evaluation. Any other difference comes from the
cache being reused as exact when it is not, or from llama.cpp's batch split: `--eval-chunk 1` (the default)
evaluates one token per batch on both sides, so that the split is the same; a larger chunk shows the split's
own effect (larger on quantized models).

    python bench/kv_exactness.py [--model MODEL.gguf] [--eval-chunk 1] [--prefill]

Without --model it writes the test suite's context-sensitive model (tests/fixtures/tinymodel.py). A quantized
one of the same shape: `python tests/fixtures/tinymodel.py --dim 256 --layers 4 --ff 512 --heads 8 --q4 OUT`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures
from tests.fixtures.editing import session
from tests.fixtures.tinymodel import write_context_model

from infill_ls.config import ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams
from infill_ls.engine.llama import EngineOptions, LlamaEngine


def common_prefix(a: list[int], b: tuple[int, ...]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--eval-chunk", type=int, default=1)
    parser.add_argument("--prefill", action="store_true", help="evaluate each prompt first, as the debounce does")
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or write_context_model(Path(tmp) / "context.gguf")
        settings = ModelSettings(contextSize=2048, threads=args.threads)
        engine = LlamaEngine.load(model, settings, EngineOptions(eval_chunk=args.eval_chunk))
        fresh = LlamaEngine.load(model, settings, EngineOptions(reuse_kv=False, eval_chunk=args.eval_chunk))
    params = GenerationParams(max_tokens=args.max_tokens)
    steps = shifted = differ = differ_shifted = evaluated = evaluated_fresh = 0
    for step, prompt in session(engine):
        cancel = CancelToken()
        if args.prefill:
            evaluated += engine.generate(prompt, GenerationParams(max_tokens=0), cancel).stats.evaluated_tokens
        common = min(common_prefix(engine.cached_tokens, prompt), len(prompt) - 1)
        got = engine.generate(prompt, params, cancel)
        want = fresh.generate(prompt, params, CancelToken())
        moved = got.stats.shifted_tokens > 0 or got.stats.reused_tokens > common
        steps, shifted = steps + 1, shifted + moved
        differ += got.text != want.text
        differ_shifted += moved and got.text != want.text
        evaluated += got.stats.evaluated_tokens
        evaluated_fresh += want.stats.evaluated_tokens
        marks = ("  shifted" if moved else "") + ("  DIFFERS" if got.text != want.text else "")
        print(f"{steps - 1:2} {step:10} prompt {len(prompt):4} reused {got.stats.reused_tokens:4} evaluated "
              f"{got.stats.evaluated_tokens:4}{marks}")
    print(f"{model.name}, eval_chunk {args.eval_chunk}{', prefill' if args.prefill else ''}: {steps} steps, "
          f"{shifted} shifted; answers differing from a fresh evaluation: {differ} "
          f"({differ_shifted} shifted, {differ - differ_shifted} not); prompt tokens evaluated: {evaluated} "
          f"with reuse, {evaluated_fresh} afresh")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
