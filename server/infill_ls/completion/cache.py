"""Answers without the model: an LRU of finished completions, and typing-through of the last one."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass

from cachetools import LRUCache

from .context import Context


def context_key(ctx: Context, *params: Hashable) -> tuple[Hashable, ...]:
    """A compact key for "the same context": digests of the text on both sides plus generation params."""
    before = hashlib.blake2b(ctx.prefix.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    after = hashlib.blake2b(ctx.suffix.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return (before, after, *params)


@dataclass(frozen=True)
class Shown:
    """A completion shown for a document: the context it was computed for and its text."""

    prefix: str
    suffix: str
    text: str

    def typed_through(self, ctx: Context) -> str | None:
        """The rest of the completion if the user has since typed its beginning (and nothing else)."""
        if ctx.suffix != self.suffix or not ctx.prefix.startswith(self.prefix):
            return None
        typed = ctx.prefix[len(self.prefix) :]
        if not typed or not self.text.startswith(typed) or len(typed) >= len(self.text):
            return None
        return self.text[len(typed) :]


class CompletionCache:
    """LRU of completions by context key."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lru: LRUCache[tuple[Hashable, ...], str] = LRUCache(maxsize=size)

    def get(self, key: tuple[Hashable, ...]) -> str | None:
        return self._lru.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._lru

    def put(self, key: tuple[Hashable, ...], text: str) -> None:
        self._lru[key] = text

    def clear(self) -> None:
        self._lru.clear()
