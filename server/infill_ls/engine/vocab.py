"""What every engine derives from its tokenizer the same way, whether the tokenizer runs in process or on an
inference server: the control tokens by their text, the FIM tokens, and CodeLlama's infill encoding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ..models import FimTokens, detect_fim

NO_REPORT: tuple[int | None, int | None, int | None] = (None, None, None)


class Vocab(Protocol):
    """A tokenizer: user text never becomes special tokens unless `special` asks for it."""

    def tokenize(self, text: str, special: bool = False) -> list[int]: ...

    def detokenize(self, ids: Sequence[int]) -> str: ...

    def token_text(self, token: int) -> str:
        """The token's own text, as the vocabulary spells it (`▁<PRE>`, `<fim_prefix>`)."""
        ...


def find_control(vocab: Vocab, text: str) -> int | None:
    """The id of the control token whose text is `text`, or None."""
    ids = vocab.tokenize(text, special=True)
    if len(ids) == 1 and vocab.token_text(ids[0]) == text:
        return ids[0]
    return None


def detect(vocab: Vocab, reported: tuple[int | None, int | None, int | None] = NO_REPORT) -> FimTokens:
    """The model's FIM tokens, found by their texts (and the ids llama.cpp reports, where it does)."""
    return detect_fim(token_text=vocab.token_text, find_token=lambda t: find_control(vocab, t), reported=reported)


def space_prefix(tokenize: Callable[[str], list[int]], detokenize: Callable[[Sequence[int]], str]) -> bool:
    """Whether the tokenizer puts an implicit space before a text (SentencePiece)."""
    ids = tokenize("a")
    return bool(ids) and detokenize(ids).startswith(" ")


def infill_encode(
    tokenize: Callable[[str], list[int]], detokenize: Callable[[Sequence[int]], str], text: str
) -> list[int]:
    """CodeLlama's `encode_infilling`: tokenize `text` as if it continued a sentinel, without the SentencePiece
    implicit leading space (for a tokenizer that adds one; see `space_prefix`)."""
    if not text:
        return []
    tokens = tokenize("\n" + text)
    for k in range(1, min(4, len(tokens)) + 1):
        if detokenize(tokens[:k]).lstrip(" ") == "\n":
            return tokens[k:]
    return tokenize(text)  # the newline merged with the text: fall back to the plain encoding
