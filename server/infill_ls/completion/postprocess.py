"""Stage: turn raw model text into the text to insert at the cursor."""

from __future__ import annotations

from .context import Context, IndentStyle, leading_whitespace
from .policy import OPENERS, BlockRule

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


def restyle(text: str, style: IndentStyle | None, first: bool) -> str:
    """The lines' indentation in the file's style: spaces in a tab file become tabs (4 a tab, what is left
    stays spaces), a tab in a spaces file becomes one level of spaces. Widths of spaces are kept. `first`:
    the first line starts a line too (the cursor is at column 0)."""
    if style is None:
        return text
    lines = text.split("\n")
    for i in range(0 if first else 1, len(lines)):
        ws = leading_whitespace(lines[i])
        lines[i] = style.render(style.columns(ws)) + lines[i][len(ws) :]
    return "\n".join(lines)


def expected_columns(ctx: Context, style: IndentStyle) -> int:
    """The indent the cursor's line should have: the last non-blank line's above it, one level deeper when
    that line opens a block (ends with `:`, `{`, `(` or `[`). 0 at the top of the file."""
    end = len(ctx.prefix) - len(ctx.line_prefix) - 1  # the line break before the cursor's line
    line = ""
    while end >= 0 and not line:
        start = ctx.prefix.rfind("\n", 0, end) + 1
        line, end = ctx.prefix[start:end].rstrip(), start - 1
    return style.columns(leading_whitespace(line)) + (style.width if line.endswith(OPENERS) else 0)


def fit_indent(text: str, ctx: Context, style: IndentStyle | None) -> str:
    """No second indent on a line the editor indented.

    Only when everything left of the cursor is spaces or tabs (at least one). When nothing stands right of
    the cursor, blank lines the completion starts with go (it would leave the cursor's line blank and write
    below it); the first line that follows then goes at the cursor, keeping what it is indented beyond the
    cursor. Then the first line's leading whitespace is cut to what the line should have: its indent stays at
    most the larger of the cursor's and the expected one (`expected_columns`), so a cursor short of the
    block's indent still gets the model's indent. Text after the whitespace is never touched."""
    cur = ctx.line_prefix
    if not cur or cur.strip():
        return text
    style = style or IndentStyle(False, 4)
    width = style.columns(cur)
    lines = text.split("\n")
    if not ctx.line_suffix.strip() and len(lines) > 1 and not lines[0].strip():
        k = next((i for i, line in enumerate(lines) if line.strip()), None)
        if k is None:
            return ""
        ws = leading_whitespace(lines[k])
        lines = [style.render(max(0, style.columns(ws) - width)) + lines[k][len(ws) :], *lines[k + 1 :]]
    ws = leading_whitespace(lines[0])
    allowed = max(width, expected_columns(ctx, style))
    total = min(style.columns(cur + ws), allowed)
    lines[0] = style.render(total - width) + lines[0][len(ws) :] if total > width else lines[0][len(ws) :]
    return "\n".join(lines)


def finalize(text: str, ctx: Context, multiline: bool, cut: bool = False) -> str:
    """The whole post-processing: block trim, unfinished last line, the file's indentation, suffix overlap,
    no second indent on an indented line (`fit_indent`), trailing whitespace.

    `cut`: the generation stopped on the token limit (not at an end token, a stop sequence or the block's end).
    """
    trimmed = trim_block(text, ctx, multiline)
    text = whole_lines(trimmed) if cut and trimmed == text else trimmed
    style = ctx.style
    text = drop_suffix_overlap(restyle(text, style, not ctx.line_prefix), ctx)
    text = fit_indent(text, ctx, style).rstrip()
    return text if text.strip() else ""
