"""The completion service: answers that need no model (typing through the shown suggestion, the result cache)
and the memory of what was shown. No asyncio, no LSP: plain state with table-testable methods.

Every result is stamped with the settings it was made under and the engine generation that made it, and is
served only under the same stamp, so text from an old model or from old settings is never shown."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from ..config import CompletionSettings
from .cache import CompletionCache, Shown, context_key
from .pipeline import Plan

Key = tuple[Hashable, ...]


@dataclass(frozen=True)
class Stamp:
    """What a result depends on besides the context."""

    settings: CompletionSettings
    generation: int


@dataclass(frozen=True)
class Answer:
    text: str
    source: str
    """typed-through, cache or speculation (a cache hit that a speculative run filled)."""
    confidence: float | None = None
    """The confidence the model gave the cached text (None when typed through: a remainder has none)."""


@dataclass
class AnswerCache:
    cache: CompletionCache = field(default_factory=CompletionCache)
    shown: dict[str, tuple[Shown, Stamp]] = field(default_factory=dict)
    """The last completion returned per document, for typing-through."""
    speculated: set[Key] = field(default_factory=set)
    """Cache keys filled by speculation (to count hits)."""
    confidences: dict[Key, float] = field(default_factory=dict)
    """The confidence of each cached text that has one (pruned with the cache)."""

    @staticmethod
    def key(plan: Plan, stamp: Stamp) -> Key:
        return context_key(plan.ctx, plan.multiline, stamp.settings, stamp.generation, plan.extra)

    def answer(self, uri: str, plan: Plan, stamp: Stamp) -> Answer | None:
        """The answer without the model, or None."""
        shown = self.shown.get(uri)
        if shown is not None and shown[1] == stamp:
            rest = shown[0].typed_through(plan.ctx)
            if rest is not None:
                return Answer(rest, "typed-through")
        key = self.key(plan, stamp)
        cached = self.cache.get(key)
        if cached is None:
            return None
        self.shown[uri] = (Shown(plan.ctx.prefix, plan.ctx.suffix, cached), stamp)
        return Answer(cached, "speculation" if key in self.speculated else "cache", self.confidences.get(key))

    def remember(self, uri: str, plan: Plan, stamp: Stamp, text: str, confidence: float | None = None) -> None:
        """A model result for `uri`: cache it and remember it as shown."""
        self._put(self.key(plan, stamp), text, confidence)
        self.shown[uri] = (Shown(plan.ctx.prefix, plan.ctx.suffix, text), stamp)

    def _put(self, key: Key, text: str, confidence: float | None) -> None:
        self.cache.put(key, text)
        if confidence is None:
            self.confidences.pop(key, None)
        else:
            self.confidences[key] = confidence
        if len(self.confidences) > 2 * self.cache.size:  # keep only keys the LRU still holds
            self.confidences = {k: c for k, c in self.confidences.items() if k in self.cache}

    def has(self, plan: Plan, stamp: Stamp) -> bool:
        return self.key(plan, stamp) in self.cache

    def store_speculation(self, plan: Plan, stamp: Stamp, text: str, confidence: float | None = None) -> None:
        key = self.key(plan, stamp)
        self._put(key, text, confidence)
        self.speculated.add(key)
        if len(self.speculated) > 2 * self.cache.size:  # keep only keys the LRU still holds
            self.speculated = {k for k in self.speculated if k in self.cache}

    def forget(self, uri: str) -> None:
        self.shown.pop(uri, None)
