"""Table-driven tests of the pure pipeline stages: context, policy, prompt windows, postprocess, cache."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import pytest

from infill_ls.completion.cache import CompletionCache, Shown, context_key
from infill_ls.completion.context import Context, extract
from infill_ls.completion.policy import BlockRule, allows_multiline, skip_reason
from infill_ls.completion.postprocess import finalize
from infill_ls.completion.prompt import (
    MAX_CHARS_PER_TOKEN,
    PREFIX_STEP,
    SAMPLE,
    Budget,
    build_prompt,
    grid_step,
    prefix_window,
    suffix_window,
)
from infill_ls.models import FimTokens, Layout


@pytest.mark.parametrize(
    ("text", "offset", "replace", "prefix", "suffix"),
    [
        pytest.param("abc\ndef", 5, None, "abc\nd", "ef", id="middle"),
        pytest.param("abc", 99, None, "abc", "", id="offset-clamped"),
        pytest.param("pri(x)", 3, (0, 3, "print"), "print", "(x)", id="selected-item"),
        pytest.param("好🎉x", 2, None, "好🎉", "x", id="non-ascii"),
    ],
)
def test_extract(text: str, offset: int, replace: tuple[int, int, str] | None, prefix: str, suffix: str) -> None:
    ctx = extract(text, offset, replace)
    assert (ctx.prefix, ctx.suffix) == (prefix, suffix)


@pytest.mark.parametrize(
    ("prefix", "suffix", "automatic", "mode", "skip", "multiline"),
    [
        pytest.param("def f():", "\n", True, "auto", None, True, id="end-of-line-block"),
        pytest.param("foo(", ")\n", True, "auto", None, False, id="code-right-one-line"),
        pytest.param("pri", "nt(x)", True, "auto", "cursor inside a word", False, id="inside-word-automatic"),
        pytest.param("pri", "nt(x)", False, "auto", None, False, id="inside-word-invoked"),
        pytest.param("x = ", "", True, "never", None, False, id="never"),
        pytest.param("foo(", ")", True, "always", None, True, id="always"),
    ],
)
def test_policy(prefix: str, suffix: str, automatic: bool, mode: str, skip: str | None, multiline: bool) -> None:
    ctx = Context(prefix, suffix)
    assert skip_reason(ctx, automatic) == skip
    assert allows_multiline(ctx, mode) is multiline  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "text", "end"),
    [
        pytest.param("    x = 1", "\n    y = 2\nz = 3", len("\n    y = 2"), id="dedent-ends"),
        pytest.param("def f():", "\n    return 1\n\ndef g():", len("\n    return 1\n"), id="block-opener-same-indent"),
        pytest.param("if (a) {", "\n  b();\n}\nc();", len("\n  b();\n}"), id="closing-brace-kept"),
        pytest.param("    x = 1", "\n    y = 2\n    z", None, id="still-inside"),
        pytest.param("    x = 1", "\n    y = 2\n  ", None, id="partial-line-waits"),
        pytest.param("    x = 1", "\n\n    y = 2\n", None, id="blank-line-inside"),
    ],
)
@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_block_rule(line: str, text: str, end: int | None, eol: str) -> None:
    """`end` is where the line break before the first line outside the block starts (in LF terms)."""
    expected = None if end is None else len(text[:end].replace("\n", eol))
    assert BlockRule.at(Context(line, "")).end(text.replace("\n", eol)) == expected


@pytest.mark.parametrize(
    ("prefix", "suffix", "raw", "multiline", "expected"),
    [
        pytest.param("x = ", "\n", "42  \n", False, "42", id="trailing-whitespace"),
        pytest.param("foo(", ")\n", "a, b)", False, "a, b", id="repeats-closing-paren"),
        pytest.param("foo(", "):\n", "a, b):", False, "a, b", id="repeats-rest-of-line"),
        pytest.param("x = ", "\n", "1\ny = 2", False, "1", id="single-line-cut"),
        pytest.param("def f():", "\n    pass\n", "\n    a = 1\n    pass\n", True, "\n    a = 1",
                     id="repeats-next-line"),
        pytest.param("def f():", "\n", "\n    return 1\n\nprint(f())", True, "\n    return 1", id="dedent-cut"),
        pytest.param("x = ", "\n", "   \n  ", True, "", id="only-whitespace"),
        pytest.param("s = '", "'\n", "好🎉'", False, "好🎉", id="non-ascii"),
        # A closer the completion opened itself is its own text, not a repeat of the suffix.
        pytest.param("x = foo(", ")\n", "bar()", False, "bar()", id="call-closes-its-own-paren"),
        pytest.param("x = foo(", ")\n", "len(x)", False, "len(x)", id="call-with-argument"),
        pytest.param("x = [", "]\n", "a[0]", False, "a[0]", id="subscript-closes-its-own-bracket"),
        pytest.param("d = {", "}\n", "'a': {}", False, "'a': {}", id="dict-closes-its-own-brace"),
        pytest.param("x = foo(", ")\n", "bar())", False, "bar()", id="own-paren-then-repeated-paren"),
        pytest.param("print(foo(", "))\n", "bar()))", False, "bar()", id="own-paren-then-two-repeated"),
        pytest.param("d = {", "}\n", "'a': {}}", False, "'a': {}", id="own-brace-then-repeated-brace"),
        pytest.param("f(", ", 2)\n", "1, 2)", False, "1", id="repeats-rest-with-unmatched-paren"),
        pytest.param('s = "', '"\n', 'hi"', False, "hi", id="repeats-closing-quote"),
        # Multi-line: a line repeats the file only with its indentation, and a lone closer only if unmatched.
        pytest.param("function f() {\n  ", "\n}\n", "if (x) {\n    y();\n  }\n  z();", True,
                     "if (x) {\n    y();\n  }\n  z();", id="inner-closer-other-indent-kept"),
        pytest.param("    x = f(\n    ", "\n    )\n", "g(\n        1,\n    )\n    , 2", True,
                     "g(\n        1,\n    )\n    , 2", id="inner-closer-same-indent-kept"),
        pytest.param("  it('a', () => {", "\n  })\n", "\n    foo();\n  })", True, "\n    foo();",
                     id="repeated-unmatched-closer-cut"),
        pytest.param("if (x) {", "\n}\n", "\n  y();\n}", True, "\n  y();", id="repeated-closing-brace-cut"),
        pytest.param("def f():", "\n        pass\n", "\n    a = 1\n    pass", True, "\n    a = 1\n    pass",
                     id="same-text-other-indent-kept"),
    ],
)
def test_finalize(prefix: str, suffix: str, raw: str, multiline: bool, expected: str) -> None:
    assert finalize(raw, Context(prefix, suffix), multiline) == expected


@pytest.mark.parametrize(
    ("prefix", "suffix", "raw", "multiline", "cut", "expected"),
    [
        pytest.param("for i in x:\n    ", "\n", "y = 1\n    x[i] = add(x[", True, True, "y = 1",
                     id="cut-block-drops-unfinished-line"),
        pytest.param("def f():", "\n", "\n    a = 1\n    b = g(", True, True, "\n    a = 1",
                     id="cut-block-from-line-end"),
        pytest.param("def f():", "\n", "\n    a = 1\n", True, True, "\n    a = 1", id="cut-after-line-break-kept"),
        pytest.param("x = ", "\n", "add(x[", True, True, "add(x[", id="cut-single-line-kept"),
        pytest.param("x = ", "\n", "add(x[", False, True, "add(x[", id="cut-single-line-mode-kept"),
        pytest.param("def f():", "\n", "\n    b = g(", True, True, "", id="cut-only-partial-line"),
        pytest.param("def f():", "\n", "\n    a = 1\nprint(f(", True, True, "\n    a = 1",
                     id="cut-after-block-end-kept"),
        pytest.param("def f():", "\n", "\n    a = 1\n    b = g(", True, False, "\n    a = 1\n    b = g(",
                     id="not-cut-kept"),
    ],
)
@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_finalize_cut_short(prefix: str, suffix: str, raw: str, multiline: bool, cut: bool, expected: str,
                            eol: str) -> None:
    """A generation stopped by the token limit shows only whole lines when it spans lines (issue 11, 10)."""
    ctx = Context(prefix.replace("\n", eol), suffix.replace("\n", eol))
    assert finalize(raw.replace("\n", eol), ctx, multiline, cut=cut) == expected.replace("\n", eol)


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


@pytest.mark.parametrize("model_crlf", [True, False], ids=["model-crlf", "model-lf"])
@pytest.mark.parametrize(
    ("prefix", "suffix", "raw", "expected"),
    [
        pytest.param("def f():", "\n", "\n    a = 1\n\n    return a\n\nprint(f())", "\n    a = 1\n\n    return a",
                     id="blank-line-inside-block"),
        pytest.param("def f():", "\n", "\n    a = 1\n    \n    return a\nx = 1", "\n    a = 1\n    \n    return a",
                     id="indented-blank-line"),
        pytest.param("    x = 1", "\n", "\n    y = 2\nz = 3", "\n    y = 2", id="dedent-ends"),
        pytest.param("if (a) {", "\n}\n", "\n  b();\n\n  c();\n}", "\n  b();\n\n  c();",
                     id="repeated-closer-after-blank"),
        pytest.param("if (a) {", "\nd();\n", "\n  b();\n\n  c();\n}\nd();", "\n  b();\n\n  c();\n}",
                     id="closer-kept-after-blank"),
        pytest.param("def f():", "\n    pass\n", "\n    a = 1\n\n    pass\n", "\n    a = 1",
                     id="repeats-next-line"),
    ],
)
def test_finalize_crlf(prefix: str, suffix: str, raw: str, expected: str, model_crlf: bool) -> None:
    """A CRLF document: blank lines (`\\r`) are blank, and cuts keep the document's line ends."""
    out = finalize(crlf(raw) if model_crlf else raw, Context(crlf(prefix), crlf(suffix)), True)
    assert out == (crlf(expected) if model_crlf else expected)


LINES = "\n".join(f"w{i} w{i}" for i in range(100))  # 2 "tokens" per line, 100 lines
LONG_LINE = "".join(f"v{i} = {i}; " for i in range(400))  # one line of about 4 kB
CODE = "\n".join(f"def helper_{i}(value):\n    return value + {i}\n" for i in range(40))
TYPED = "".join(f"total_{i} = compute_value(item_{i})\n    " for i in range(12))


def words(text: str) -> int:
    """A stand-in token count for window arithmetic: one token per whitespace-separated word."""
    return len(text.split())


def utf8_bytes(text: str) -> int:
    """A byte-fallback-like count: CJK and emoji cost 3-4 tokens a character, so coarse steps may not fit."""
    return len(text.encode("utf-8"))


class WordTokenizer:
    """Words, whitespace runs and single other characters as tokens (ids in order of first sight): about
    3 characters a token in code, and typing changes at most the last token, as with a real tokenizer."""

    fim = FimTokens("test", -1, -2, -3, frozenset({-4}), True)
    add_bos = False
    bos = None
    PIECE = re.compile(r"\w+|\s+|[^\w\s]")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def tokenize(self, text: str) -> list[int]:
        return [self.ids.setdefault(piece, len(self.ids)) for piece in self.PIECE.findall(text)]

    def tokenize_infill(self, text: str) -> list[int]:
        return self.tokenize(text)


def fits(text: str, budget: int, count: Callable[[str], int]) -> bool:
    return len(text) <= budget * MAX_CHARS_PER_TOKEN and count(text) <= budget


def brute_prefix_window(prefix: str, budget: int, count: Callable[[str], int], step: int, min_fill: float) -> str:
    """The specification, tried at every grid point: the window from the earliest one whose window fits; while
    that is empty or under `min_fill` of the budget, the same on a grid four times finer after the last point
    that did not fit."""
    cursor_line = prefix.rfind("\n") + 1
    best, floor = len(prefix), -1
    while True:
        points = [g for g in range(0, len(prefix) + 1, step) if g > floor]
        starts = {g: g if g == 0 or g > cursor_line else prefix.find("\n", g - 1) + 1 for g in points}
        fitting = [g for g in points if fits(prefix[starts[g] :], budget, count)]
        if fitting:
            best = min(best, starts[min(fitting)])
        if step == 1 or (best < len(prefix) and count(prefix[best:]) >= budget * min_fill):
            return prefix[best:]
        floor, step = max([floor, *(g for g in points if g not in fitting)]), max(1, step // 4)


def brute_suffix_window(suffix: str, budget: int, count: Callable[[str], int], step: int, min_fill: float) -> str:
    """The specification for the suffix: grid points counted from the end, the latest whose window fits."""
    first_break = suffix.find("\n")
    best, ceiling = 0, len(suffix) + 1
    while True:
        points = [e for e in range(len(suffix), -1, -step) if e < ceiling]
        ends = {e: e if e == len(suffix) or first_break < 0 or e <= first_break else suffix.rfind("\n", 0, e + 1)
                for e in points}
        fitting = [e for e in points if fits(suffix[: ends[e]], budget, count)]
        if fitting:
            best = max(best, ends[max(fitting)])
        if step == 1 or (best > 0 and count(suffix[:best]) >= budget * min_fill):
            return suffix[:best]
        ceiling, step = min([ceiling, *(e for e in points if e not in fitting)]), max(1, step // 4)


SHAPES = [
    pytest.param(LINES, id="short-lines"),
    pytest.param(LINES.replace("\n", "\r\n"), id="crlf"),
    pytest.param(LINES.replace(" w", "\fw"), id="form-feeds"),
    pytest.param("\n".join(f"好 {'世界' * (i % 7)} 🎉" for i in range(80)), id="cjk-emoji"),
    pytest.param(LONG_LINE, id="one-enormous-line"),
    pytest.param(LINES + "\n" + LONG_LINE, id="lines-then-enormous-line"),
    pytest.param(LONG_LINE + "\n" + LINES, id="enormous-line-then-lines"),
]


@pytest.mark.parametrize("min_fill", [0, 0.25], ids=lambda f: f"min-fill-{f}")
@pytest.mark.parametrize("step", [13, 90, 1000], ids=lambda s: f"step-{s}")
@pytest.mark.parametrize("budget", [0, 3, 40, 1000, 100_000], ids=lambda b: f"budget-{b}")
@pytest.mark.parametrize("text", SHAPES)
def test_windows_follow_the_grid(text: str, budget: int, step: int, min_fill: float) -> None:
    """The windows are the specification's (tried at every grid point), fit their budgets, and are the text's
    own end (prefix) and beginning (suffix)."""
    for count in (words, len, utf8_bytes):
        prefix = prefix_window(text, budget, count, step, min_fill)
        suffix = suffix_window(text, budget, count, step, min_fill)
        assert prefix == (brute_prefix_window(text, budget, count, step, min_fill) if budget else "")
        assert suffix == (brute_suffix_window(text, budget, count, step, min_fill) if budget and text else "")
        assert count(prefix) <= budget and count(suffix) <= budget
        assert text.endswith(prefix) and text.startswith(suffix)
        if fits(text, budget, count):
            assert prefix == suffix == text


@pytest.mark.parametrize(
    ("before", "typed", "budget", "grid"),
    [
        pytest.param(CODE, TYPED, 300, 1, id="lines"),
        pytest.param(CODE.replace("\n", "\r\n"), TYPED.replace("\n", "\r\n"), 200, 1, id="crlf-lines"),
        pytest.param(CODE.replace("\n\n", "\n\f\n"), TYPED, 200, 1, id="form-feed-lines"),
        pytest.param(CODE + LONG_LINE.replace(" = ", "_value = "), TYPED.replace("\n    ", "; ") * 3, 1000, 1,
                     id="inside-one-enormous-line"),
        pytest.param("a\fb\n" * 50, "好🎉\f" * 200, 150, 4, id="cjk-emoji-form-feeds-one-char-a-token"),
    ],
)
def test_a_keystroke_only_appends_until_the_window_jumps(before: str, typed: str, budget: int, grid: int) -> None:
    """Typing at the end of the prefix (suffix-first layout): each prompt extends the previous one (less its
    last token, which the new character may change), except when the prefix window's start jumps, which it
    does forward and rarely: about once per grid step typed. Text of about one character a token fills less
    than half a window per step, and its jumps are on the grid four times finer (`grid`)."""
    tok, suffix = WordTokenizer(), "\n" + CODE
    step = grid_step(budget, PREFIX_STEP, len(SAMPLE) / len(tok.tokenize(SAMPLE))) // grid
    longest_line = max(len(line) for line in (before + typed).split("\n"))
    previous = build_prompt(Context(before, suffix), tok, Layout.SPM, Budget(budget, budget, 0, 10**9))
    jumps, start = 0, len(before) - len(previous.prefix_text)
    for n in range(1, len(typed) + 1):
        prefix = before + typed[:n]
        prompt = build_prompt(Context(prefix, suffix), tok, Layout.SPM, Budget(budget, budget, 0, 10**9))
        moved = len(prefix) - len(prompt.prefix_text)
        if moved == start:
            assert prompt.tokens[: len(previous.tokens) - 1] == previous.tokens[:-1]
        else:
            jumps += 1
            assert moved - start >= min(step, longest_line) // 2  # a large step forward, never back
        previous, start = prompt, moved
    assert 1 <= jumps <= 2 * len(typed) // step + 1


def test_moving_the_cursor_down_only_drops_the_suffix_windows_start() -> None:
    """The suffix window's end is on a grid counted from the document's end: moving the cursor down a line
    keeps it, until a grid step's worth of budget has been freed; it never moves back."""
    lines = LINES.split("\n")
    rows = range(10, 60)
    left_out = []  # characters between the window's end and the document's end
    for row in rows:
        window = suffix_window("\n".join(lines[row:]), 40, words, 30)
        left_out.append(len("\n".join(lines[row:])) - len(window))
    changes = sum(a != b for a, b in itertools.pairwise(left_out))
    assert left_out == sorted(left_out, reverse=True)
    assert 1 <= changes <= len(rows) * (max(map(len, lines)) + 1) // 30 + 1  # once per step moved


@pytest.mark.parametrize(
    ("budget", "fitted"),
    [
        pytest.param(Budget(1536, 512, 64, 4096), Budget(1536, 512, 64, 4096), id="fits"),
        pytest.param(Budget(1536, 512, 64, 1024), Budget(716, 239, 64, 1024), id="shrinks-keeping-ratio"),
    ],
)
def test_budget_fits_context(budget: Budget, fitted: Budget) -> None:
    assert budget.fitted() == fitted
    assert fitted.prefix_tokens + fitted.suffix_tokens + fitted.max_tokens + 5 <= fitted.context_size


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(Context("x = ", ""), Context("x = 4", ""), "2 + 1", id="typed-one"),
        pytest.param(Context("x = ", ""), Context("x = 42 ", ""), "+ 1", id="typed-three"),
        pytest.param(Context("x = ", ""), Context("x = 5", ""), None, id="typed-other"),
        pytest.param(Context("x = ", ""), Context("x = ", ""), None, id="typed-nothing"),
        pytest.param(Context("x = ", ""), Context("x = 42 + 1", ""), None, id="typed-all"),
        pytest.param(Context("x = ", ")"), Context("x = 4", ""), None, id="suffix-changed"),
    ],
)
def test_typing_through(before: Context, after: Context, expected: str | None) -> None:
    shown = Shown(before.prefix, before.suffix, "42 + 1")
    assert shown.typed_through(after) == expected


def test_cache_key_separates_contexts_and_params() -> None:
    cache = CompletionCache(size=2)
    cache.put(context_key(Context("a", "b"), True), "one")
    assert cache.get(context_key(Context("a", "b"), True)) == "one"
    assert cache.get(context_key(Context("a", "b"), False)) is None
    assert cache.get(context_key(Context("ab", ""), True)) is None
