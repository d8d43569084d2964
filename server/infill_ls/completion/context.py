"""Stage 1: the document around the cursor, as plain strings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

STYLE_WINDOW = 16_000
"""Characters on each side of the cursor's line that `Context.style` reads: enough lines to tell, bounded cost."""
STYLES_KEPT = 16
"""Style guesses remembered (see `window_style`): a few documents' worth."""
TAB_COLUMNS = 4
"""Columns of a tab in a tab-indented file (and spaces per tab when a model writes spaces there)."""


@dataclass(frozen=True)
class IndentStyle:
    """How a file indents: with tabs, or with `width` spaces a level."""

    tabs: bool
    width: int

    def columns(self, ws: str) -> int:
        """Width of leading whitespace, a tab counting as one level."""
        return ws.count("\t") * self.width + ws.count(" ")

    def render(self, columns: int) -> str:
        """Leading whitespace `columns` wide in this style (tabs, then spaces for what is less than a tab)."""
        if not self.tabs:
            return " " * columns
        levels, rest = divmod(columns, self.width)
        return "\t" * levels + " " * rest


def leading_whitespace(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def guess_style(lines: list[str]) -> IndentStyle | None:
    """The indentation most indented lines use, or None when no line is indented. Lines indented with one
    space (` * ` in block comments, alignment) say nothing. The width is the most common step between a line
    and a deeper one after it, 4 on a tie or without steps."""
    tabs = spaces = 0
    steps: Counter[int] = Counter()
    previous = 0
    for line in lines:
        ws = leading_whitespace(line)
        if not line.strip():
            continue
        if ws.startswith("\t"):
            tabs += 1
        elif len(ws) >= 2 and "\t" not in ws:
            spaces += 1
        if "\t" not in ws:
            if 2 <= len(ws) - previous <= 8:
                steps[len(ws) - previous] += 1
            previous = len(ws)
    if not tabs and not spaces:
        return None
    if tabs > spaces:
        return IndentStyle(True, TAB_COLUMNS)
    return IndentStyle(False, max(steps, key=lambda k: (steps[k], k == 4), default=4))


@dataclass(frozen=True)
class Context:
    """The text before and after the cursor. `prefix + suffix` is the document (with any selected menu item)."""

    prefix: str
    suffix: str

    @property
    def line_prefix(self) -> str:
        """The cursor's line up to the cursor."""
        return self.prefix[self.prefix.rfind("\n") + 1 :]

    @property
    def line_suffix(self) -> str:
        """The cursor's line after the cursor."""
        end = self.suffix.find("\n")
        return self.suffix if end < 0 else self.suffix[:end]

    @property
    def line_index(self) -> int:
        """0-based line of the cursor."""
        return self.prefix.count("\n")

    @property
    def indent(self) -> str:
        """Leading whitespace of the cursor's line (up to the cursor when the line is blank so far)."""
        return leading_whitespace(self.line_prefix)

    @property
    def style(self) -> IndentStyle | None:
        """The file's indentation, from the lines around the cursor's line, and that line's own indentation
        (counted even when the line is blank up to the cursor, as an editor that auto-indents leaves it). None:
        no indented line to tell by. The windows are measured from the cursor's line, not the cursor, so typing
        on a line leaves them as they were and the guess comes from `window_style`'s memory."""
        start = len(self.prefix) - len(self.line_prefix)  # the cursor's line, in the prefix
        end = self.suffix.find("\n") + 1  # the next line, in the suffix (0: none)
        before = self.prefix[max(0, start - 1 - STYLE_WINDOW) : max(0, start - 1)]
        return window_style(before, self.indent, self.suffix[end : end + STYLE_WINDOW] if end else "")


@lru_cache(maxsize=STYLES_KEPT)
def window_style(before: str, indent: str, after: str) -> IndentStyle | None:
    """`guess_style` of the lines `before` the cursor's line, that line (as its indentation `indent` and some
    text), and the lines `after` it. Remembered: a keystroke that leaves the lines around and the cursor line's
    indentation as they were does not read the lines again. A pure function of its arguments (the memory is
    not state: a remembered answer is the one a new guess gives), so a bounded module-level memo."""
    return guess_style([*before.split("\n"), indent + "x", *after.split("\n")])


def extract(text: str, offset: int, replace: tuple[int, int, str] | None = None) -> Context:
    """Split `text` at `offset` (a str index). `replace = (start, end, text)` first applies a selected
    completion-menu item that ends at the cursor, so the model continues from it."""
    offset = max(0, min(offset, len(text)))
    if replace is not None:
        start, end, inserted = replace
        start = max(0, min(start, offset))
        end = max(start, min(end, len(text)))
        return Context(prefix=text[:start] + inserted, suffix=text[max(end, offset) :])
    return Context(prefix=text[:offset], suffix=text[offset:])
