"""Warm files, the two ways llama.cpp offers to keep several files' KV state (docs/performance.md "Warm files").

- `sequences`: every file a sequence of its own in one context (`n_seq_max` files, the context `files` times as
  large, allocated up front), with the cache unified (one pool of cells, attention masked per sequence) or split
  (each sequence its own stream of `n_ctx / n_seq_max` cells). A switch costs nothing; what the other files'
  cells cost is measured on a keystroke (one token decoded after `--tokens` of the file's own).
- `saved`: one sequence, the others' state copied out to host memory (`llama_state_seq_get_data`) and back
  (`llama_state_seq_set_data`) on a switch: what the engine does (engine/states.py). Measured: the copy out, the
  copy back, the bytes held.

    python bench/kv_states.py --model MODEL.gguf [--tokens 2000] [--files 4] [--repeat 5]
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from infill_ls.config import ModelSettings
from infill_ls.engine.llama import LlamaEngine


def tokens_of(engine: LlamaEngine, n: int, seed: int) -> list[int]:
    text = "".join(f"def f_{seed}_{i}(x):\n    return x * {i} + {seed}\n" for i in range(n))
    return engine.tokenize(text)[:n]


def decode(llama_cpp: Any, ctx: Any, tokens: list[int], start: int, seq: int, chunk: int = 512) -> None:
    for at in range(0, len(tokens), chunk):
        part = tokens[at : at + chunk]
        batch = llama_cpp.llama_batch_init(len(part), 0, 1)
        try:
            batch.n_tokens = len(part)
            for i, token in enumerate(part):
                batch.token[i] = token
                batch.pos[i] = start + at + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = i == len(part) - 1
            if llama_cpp.llama_decode(ctx, batch) != 0:
                raise SystemExit("llama_decode failed")
        finally:
            llama_cpp.llama_batch_free(batch)


def keystroke_ms(llama_cpp: Any, ctx: Any, at: int, token: int, repeat: int) -> float:
    """One token decoded at position `at` of sequence 0 (then removed again), median ms."""
    memory = llama_cpp.llama_get_memory(ctx)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        decode(llama_cpp, ctx, [token], at, 0)
        times.append((time.perf_counter() - started) * 1000)
        llama_cpp.llama_memory_seq_rm(memory, 0, at, -1)
    return statistics.median(times)


def context(llama_cpp: Any, engine: LlamaEngine, n_ctx: int, n_seq: int, unified: bool) -> Any:
    params = type(engine.llm.context_params).from_buffer_copy(engine.llm.context_params)
    params.n_ctx, params.n_seq_max, params.kv_unified = n_ctx, n_seq, unified
    ctx = llama_cpp.llama_init_from_model(engine.llm._model.model, params)
    if not ctx:
        raise SystemExit(f"cannot make a context of {n_ctx} cells for {n_seq} sequences")
    return ctx


def main() -> int:
    import llama_cpp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--tokens", type=int, default=2000, help="tokens of each file's prompt")
    parser.add_argument("--files", type=int, default=4, help="files kept (the current one included)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    n = args.tokens
    per_seq = n + 64
    engine = LlamaEngine.load(args.model, ModelSettings(contextSize=per_seq, threads=args.threads))
    files = [tokens_of(engine, n, seed) for seed in range(args.files)]
    key = engine.tokenize("x")[0]
    print(f"model {args.model.name}, {engine.bytes_per_token} KV bytes per token, {args.files} files of {n} tokens, "
          f"{engine.info.threads} threads")

    # saved: the engine's own single-sequence context
    ctx = engine.llm._ctx.ctx
    memory = llama_cpp.llama_get_memory(ctx)
    decode(llama_cpp, ctx, files[0], 0, 0)
    alone = keystroke_ms(llama_cpp, ctx, n, key, args.repeat)
    outs, ins, size = [], [], 0
    for _ in range(args.repeat):
        started = time.perf_counter()
        size = int(llama_cpp.llama_state_seq_get_size(ctx, 0))
        data = (ctypes.c_uint8 * size)()
        llama_cpp.llama_state_seq_get_data(ctx, data, size, 0)
        outs.append((time.perf_counter() - started) * 1000)
        llama_cpp.llama_memory_seq_rm(memory, 0, -1, -1)
        started = time.perf_counter()
        if not llama_cpp.llama_state_seq_set_data(ctx, data, size, 0):
            raise SystemExit("llama_state_seq_set_data failed")
        ins.append((time.perf_counter() - started) * 1000)
    print(f"saved:     context {per_seq} cells ({per_seq * engine.bytes_per_token / 2**20:.0f} MiB KV up front); "
          f"per other file {size / 2**20:.1f} MiB of host memory; copy out {statistics.median(outs):.1f} ms, "
          f"copy back {statistics.median(ins):.1f} ms; keystroke {alone:.1f} ms")

    # sequences: one context of files x cells
    for unified in (True, False):
        n_ctx = per_seq * args.files
        mctx = context(llama_cpp, engine, n_ctx, args.files, unified)
        try:
            decode(llama_cpp, mctx, files[0], 0, 0)
            empty = keystroke_ms(llama_cpp, mctx, n, key, args.repeat)
            for seq in range(1, args.files):
                decode(llama_cpp, mctx, files[seq], 0, seq)
            full = keystroke_ms(llama_cpp, mctx, n, key, args.repeat)
        finally:
            llama_cpp.llama_free(mctx)
        print(f"sequences: {'unified' if unified else 'split'} cache, context {n_ctx} cells "
              f"({n_ctx * engine.bytes_per_token / 2**20:.0f} MiB KV up front); switch 0 ms; keystroke "
              f"{empty:.1f} ms with the other sequences empty, {full:.1f} ms with {args.files - 1} files in them")
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
