"""Fill-in-the-middle formats per model family, detected from the GGUF vocabulary.

A family is one table entry: the texts of its FIM tokens, whether it was trained on the suffix-first layout,
and whether its tokenizer puts an implicit space before the text (SentencePiece), which the suffix must not get.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Layout(StrEnum):
    """Where the prefix goes relative to the suffix in the prompt."""

    PSM = "psm"
    """prefix-suffix-middle: `<PRE> {prefix} <SUF>{suffix} <MID>`."""
    SPM = "spm"
    """suffix-first: `<PRE> <SUF>{suffix} <MID> {prefix}`: the cursor ends the prompt, so typing only appends."""
    PREFIX_ONLY = "prefix"
    """No FIM tokens: the prompt is the prefix alone."""


@dataclass(frozen=True)
class FimFamily:
    name: str
    prefix: tuple[str, ...]
    suffix: tuple[str, ...]
    middle: tuple[str, ...]
    end: tuple[str, ...]
    """End-of-infill token texts; the model's end-of-generation tokens stop it too."""
    suffix_first: bool
    """Trained on the suffix-first (SPM) layout as well as PSM."""
    repo_name: tuple[str, ...] = ()
    """Repository-level FIM: the token before the repository's name, and the one before each file's path."""
    file_sep: tuple[str, ...] = ()


FAMILIES: tuple[FimFamily, ...] = (
    FimFamily("codellama", ("▁<PRE>", "<PRE>"), ("▁<SUF>", "<SUF>"), ("▁<MID>", "<MID>"), ("▁<EOT>", "<EOT>"), True),
    FimFamily("starcoder", ("<fim_prefix>",), ("<fim_suffix>",), ("<fim_middle>",), ("<|endoftext|>",), True,
              ("<repo_name>", "<reponame>"), ("<file_sep>", "<filename>")),
    FimFamily("qwen2.5-coder", ("<|fim_prefix|>",), ("<|fim_suffix|>",), ("<|fim_middle|>",),
              ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>"), False, ("<|repo_name|>",), ("<|file_sep|>",)),
    FimFamily("deepseek-coder", ("<｜fim▁begin｜>",), ("<｜fim▁hole｜>",), ("<｜fim▁end｜>",),
              ("<｜end▁of▁sentence｜>", "<|EOT|>"), False),
    FimFamily("codegemma", ("<|fim_prefix|>",), ("<|fim_suffix|>",), ("<|fim_middle|>",),
              ("<|file_separator|>", "<eos>"), False),
)


@dataclass(frozen=True)
class FimTokens:
    """The FIM token ids of one loaded model (all None for a model without FIM tokens)."""

    family: str | None
    prefix: int | None
    suffix: int | None
    middle: int | None
    end: frozenset[int]
    suffix_first: bool
    repo_name: int | None = None
    file_sep: int | None = None
    """Repository-level FIM tokens, where the family has them and the vocabulary holds them."""

    @property
    def has_fim(self) -> bool:
        return self.prefix is not None and self.suffix is not None and self.middle is not None

    @property
    def has_repo(self) -> bool:
        return self.has_fim and self.repo_name is not None and self.file_sep is not None


NO_FIM = FimTokens(None, None, None, None, frozenset(), False)


def detect_fim(
    token_text: Callable[[int], str],
    find_token: Callable[[str], int | None],
    reported: tuple[int | None, int | None, int | None],
) -> FimTokens:
    """Find the model's FIM tokens.

    `reported` holds the ids llama.cpp reports (`token_prefix/suffix/middle`, None when absent);
    `token_text(id)` gives a token's text and `find_token(text)` the id of a control token with that text.
    """
    pre_id = reported[0]
    pre_text = token_text(pre_id) if pre_id is not None else None
    for family in FAMILIES:
        ids = [find_token(t) for t in family.prefix]
        found_pre = pre_id if pre_text in family.prefix else next((i for i in ids if i is not None), None)
        if found_pre is None:
            continue
        suf = reported[1] if reported[1] is not None and token_text(reported[1]) in family.suffix else None
        mid = reported[2] if reported[2] is not None and token_text(reported[2]) in family.middle else None
        suf = suf if suf is not None else _first(find_token, family.suffix)
        mid = mid if mid is not None else _first(find_token, family.middle)
        if suf is None or mid is None:
            continue
        # Qwen and CodeGemma share FIM texts: take the end tokens of every family that uses these ones.
        ends = [t for f in FAMILIES if f.prefix == family.prefix for t in f.end]
        end = frozenset(i for i in map(find_token, ends) if i is not None)
        repo, sep = _first(find_token, family.repo_name), _first(find_token, family.file_sep)
        if repo is None or sep is None:
            repo = sep = None
        return FimTokens(family.name, found_pre, suf, mid, end, family.suffix_first, repo, sep)
    return NO_FIM


def _first(find_token: Callable[[str], int | None], texts: tuple[str, ...]) -> int | None:
    return next((i for i in (find_token(t) for t in texts) if i is not None), None)


def choose_layout(fim: FimTokens, requested: Layout | None = None) -> Layout:
    """The layout used for a model: suffix-first where the family was trained on it (it keeps the KV cache
    reusable while typing; see docs/performance.md), PSM otherwise, prefix-only without FIM tokens."""
    if not fim.has_fim:
        return Layout.PREFIX_ONLY
    if requested is not None and requested != Layout.PREFIX_ONLY:
        return requested
    return Layout.SPM if fim.suffix_first else Layout.PSM
