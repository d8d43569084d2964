"""Stage 2: the context cut to token budgets and laid out as token ids for the model's FIM format.

Budgets cut on line boundaries. The prefix window's first line is an anchor that stays put while the user
types and jumps in large steps (to a quarter of the budget left free), so that from one keystroke to the next
the prompt changes only at its end and the KV cache stays reusable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..models import FimTokens, Layout
from .context import Context

SPECIAL_TOKENS = 5
"""BOS + PRE + SUF + MID, and one spare."""
JUMP_FILL = 0.75
"""After a jump, the prefix window fills this share of its budget; the rest is room to type."""


class Tokenizer(Protocol):
    fim: FimTokens
    add_bos: bool
    bos: int | None

    def tokenize(self, text: str) -> list[int]: ...

    def tokenize_infill(self, text: str) -> list[int]: ...


@dataclass(frozen=True)
class Budget:
    prefix_tokens: int = 1536
    suffix_tokens: int = 512
    max_tokens: int = 64
    context_size: int = 4096

    def fitted(self) -> Budget:
        """Shrink prefix and suffix budgets (keeping their ratio) so prompt + generation fit the context."""
        room = max(0, self.context_size - self.max_tokens - SPECIAL_TOKENS)
        wanted = self.prefix_tokens + self.suffix_tokens
        if wanted <= room:
            return self
        prefix = self.prefix_tokens * room // wanted if wanted else 0
        return Budget(prefix, room - prefix, self.max_tokens, self.context_size)


@dataclass(frozen=True)
class Anchors:
    """Window edges kept stable between keystrokes so the prompt changes only where the user edits."""

    prefix_line: int | None = None
    """Document line where the prefix window starts (None: it starts inside the cursor's line)."""
    suffix_tail: int | None = None
    """Document lines left out after the suffix window's end (None: the window ends inside a line)."""


@dataclass(frozen=True)
class Prompt:
    tokens: tuple[int, ...]
    layout: Layout
    prefix_text: str
    suffix_text: str
    anchors: Anchors
    """Where the windows start and end (feed them back in for the next request of the document)."""
    n_prefix: int
    n_suffix: int


def prefix_window(
    prefix: str, budget: int, count: Callable[[str], int], anchor_line: int | None
) -> tuple[str, int | None]:
    """The tail of `prefix` that fits `budget` tokens, starting at a line start, and its first line."""
    if budget <= 0:
        return "", None
    lines = prefix.split("\n")
    last = len(lines) - 1
    if anchor_line is not None and 0 <= anchor_line <= last:
        text = "\n".join(lines[anchor_line:])
        if count(text) <= budget:
            return text, anchor_line
    target = max(1, int(budget * JUMP_FILL))
    used = count(lines[last])
    if used > budget:  # one enormous line: keep its end only (the window cannot start at a line start)
        return _tail_that_fits(lines[last], budget, count), None
    start = last
    while start > 0:
        cost = count(lines[start - 1]) + 1
        if used + cost > target:
            break
        used += cost
        start -= 1
    text = "\n".join(lines[start:])
    while start < last and count(text) > budget:  # per-line counts can undercount the joined text
        start += 1
        text = "\n".join(lines[start:])
    return text, start


def suffix_window(suffix: str, budget: int, count: Callable[[str], int], tail: int | None) -> tuple[str, int | None]:
    """The head of `suffix` that fits `budget` tokens: the rest of the cursor's line, then whole lines.

    The window's end is anchored as `tail`, the number of document lines left out after it, which edits
    above it do not change. It stays put while it fits, so moving the cursor down only drops lines from the
    window's start (a run the KV cache can shift) instead of also adding one at its end.
    """
    if budget <= 0 or not suffix:
        return "", None
    lines = suffix.split("\n")
    if tail is not None and 0 <= tail < len(lines):
        text = "\n".join(lines[: len(lines) - tail])
        if count(text) <= budget:
            return text, tail
    used = count(lines[0])
    if used > budget:
        return _head_that_fits(lines[0], budget, count), None
    end = 1
    while end < len(lines):
        cost = count(lines[end]) + 1
        if used + cost > budget:
            break
        used += cost
        end += 1
    return "\n".join(lines[:end]), len(lines) - end


def _tail_that_fits(text: str, budget: int, count: Callable[[str], int]) -> str:
    lo, hi = 0, len(text)  # find the smallest start whose tail fits
    while lo < hi:
        mid = (lo + hi) // 2
        if count(text[mid:]) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return text[lo:]


def _head_that_fits(text: str, budget: int, count: Callable[[str], int]) -> str:
    lo, hi = 0, len(text)  # find the largest end whose head fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def build_prompt(
    ctx: Context, tok: Tokenizer, layout: Layout, budget: Budget, anchors: Anchors | None = None
) -> Prompt:
    """Lay out the prompt as token ids. User text is never tokenized as special tokens."""
    budget = budget.fitted()

    tokenized: dict[str, list[int]] = {}

    def tokens_of(text: str) -> list[int]:
        """Tokenize once per text: the window search and the prompt need the same prefix tokens."""
        if text not in tokenized:
            tokenized[text] = tok.tokenize(text)
        return tokenized[text]

    def count(text: str) -> int:
        return len(tokens_of(text))

    anchors = anchors or Anchors()
    prefix_text, first_line = prefix_window(ctx.prefix, budget.prefix_tokens, count, anchors.prefix_line)
    head = [tok.bos] if tok.add_bos and tok.bos is not None else []
    prefix_ids = tokens_of(prefix_text)
    fim = tok.fim
    if layout is Layout.PREFIX_ONLY or not fim.has_fim:
        return Prompt(tuple(head + prefix_ids), Layout.PREFIX_ONLY, prefix_text, "", Anchors(first_line),
                      len(prefix_ids), 0)
    assert fim.prefix is not None and fim.suffix is not None and fim.middle is not None
    suffix_text, tail = suffix_window(ctx.suffix, budget.suffix_tokens, count, anchors.suffix_tail)
    suffix_ids = tok.tokenize_infill(suffix_text)
    if layout is Layout.SPM:
        ids = [*head, fim.prefix, fim.suffix, *suffix_ids, fim.middle, *prefix_ids]
    else:
        ids = [*head, fim.prefix, *prefix_ids, fim.suffix, *suffix_ids, fim.middle]
    return Prompt(tuple(ids), layout, prefix_text, suffix_text, Anchors(first_line, tail), len(prefix_ids),
                  len(suffix_ids))
