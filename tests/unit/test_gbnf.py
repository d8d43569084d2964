"""`GenerationParams.names` as GBNF (engine/gbnf.py): what is left of the names after a text, the grammar of it, and
names as GBNF string literals. That llama-server accepts and follows these grammars is tested against a real one in
tests/remote/test_remote_names.py."""

from __future__ import annotations

import pytest

from infill_ls.engine.gbnf import grammar, literal, rests

TAIL = "tail ::= ([^0-9A-Za-z_$\\x80-\\U0010FFFF] .*)?\n"


@pytest.mark.parametrize(
    ("names", "typed", "left"),
    [
        pytest.param(("zebra_cross", "zeta"), "", ("zebra_cross", "zeta"), id="nothing-typed"),
        pytest.param(("zebra_cross", "zeta"), "ze", ("bra_cross", "ta"), id="a-prefix-of-both"),
        pytest.param(("zebra_cross", "zeta"), "zet", ("a",), id="a-prefix-of-one"),
        pytest.param(("zeta", "zetas"), "zeta", ("", "s"), id="a-whole-name-and-a-prefix-of-another"),
        pytest.param(("zebra_cross", "zeta"), "zeta(", None, id="a-name-then-a-bracket-is-free"),
        pytest.param(("zeta",), "zeta\n  more", None, id="a-name-then-a-line-break-is-free"),
        pytest.param(("zeta",), "zetas", (), id="a-name-then-a-letter-fits-none"),
        pytest.param(("zeta",), "zeta_", (), id="a-name-then-underscore-fits-none"),
        pytest.param(("zeta",), "zeta$", (), id="a-name-then-dollar-fits-none"),
        pytest.param(("zeta",), "zetaé", (), id="a-name-then-a-non-ascii-letter-fits-none"),
        pytest.param(("zeta",), "zeta✓", None, id="a-name-then-a-non-ascii-symbol-is-free"),
        pytest.param(("zeta",), "x", (), id="another-word-fits-none"),
        pytest.param(("",), "", ("",), id="an-empty-name-nothing-typed"),
        pytest.param(("",), ".x", None, id="an-empty-name-then-a-dot-is-free"),
        pytest.param(("",), "x", (), id="an-empty-name-then-a-letter-fits-none"),
        pytest.param(("", "ta"), "t", ("a",), id="an-empty-name-and-a-name"),
        pytest.param(("面積", "zeta"), "面", ("積",), id="non-ascii-prefix"),
        pytest.param(("zeta", "zeta"), "", ("zeta",), id="duplicates-once"),
        pytest.param((), "", (), id="no-names"),
    ],
)
def test_what_is_left_of_the_names(names: tuple[str, ...], typed: str, left: tuple[str, ...] | None) -> None:
    assert rests(names, typed) == left


@pytest.mark.parametrize(
    ("left", "root"),
    [
        pytest.param(("zeta",), '"zeta" tail', id="one-name"),
        pytest.param(("zebra_cross", "zeta"), '"ze" ("bra_cross" tail | "ta" tail)', id="a-shared-prefix-once"),
        pytest.param(("abc", "xyz"), '("abc" tail | "xyz" tail)', id="no-shared-prefix"),
        pytest.param(("zeta", "zetas"), '"zeta" (tail | "s" tail)', id="a-name-that-begins-another"),
        pytest.param(("",), "tail", id="a-whole-name-typed: only what follows it"),
        pytest.param(("", "s"), '(tail | "s" tail)', id="a-whole-name-or-more"),
        pytest.param(("b", "a", "b"), '("a" tail | "b" tail)', id="sorted-and-once"),
        pytest.param(('say"hi"',), '"say\\"hi\\"" tail', id="quotes-escaped"),
    ],
)
def test_the_grammar_of_the_names(left: tuple[str, ...], root: str) -> None:
    assert grammar(left) == f"root ::= {root}\n{TAIL}"


def test_no_names_is_no_grammar() -> None:
    with pytest.raises(ValueError, match="no name"):
        grammar(())


@pytest.mark.parametrize(
    ("text", "gbnf"),
    [
        pytest.param("zebra_cross", '"zebra_cross"', id="plain"),
        pytest.param('a"b', '"a\\"b"', id="quote"),
        pytest.param("a\\b", '"a\\\\b"', id="backslash"),
        pytest.param("\\\"", '"\\\\\\""', id="backslash-then-quote"),
        pytest.param("a\nb\tc\x7f", '"a\\x0Ab\\x09c\\x7F"', id="control-characters"),
        pytest.param("面積", '"\\u9762\\u7A4D"', id="cjk"),
        pytest.param("été", '"\\u00E9t\\u00E9"', id="latin-1"),
        pytest.param("🚀x", '"\\U0001F680x"', id="astral"),
        pytest.param("$el", '"$el"', id="dollar"),
        pytest.param("", '""', id="empty"),
    ],
)
def test_names_as_gbnf_literals(text: str, gbnf: str) -> None:
    assert literal(text) == gbnf
    assert gbnf.isascii()
