"""Which parts of the KV cache a new prompt can keep: the common prefix, then shifted chunks.

Like llama-server's `--cache-reuse` (which llama.vim relies on), runs of at least `min_chunk` tokens that the
new prompt shares with the cached one keep their KV state and move to their new positions; the rest of the
prompt after the last run is evaluated. Moving the cursor to another line changes the suffix-first prompt at its
start, and this keeps that cost near the size of the change instead of the whole prompt. A shifted chunk's
KV was computed in its old context: an approximation llama.cpp's own server makes too, which the engine lets
serve only the request that shifted it (see LlamaEngine.generate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    cache_start: int
    prompt_start: int
    length: int


@dataclass(frozen=True)
class ReusePlan:
    prefix: int
    """Tokens kept in place (the common prefix)."""
    chunks: tuple[Chunk, ...]
    """Cached runs moved to new positions, in order."""

    @property
    def reused(self) -> int:
        return self.prefix + sum(c.length for c in self.chunks)

    def gaps(self, prompt_len: int) -> list[tuple[int, int]]:
        """Prompt ranges [start, end) that must be evaluated, in order."""
        out, at = [], self.prefix
        for c in self.chunks:
            if c.prompt_start > at:
                out.append((at, c.prompt_start))
            at = c.prompt_start + c.length
        if at < prompt_len:
            out.append((at, prompt_len))
        return out


def plan_reuse(cache: Sequence[int], prompt: Sequence[int], min_chunk: int) -> ReusePlan:
    """The common prefix plus shifted chunks; the prompt's last token is always left to evaluate (its logits
    are needed for sampling)."""
    limit = len(prompt) - 1
    prefix = 0
    while prefix < min(len(cache), limit) and cache[prefix] == prompt[prefix]:
        prefix += 1
    chunks: list[Chunk] = []
    if min_chunk <= 0:
        return ReusePlan(prefix, ())
    index: dict[tuple[int, ...], list[int]] = {}
    for c in range(prefix, len(cache) - min_chunk + 1):
        index.setdefault(tuple(cache[c : c + min_chunk]), []).append(c)
    # llama.cpp decodes a sequence's new tokens only after its last cached position, so reused runs must
    # follow each other in the prompt without gaps: find the next run where the last one ended, or stop.
    head_c, p = prefix, prefix
    while p + min_chunk <= limit:
        starts = [c for c in index.get(tuple(prompt[p : p + min_chunk]), ()) if c >= head_c]
        if not starts:
            break
        c = starts[0]
        n = min_chunk
        while c + n < len(cache) and p + n < limit and cache[c + n] == prompt[p + n]:
            n += 1
        chunks.append(Chunk(c, p, n))
        head_c, p = c + n, p + n
    return ReusePlan(prefix, tuple(chunks))
