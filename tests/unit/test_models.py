"""FIM family detection from a vocabulary, one table row per family."""

from __future__ import annotations

import pytest

from infill_ls.models import FAMILIES, Layout, choose_layout, detect_fim

VOCABS = {
    "codellama": ["▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"],
    "starcoder": ["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>"],
    "qwen2.5-coder": ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>"],
    "deepseek-coder": ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<｜end▁of▁sentence｜>"],
}


@pytest.mark.parametrize(("family", "reported"), [(f, r) for f in VOCABS for r in (True, False)],
                         ids=[f"{f}-{'reported' if r else 'by-text'}" for f in VOCABS for r in (True, False)])
def test_detect(family: str, reported: bool) -> None:
    vocab = ["<unk>", "a", "b", *VOCABS[family]]
    ids = {t: i for i, t in enumerate(vocab)}
    fim = detect_fim(vocab.__getitem__, ids.get, (3, 4, 5) if reported else (None, None, None))
    assert (fim.family, fim.prefix, fim.suffix, fim.middle) == (family, 3, 4, 5)
    assert 6 in fim.end


def test_no_fim_tokens() -> None:
    vocab = ["<unk>", "a"]
    fim = detect_fim(vocab.__getitem__, {t: i for i, t in enumerate(vocab)}.get, (None, None, None))
    assert not fim.has_fim
    assert choose_layout(fim) is Layout.PREFIX_ONLY


def test_every_family_has_all_four_kinds_of_token() -> None:
    for family in FAMILIES:
        assert family.prefix and family.suffix and family.middle and family.end, family.name
