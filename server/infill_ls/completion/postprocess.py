"""Stage: turn raw model text into the text to insert at the cursor."""

from __future__ import annotations

from .context import Context
from .policy import BlockRule


def trim_block(text: str, ctx: Context, multiline: bool) -> str:
    """One line, or the lines until the completion dedents out of the cursor's block."""
    if not multiline:
        return text.split("\n", 1)[0]
    end = BlockRule.at(ctx).end(text)
    return text if end is None else text[:end]


def drop_suffix_overlap(text: str, ctx: Context) -> str:
    """Cut text that repeats what already follows the cursor."""
    rest = ctx.line_suffix.strip()
    if rest:
        body = text.rstrip()
        for k in range(len(rest), 0, -1):
            if body.endswith(rest[:k]):
                return body[: len(body) - k]
    following = [line.strip() for line in ctx.suffix.split("\n")[1:] if line.strip()]
    if following and "\n" in text:
        lines = text.split("\n")
        for i in range(1, len(lines)):
            if lines[i].strip() == following[0]:
                return "\n".join(lines[:i])
    return text


def finalize(text: str, ctx: Context, multiline: bool) -> str:
    """The whole post-processing: block trim, suffix overlap, trailing whitespace."""
    text = trim_block(text, ctx, multiline)
    text = drop_suffix_overlap(text, ctx)
    text = text.rstrip()
    return text if text.strip() else ""
