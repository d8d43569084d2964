"""`GenerationParams.names` on a real llama-server (issue 23, monitor-guided decoding): the remote engine sends them
as a GBNF grammar on both APIs, so the text begins with one of the names, followed by a character that cannot
continue an identifier, or is a prefix of one; healing combines with it; a grammar the server refuses costs one
retry without it, and a warning, once."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from llamaserver import LlamaServer
from tinymodel import write_tiny_model

from infill_ls.engine import gbnf
from infill_ls.engine.base import CancelToken, GenerationParams, Heal
from infill_ls.engine.remote import Remote, RemoteEngine

from .test_remote_lsp import APIS

NAMES = ("zebra_cross", "zeta")
UNCONSTRAINED = " x x x x x x x x"
"""What the model writes without names: ` x` for ever (8 tokens)."""


@pytest.fixture(scope="module")
def names_server(llama_server_binary: Path, models_dir: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A server of a model that writes ` x` after every token but `.`, which it follows with `zed`, and knows
    `zebra_cross` and `zeta` (and every prefix of them) as tokens: only a grammar makes it write them."""
    script = {"zebra_cross": "▁x", "zeta": "▁x", ".": "zed"}
    model = write_tiny_model(models_dir / "names.gguf", script=script, default="▁x")
    with LlamaServer(model, executable=llama_server_binary, log_dir=tmp_path_factory.mktemp("names")) as server:
        yield server


@pytest.fixture(params=APIS)
def engine(request: pytest.FixtureRequest, names_server: LlamaServer) -> Iterator[RemoteEngine]:
    engine = RemoteEngine.connect(Remote(names_server.url, api=request.param))
    try:
        yield engine
    finally:
        engine.close()


def honours(text: str, names: tuple[str, ...]) -> bool:
    """The contract of `GenerationParams.names`: a prefix of a name, or a name then a non-identifier character."""
    return any(name.startswith(text) or (text.startswith(name) and not re.match(r"[\w$]", text[len(name):][:1]))
               for name in names)


def generate(engine: RemoteEngine, text: str, names: tuple[str, ...] = (), max_tokens: int = 8) -> str:
    prompt = engine.tokenize(text)
    return engine.generate(prompt, GenerationParams(max_tokens=max_tokens, names=names), CancelToken()).text


@pytest.mark.parametrize(
    ("names", "begins"),
    [
        pytest.param(NAMES, ("zebra_cross ", "zeta "), id="zebra-or-zeta"),
        pytest.param(("zeta",), ("zeta ",), id="one-name"),
        pytest.param(("x",), ("x ",), id="a-name-the-model-likes"),
        pytest.param(("",), (" x",), id="empty-name: a space may come first"),
        pytest.param(('a"b\\c',), ('a"b\\c ',), id="quote-and-backslash"),
        pytest.param(("面積",), ("面積 ",), id="cjk"),
        pytest.param(("été",), ("été ",), id="latin-1"),
        pytest.param(("🚀go",), ("🚀go ",), id="astral"),
    ],
)
def test_the_text_begins_with_one_of_the_names(engine: RemoteEngine, names: tuple[str, ...],
                                               begins: tuple[str, ...]) -> None:
    text = generate(engine, "y =", names=names, max_tokens=16)  # a name may take a token per character
    assert text.startswith(begins), text
    assert honours(text, names), text


def test_without_names_nothing_changes(engine: RemoteEngine) -> None:
    assert generate(engine, "y =") == UNCONSTRAINED
    assert generate(engine, "y =", names=()) == UNCONSTRAINED


def test_a_name_cut_short_by_the_budget_is_a_prefix_of_it(engine: RemoteEngine) -> None:
    prompt = engine.tokenize("y =")
    text = engine.generate(prompt, GenerationParams(max_tokens=1, names=("zebra_cross_walk",)), CancelToken()).text
    assert text and "zebra_cross_walk".startswith(text), text


@pytest.mark.parametrize(
    ("typed", "names"),
    [
        pytest.param("ze", NAMES, id="healed-prefix-of-both"),
        pytest.param("zeta", NAMES, id="healed-whole-name"),
        pytest.param("z", ("zeta",), id="healed-first-letter"),
    ],
)
def test_healing_and_names(engine: RemoteEngine, typed: str, names: tuple[str, ...]) -> None:
    """The prompt's last token (the identifier begun) is healed: the healed text and the answer after it together
    honour the names (the contract counts the healed text in), and the answer continues the name. The model's best
    token there, `zed`, begins with the healed text but fits no name: healing passes it over."""
    prompt = engine.tokenize(f"y = obj.{typed}")
    assert engine.piece(prompt[-1]) == typed  # a token of its own: the model knows every prefix of the names
    heal = Heal(prompt[-1], typed)
    text = engine.generate(prompt[:-1], GenerationParams(max_tokens=8, heal=heal, names=names), CancelToken()).text
    assert honours(typed + text, names), typed + text
    assert typed + text != typed and any((typed + text).startswith(name) for name in names), text


def test_a_refused_grammar_is_dropped_once(engine: RemoteEngine, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """A grammar llama-server cannot parse (HTTP 400): the request is served without it, said once, and later
    requests send none (they do not pay the refusal again)."""
    monkeypatch.setattr(gbnf, "grammar", lambda left: "root ::= ((")
    with caplog.at_level(logging.WARNING, logger="infill_ls.engine.remote"):
        first = generate(engine, "y =", names=NAMES)
        second = generate(engine, "y =", names=NAMES)
    assert (first, second) == (UNCONSTRAINED, UNCONSTRAINED)
    refusals = [r.getMessage() for r in caplog.records if "refused a grammar" in r.getMessage()]
    assert len(refusals) == 1 and "HTTP 400" in refusals[0], refusals
