"""Table-driven tests of the pure pipeline stages: context, policy, prompt windows, postprocess, cache."""

from __future__ import annotations

import pytest

from infill_ls.completion.cache import CompletionCache, Shown, context_key
from infill_ls.completion.context import Context, extract
from infill_ls.completion.policy import BlockRule, allows_multiline, skip_reason
from infill_ls.completion.postprocess import finalize
from infill_ls.completion.prompt import Budget, prefix_window, suffix_window


def words(text: str) -> int:
    """A stand-in token count for window arithmetic: one token per whitespace-separated word."""
    return len(text.split())


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


LINES = "\n".join(f"w{i} w{i}" for i in range(100))  # 2 "tokens" per line (+1 for its newline), 100 lines


@pytest.mark.parametrize(
    ("budget", "anchor", "expected_anchor"),
    [
        pytest.param(1000, None, 0, id="whole-file-fits"),
        pytest.param(40, None, 90, id="jump-fills-three-quarters"),
        pytest.param(40, 82, 82, id="anchor-kept-while-it-fits"),
        pytest.param(40, 50, 90, id="anchor-too-far-back-jumps"),
        pytest.param(40, 120, 90, id="anchor-past-cursor-jumps"),
    ],
)
def test_prefix_window_anchor(budget: int, anchor: int | None, expected_anchor: int) -> None:
    text, start = prefix_window(LINES, budget, words, anchor)
    assert start == expected_anchor
    assert text == "\n".join(LINES.split("\n")[expected_anchor:])
    assert words(text) <= budget


def test_prefix_window_stays_put_while_typing() -> None:
    """The anchor does not move one line at a time: typing on keeps the same window start."""
    _, anchor = prefix_window(LINES, 40, words, None)
    typed = LINES
    for i in range(8):
        typed += f" t{i}"
        _, again = prefix_window(typed, 40, words, anchor)
        assert again == anchor


def test_prefix_window_of_one_huge_line_keeps_its_end() -> None:
    text, start = prefix_window("a " * 100 + "end", 10, words, None)
    assert start is None and text.endswith("end") and words(text) <= 10


@pytest.mark.parametrize(
    ("suffix", "budget", "expected"),
    [
        pytest.param("x)\na b\nc d\ne f", 7, "x)\na b\nc d", id="whole-lines"),
        pytest.param("x)\na b", 0, "", id="no-budget"),
        pytest.param("a b c d e f", 3, "a b c ", id="one-long-line"),
    ],
)
def test_suffix_window(suffix: str, budget: int, expected: str) -> None:
    assert suffix_window(suffix, budget, words, None)[0] == expected


def test_suffix_window_end_stays_put_while_the_cursor_moves_down() -> None:
    text, tail = suffix_window(LINES, 40, words, None)
    assert tail == len(LINES.split("\n")) - text.count("\n") - 1
    below = LINES.split("\n", 1)[1]  # the cursor moved one line down
    moved, again = suffix_window(below, 40, words, tail)
    assert again == tail and text.endswith(moved)


def test_suffix_window_end_moves_when_the_window_no_longer_fits() -> None:
    _, tail = suffix_window(LINES, 40, words, None)
    above = "w " * 20 + "\n" + LINES  # the cursor moved up past a long line: the old end no longer fits
    text, again = suffix_window(above, 40, words, tail)
    assert again != tail and words(text) <= 40


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
