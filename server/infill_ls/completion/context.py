"""Stage 1: the document around the cursor, as plain strings."""

from __future__ import annotations

from dataclasses import dataclass


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
        line = self.line_prefix
        return line[: len(line) - len(line.lstrip(" \t"))]


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
