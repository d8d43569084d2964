"""Stage 1: the document around the cursor, as plain strings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

STYLE_WINDOW = 16_000
"""Characters on each side of the cursor that `Context.style` reads: enough lines to tell, bounded cost."""
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
        """The file's indentation, from the lines around the cursor (the cursor's own line included when it is
        blank up to the cursor, as an editor that auto-indents leaves it). None: no indented line to tell by."""
        before = self.prefix[-STYLE_WINDOW:].split("\n")
        after = self.suffix[:STYLE_WINDOW].split("\n")
        line = self.line_prefix + "x" if not self.line_prefix.strip() else before[-1] + after[0]
        return guess_style([*before[:-1], line, *after[1:]])


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
