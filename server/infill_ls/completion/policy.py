"""Stage: should we complete here, may the completion span lines, and when does generation stop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config import Multiline
from .context import Context

OPENERS = (":", "{", "(", "[")
CLOSERS = ("}", ")", "]")


def skip_reason(ctx: Context, automatic: bool) -> str | None:
    """Why an automatic request should not run the model here, or None. Invoked requests always run."""
    if not automatic:
        return None
    after = ctx.line_suffix[:1]
    if after and (after.isalnum() or after == "_"):
        return "cursor inside a word"
    return None


def allows_multiline(ctx: Context, mode: Multiline) -> bool:
    """`auto`: one line when code stands to the right of the cursor, otherwise a block."""
    if mode == "auto":
        return not ctx.line_suffix.strip()
    return mode == "always"


def _width(indent: str) -> int:
    return len(indent.expandtabs(4))


@dataclass(frozen=True)
class BlockRule:
    """Where a multi-line completion leaves the cursor's block."""

    base: int
    """Indent width of the cursor's line."""
    opens: bool
    """The cursor's line opens a block, so a line back at `base` ends it (a closing bracket line is kept)."""

    @classmethod
    def at(cls, ctx: Context) -> BlockRule:
        return cls(_width(ctx.indent), ctx.line_prefix.rstrip().endswith(OPENERS))

    def end(self, text: str) -> int | None:
        """Index in `text` where the line break before the block's end starts, or None while the block has
        not ended (only whole lines decide). A line's `\\r` (CRLF text) is part of its break, not its text."""
        pos = text.find("\n")
        while pos >= 0:
            start = pos + 1
            nxt = text.find("\n", start)
            line = (text[start:] if nxt < 0 else text[start:nxt]).rstrip("\r")
            body = line.lstrip(" \t")
            if body:
                width = _width(line[: len(line) - len(body)])
                if width < self.base:
                    return _break_start(text, pos)
                if self.opens and width == self.base:
                    if body.startswith(CLOSERS):
                        if nxt < 0:
                            return None  # wait for the end of the closing line
                        return _break_start(text, nxt)
                    return _break_start(text, pos)
            elif nxt < 0:
                return None
            pos = nxt
        return None


def _break_start(text: str, newline: int) -> int:
    """Where the line break ending at `text[newline]` (a `\\n`) starts: before its `\\r` in CRLF text."""
    return newline - 1 if newline > 0 and text[newline - 1] == "\r" else newline


def stop_rules(ctx: Context, multiline: bool) -> tuple[tuple[str, ...], Callable[[str], bool] | None]:
    """Stop sequences and a per-token stop test for the engine, matching what post-processing keeps."""
    if not multiline:
        return ("\n",), None
    rule = BlockRule.at(ctx)
    return (), lambda text: rule.end(text) is not None
