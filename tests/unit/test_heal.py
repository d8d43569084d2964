"""Token healing: the prompt stage takes back a last token the user has only half typed (`x = `, `os.path.jo`),
and the engine makes the first generated token begin with its text."""

from __future__ import annotations

from pathlib import Path

import pytest

from infill_ls.completion import pipeline
from infill_ls.completion.context import Context
from infill_ls.completion.prompt import Budget, Prompt, build_prompt, heal
from infill_ls.config import CompletionSettings, ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams, Heal
from infill_ls.engine.llama import LlamaEngine
from infill_ls.models import Layout

SETTINGS = ModelSettings(contextSize=1024, threads=1)


def prompt_of(prefix_text: str, last_piece: str, layout: Layout = Layout.PREFIX_ONLY) -> tuple[Prompt, dict[int, str]]:
    """A prompt whose prefix text is `prefix_text` and whose last token (id 9) reads `last_piece`."""
    return Prompt((1, 5, 9), layout, prefix_text, "", 2, 0), {9: last_piece}


@pytest.mark.parametrize(
    ("prefix", "piece", "layout", "healed"),
    [
        pytest.param("    console = ", " ", Layout.PREFIX_ONLY, " ", id="space-after-code"),
        pytest.param("x = ", " ", Layout.SPM, " ", id="space-spm"),
        pytest.param("\treturn\t", "\t", Layout.SPM, "\t", id="tab-after-code"),
        pytest.param("f(a, ", " ", Layout.SPM, " ", id="after-comma"),
        pytest.param("x = os.path.jo", "jo", Layout.SPM, "jo", id="word-end"),
        pytest.param("import o", " o", Layout.SPM, " o", id="word-with-its-space"),
        pytest.param("x = 12", "12", Layout.SPM, "12", id="number"),
        pytest.param("def f():\n    ", "    ", Layout.SPM, None, id="auto-indented-line"),
        pytest.param("def f():\n", "\n", Layout.SPM, None, id="line-start"),
        pytest.param("print(", "(", Layout.SPM, None, id="open-paren"),
        pytest.param("x = a.", ".", Layout.SPM, None, id="dot"),
        pytest.param("x = ", " ", Layout.PSM, None, id="psm-prefix-not-last"),
        pytest.param("x = ", "= ", Layout.SPM, None, id="piece-not-the-text-end"),
        pytest.param("s = 'é", "é", Layout.SPM, "é", id="non-ascii-word"),
        pytest.param("s = '😀", "😀", Layout.SPM, None, id="emoji"),
    ],
)
def test_which_last_tokens_are_taken_back(prefix: str, piece: str, layout: Layout, healed: str | None) -> None:
    prompt, pieces = prompt_of(prefix, piece, layout)
    result = heal(prompt, pieces.__getitem__)
    if healed is None:
        assert result == prompt
    else:
        assert (result.tokens, result.n_prefix, result.heal) == ((1, 5), 1, Heal(9, healed))


@pytest.fixture(scope="module")
def endless(endless_model: Path) -> LlamaEngine:
    return LlamaEngine.load(endless_model, SETTINGS)


def best_beginning_with(engine: LlamaEngine, prompt: list[int], text: str) -> str:
    """The text of the most likely next token after `prompt` among those that begin with `text`, read from the
    logits of a fresh evaluation."""
    import llama_cpp
    import numpy as np

    engine.generate(prompt, GenerationParams(max_tokens=0), CancelToken())
    engine.generate(prompt, GenerationParams(max_tokens=0), CancelToken())  # the last token, evaluated again
    n_vocab = int(engine.llm.n_vocab())
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(engine.llm._ctx.ctx, -1), shape=(n_vocab,))
    allowed = [t for t in range(n_vocab) if engine.piece(t).startswith(text)]
    return engine.piece(max(allowed, key=lambda t: float(logits[t])))


@pytest.mark.parametrize("healed", [pytest.param(" ", id="a-prefix-of-the-best-token"),
                                    pytest.param("a", id="another-token")])
def test_first_token_begins_with_the_healed_text(endless: LlamaEngine, healed: str) -> None:
    """The endless model writes ` x` forever: healed with ` `, the first ` x` loses its space; healed with `a`,
    the first token is the best of those that begin with `a`, and ` x` follows. The healed token, typed
    already, does not count against max_tokens."""
    prompt = endless.tokenize("y =")
    plain = endless.generate(prompt, GenerationParams(max_tokens=5), CancelToken()).text
    first = best_beginning_with(endless, prompt, healed)
    text = endless.generate(prompt, GenerationParams(max_tokens=5, heal=Heal(0, healed)), CancelToken()).text
    assert plain == " x" * 5
    assert first.startswith(healed) and first != healed
    assert text == first[len(healed):] + " x" * 5


def unique_piece(engine: LlamaEngine, ids: list[int]) -> int:
    """The last index in `ids` of a token whose text begins no other token's text."""
    pieces = [engine.piece(t) for t in range(int(engine.llm.n_vocab()))]
    for at in range(len(ids) - 1, 0, -1):
        mine = pieces[ids[at]]
        if mine and sum(p.startswith(mine) for p in pieces) == 1:
            return at
    raise AssertionError("no such token")


def test_healing_a_token_only_itself_begins_changes_nothing(context_model: Path) -> None:
    """When the healed token is the only one that begins with its text, the healed prompt must come back to the
    same answer as the whole prompt, on a model whose answers depend on every earlier token."""
    engine = LlamaEngine.load(context_model, SETTINGS)
    ids = engine.tokenize("def total(items):\n    return sum(items) + count_of(items) * 3\n")
    at = unique_piece(engine, ids)
    whole = engine.generate(ids[: at + 1], GenerationParams(max_tokens=12), CancelToken()).text
    fresh = LlamaEngine.load(context_model, SETTINGS)
    healed = fresh.generate(ids[:at], GenerationParams(max_tokens=12, heal=Heal(ids[at], fresh.piece(ids[at]))),
                            CancelToken()).text
    assert healed == whole


def test_the_pipeline_heals_prefix_last_prompts(endless: LlamaEngine) -> None:
    settings = CompletionSettings(maxTokens=3)
    text = "def f():\n    y = \n"
    plan = pipeline.plan(text, text.index("\n", 10), settings, automatic=False)
    outcome = pipeline.infer(endless, pipeline.Call(plan, settings, CancelToken()))
    unhealed = build_prompt(Context(plan.ctx.prefix, plan.ctx.suffix), endless, Layout.SPM, Budget(
        settings.prefixTokens, settings.suffixTokens, settings.maxTokens, endless.context_size))
    assert outcome.prompt.heal == Heal(unhealed.tokens[-1], " ")
    assert outcome.prompt.tokens == unhealed.tokens[:-1]
    assert outcome.text == "x x x x"
