"""Review of issue 14: `Context.style` read up to 16,000 characters on each side of the cursor on every request.
Its guess is remembered now (completion/context.py `window_style`): a keystroke that leaves the lines around the
cursor's line and that line's indentation as they were does not read them again. Each session below types and
edits so that the style changes; after every step the remembered answer must be the one a fresh guess gives, and
a step recomputes exactly when the lines around or the cursor line's indentation changed."""

from __future__ import annotations

import pytest

from infill_ls.completion import context
from infill_ls.completion.context import STYLE_WINDOW, Context, IndentStyle, extract, guess_style

FOUR = "def f(x):\n    if x:\n        y = 1\n    return y\n\n"
TABS = "def f(x):\n\tif x:\n\t\ty = 1\n\treturn y\n\n"
BODY = "def f(x):\n    if x:\n        y = 1\n    return y\n\n\n" * (3 * STYLE_WINDOW // 60)
"""More than twice the window: the first and last lines lie outside it."""
BODY_TABS = BODY.replace("    ", "\t")

Step = tuple[str, bool]
"""The document with `|` at the cursor, and whether the guess is made again (not remembered)."""

SESSIONS = [
    pytest.param([
        (FOUR + "def g():\n    |", True),
        (FOUR + "def g():\n    z|", False),
        (FOUR + "def g():\n    z = 2|", False),
        (TABS + "def g():\n    z = 2|", True),  # the lines above turned to tabs: tabs win
        (TABS + "def g():\n    z = 2 + 1|", False),
        (TABS + "def g():\n    z = 2 + 1\n    |", True),  # a line break: the lines above changed
    ], id="lines-above-turn-to-tabs"),
    pytest.param([
        ("x:\n\ty\nz:\n  w\n|", True),
        ("x:\n\ty\nz:\n  w\n\t|", True),  # the cursor line's own indentation decides the vote
        ("x:\n\ty\nz:\n  w\n\tfoo|", False),
        ("x:\n\ty\nz:\n  w\n\t|", False),  # backspace over text: same indentation
        ("x:\n\ty\nz:\n  w\n|", False),  # back to the first state: still remembered
        ("x:\n\ty\nz:\n  w\n  |", True),
    ], id="the-cursor-line-decides"),
    pytest.param([
        ("|\nclass B:\n  def g(self):\n    pass\n", True),
        ("cl|\nclass B:\n  def g(self):\n    pass\n", False),
        ("cl|\nclass B:\n    def g(self):\n        pass\n", True),  # the lines below changed width
        ("class A:|\nclass B:\n    def g(self):\n        pass\n", False),
        ("class A:\n|\nclass B:\n    def g(self):\n        pass\n", True),
    ], id="lines-below-change-width"),
    pytest.param([
        (BODY + "def g():\n    |" + BODY, True),
        (BODY + "def g():\n    ret|" + BODY, False),
        (BODY_TABS[:100] + BODY[100:] + "def g():\n    ret|" + BODY, False),  # an edit outside the window
        (BODY + "def g():\n    ret|" + BODY[:-100] + BODY_TABS[-100:], False),
        (BODY_TABS + "def g():\n    ret|" + BODY, True),  # inside it
        (BODY_TABS + "def g():\n    ret|" + BODY_TABS, True),
        (BODY_TABS + "def g():\n\tret|" + BODY_TABS, True),
    ], id="large-file-edits-outside-and-inside-the-window"),
]


def at_cursor(state: str) -> Context:
    return extract(state.replace("|", ""), state.index("|"))


def unremembered(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> IndentStyle | None:
    """A fresh guess: `Context.style` with the memory bypassed (and left as it was for the next step)."""
    with monkeypatch.context() as patch:
        patch.setattr(context, "window_style", context.window_style.__wrapped__)
        return ctx.style


def old_style(ctx: Context) -> IndentStyle | None:
    """The definition before the memory (windows measured from the cursor): the same lines in a file shorter
    than the window."""
    before = ctx.prefix[-STYLE_WINDOW:].split("\n")
    after = ctx.suffix[:STYLE_WINDOW].split("\n")
    line = ctx.line_prefix + "x" if not ctx.line_prefix.strip() else before[-1] + after[0]
    return guess_style([*before[:-1], line, *after[1:]])


@pytest.mark.parametrize("steps", SESSIONS)
def test_the_remembered_style_is_a_fresh_guess(steps: list[Step], monkeypatch: pytest.MonkeyPatch) -> None:
    context.window_style.cache_clear()
    seen = []
    for state, recomputes in steps:
        ctx = at_cursor(state)
        misses = context.window_style.cache_info().misses
        style = ctx.style
        assert (context.window_style.cache_info().misses > misses) == recomputes, state[-60:]
        assert style == unremembered(ctx, monkeypatch), state[-60:]
        if len(state) < STYLE_WINDOW:
            assert style == old_style(ctx), state
        seen.append(style)
    assert len(set(seen)) > 1, seen  # the session changed the style
