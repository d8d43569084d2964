"""Monitor-guided decoding (engine/names.py, `GenerationParams.names`): a generation that must begin with one of
some names writes one of them whole, then is free."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infill_ls.config import ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams, Heal
from infill_ls.engine.llama import LlamaEngine
from infill_ls.engine.names import Pieces, name_ended, next_tokens

VOCAB = [b"", b"a", b"b", b"ab", b"abc", b"abc(", b"abcd", b"ab ", b" ", b"(", b"c", b"\xc3\xa9", b"b_", b"$"]
PIECES = Pieces([(piece, token) for token, piece in enumerate(VOCAB)])


def spelled(tokens: frozenset[int]) -> set[bytes]:
    return {VOCAB[t] for t in tokens}


@pytest.mark.parametrize(("done", "names", "tokens", "whole"), [
    pytest.param(b"", [b"abc"], {b"a", b"ab", b"abc", b"abc("}, False, id="start-of-a-name"),
    pytest.param(b"a", [b"abc"], {b"b"}, False, id="inside-a-name"),
    pytest.param(b"ab", [b"abc", b"ab"], {b"c"}, True, id="one-name-whole"),
    pytest.param(b"", [b"ab"], {b"a", b"ab", b"ab "}, False, id="ends-the-name-and-goes-on"),
    pytest.param(b"", [b"b"], {b"b"}, False, id="not-glued-to-an-identifier-byte"),
    pytest.param(b"abc", [b"abc"], set(), True, id="whole-name-only-boundaries"),
    pytest.param(b"", [b"a$"], {b"a"}, False, id="dollar-continues-a-name"),
])
def test_next_tokens(done: bytes, names: list[bytes], tokens: set[bytes], whole: bool) -> None:
    allowed = next_tokens(done, names, PIECES)
    assert allowed is not None
    assert (spelled(allowed.tokens), allowed.whole) == (tokens, whole)


@pytest.mark.parametrize(("done", "names"), [
    pytest.param(b"ab ", [b"ab"], id="the-name-has-ended"),
    pytest.param(b"abc(", [b"abc"], id="ended-by-a-bracket"),
    pytest.param(b"x", [b"abc"], id="no-name-reachable"),
    pytest.param(b"", [b"zz"], id="no-piece-spells-it"),
])
def test_no_constraint(done: bytes, names: list[bytes]) -> None:
    assert next_tokens(done, names, PIECES) is None


def test_boundary_tokens_cannot_continue_a_name() -> None:
    assert spelled(PIECES.boundary) == {b" ", b"("}
    assert not name_ended(b"ab_\xc3\xa9$") and name_ended(b"ab(")


# ---------------------------------------------------------------------------------------- in-process engine

SETTINGS = ModelSettings(threads=1)


@pytest.fixture(scope="module")
def endless(endless_model: Path) -> LlamaEngine:
    return LlamaEngine.load(endless_model, SETTINGS)


NAME = re.compile(r"[A-Za-z0-9_$]*")


@pytest.mark.parametrize(("names", "heal", "begins"), [
    pytest.param((), None, "", id="no-names-unchanged"),
    pytest.param(("zebra", "zeta_q"), None, ("zebra", "zeta_q"), id="one-of-two"),
    pytest.param(("qq",), None, ("qq",), id="a-single-name"),
    pytest.param(("zebra", "qq"), Heal(0, "z"), ("ebra",), id="healed-part-of-a-name"),
    pytest.param(("x",), Heal(0, "y"), "", id="no-name-begins-with-the-healed-text"),
])
def test_the_generation_begins_with_a_name(endless: LlamaEngine, names: tuple[str, ...], heal: Heal | None,
                                           begins: tuple[str, ...] | str) -> None:
    """The endless model writes ` x` forever: constrained, it first writes one of the names whole (the healed
    text taken off), then goes on with ` x` (a name is never glued to more identifier characters)."""
    prompt = endless.tokenize("y =")
    text = endless.generate(prompt, GenerationParams(max_tokens=12, heal=heal, names=names), CancelToken()).text
    if not begins:
        assert NAME.match(text.lstrip()) is not None and not text.startswith(tuple(names) or ("\0",))
        return
    word = NAME.match(text)
    assert word is not None and word.group() in begins, text
    assert text[word.end():].startswith(" x"), text
