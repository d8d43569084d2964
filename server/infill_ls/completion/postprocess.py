"""Stage: turn raw model text into the text to insert at the cursor."""

from __future__ import annotations

from .context import Context
from .policy import BlockRule

PAIRS = {")": "(", "]": "[", "}": "{"}
LONE_CLOSER = frozenset(")]};,")
"""Characters of a line that only closes brackets (`}`, `});`, `],`)."""


def trim_block(text: str, ctx: Context, multiline: bool) -> str:
    """One line, or the lines until the completion dedents out of the cursor's block."""
    if not multiline:
        return text.split("\n", 1)[0]
    end = BlockRule.at(ctx).end(text)
    return text if end is None else text[:end]


def unmatched_closers(text: str) -> set[int]:
    """Indices of the closing brackets in `text` that close nothing opened in `text` itself."""
    stack: list[str] = []
    unmatched: set[int] = set()
    for i, ch in enumerate(text):
        if ch in "([{":
            stack.append(ch)
        elif ch in PAIRS:
            if stack and stack[-1] == PAIRS[ch]:
                stack.pop()
            else:
                unmatched.add(i)
    return unmatched


def _repeats(text: str, start: int, end: int) -> bool:
    """`text[start:end]` repeats text after the cursor: every closer in it closes what `text` did not open
    (a closer the completion opened itself is its own text, and cutting it would leave a bracket open)."""
    unmatched = unmatched_closers(text[:end])
    return all(i in unmatched for i in range(start, end) if text[i] in PAIRS)


def drop_suffix_overlap(text: str, ctx: Context) -> str:
    """Cut text that repeats what already follows the cursor.

    On the cursor's line: the longest end of the completion that is a beginning of the rest of the line.
    Across lines: from the first line (after the first) equal to the next non-blank line of the file,
    indentation included. Closing brackets count as a repeat only when the completion did not open them.
    """
    rest = ctx.line_suffix.strip()
    if rest:
        body = text.rstrip()
        for k in range(len(rest), 0, -1):
            if body.endswith(rest[:k]) and _repeats(body, len(body) - k, len(body)):
                return body[: len(body) - k]
    following = next((line.rstrip() for line in ctx.suffix.split("\n")[1:] if line.strip()), None)
    if following is not None and "\n" in text:
        lines = text.split("\n")
        start = len(lines[0]) + 1
        for i in range(1, len(lines)):
            line = lines[i].rstrip()  # without a CRLF line's \r
            end = start + len(lines[i])
            if line == following and (not set(line.strip()) <= LONE_CLOSER or _repeats(text, start, end)):
                return "\n".join(lines[:i])
            start = end + 1
    return text


def whole_lines(text: str) -> str:
    """`text` without its last line, when it spans lines: for a generation cut short by the token limit, whose
    last line is unfinished (`x[i] = add(x[`). A single line is kept as it is."""
    end = text.rfind("\n")
    return text if end < 0 else text[:end].removesuffix("\r")


def finalize(text: str, ctx: Context, multiline: bool, cut: bool = False) -> str:
    """The whole post-processing: block trim, unfinished last line, suffix overlap, trailing whitespace.

    `cut`: the generation stopped on the token limit (not at an end token, a stop sequence or the block's end).
    """
    trimmed = trim_block(text, ctx, multiline)
    text = whole_lines(trimmed) if cut and trimmed == text else trimmed
    text = drop_suffix_overlap(text, ctx)
    text = text.rstrip()
    return text if text.strip() else ""
