"""Stage: turn raw model text into the text to insert at the cursor."""

from __future__ import annotations

import re

from .context import Context, IndentStyle, leading_whitespace
from .policy import OPENERS, BlockRule
from .syntax import QUOTES, Span, Syntax, tail, window

PAIRS = {")": "(", "]": "[", "}": "{"}
LONE_CLOSER = frozenset(")]};,")
"""Characters of a line that only closes brackets (`}`, `});`, `],`)."""
TAKEOVER = frozenset(",;:")
"""Separators where the rest of the line takes over when it starts with one (`f(|, b)`: the completion ends at
its own first `,`)."""
ATTACHED = frozenset(")]}.,;:")
"""What a completion's trailing space is dropped before (`f(a |)`), as before the end of the line."""
TRAILING_WORD = re.compile(r"\w+\Z")


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


def code_mask(text: str, spans: list[Span]) -> list[bool]:
    """For each character of `text`: is it code (not in a comment or a literal)?"""
    mask = [True] * len(text)
    for span in spans:
        if span.kind != "error":
            mask[max(0, span.start) : max(0, span.end)] = [False] * (min(len(text), span.end) - max(0, span.start))
    return mask


def _open_brackets(line: str, code: list[bool]) -> list[str]:
    """The brackets `line` (the cursor's, up to the cursor) opens and leaves open, innermost last."""
    stack: list[str] = []
    for ch, is_code in zip(line, code, strict=True):
        if is_code and ch in "([{":
            stack.append(ch)
        elif is_code and ch in PAIRS and stack and stack[-1] == PAIRS[ch]:
            stack.pop()
    return stack


def _closes(opened: list[str], rest: str, code: list[bool]) -> tuple[set[int], int]:
    """Which of the brackets `opened` before the cursor (their indices) the rest of the line closes, and how many
    brackets of earlier lines it closes after them. A closer that fits no open bracket closes nothing."""
    still = list(range(len(opened)))
    own = 0
    closed: set[int] = set()
    outer = 0
    for ch, is_code in zip(rest, code, strict=True):
        if is_code and ch in "([{":
            own += 1
        elif is_code and ch in PAIRS:
            if own:
                own -= 1
                continue
            match = next((k for k in reversed(range(len(still))) if opened[still[k]] == PAIRS[ch]), None)
            if match is not None:
                closed.add(still[match])
                del still[match:]
            elif not still:
                outer += 1
    return closed, outer


def _swallows(text: str, span: Span) -> bool:
    """A comment that starts in the completion runs on into the rest of the line: a line comment, or a block
    comment left open, that reaches the completion's end."""
    if span.kind != "comment" or span.start < 0 or span.end < len(text.rstrip()):
        return False
    body = text[span.start : span.end].rstrip()
    return not ((body.startswith("/*") and body.endswith("*/") and len(body) >= 4)
                or (body.startswith("--[[") and body.endswith("]]")))


def end_at_suffix(text: str, ctx: Context, syntax: Syntax | None, cut_short: bool = False) -> str:
    """The completion ends where the rest of the cursor's line takes over (issue 23).

    Only when code stands right of the cursor and the language has a parser (`syntax`). Cut before the first of:
    - a closing bracket (in code, not in a comment or a literal) that closes a bracket opened before the cursor
      which the rest of the line closes too (`print(area(3, |))` + `5))  # …` → `5`); one that closes a bracket
      the rest leaves open stays (`f(a, [|)` + `1])` → `1]`);
    - the separator the rest of the line starts with (`,`, `;`, `:`), outside the completion's own brackets
      (`a + |, 0);` + `b, items);` → `b`);
    - a comment that would run on into the rest of the line, or a quote (or `/*`) that opens a literal (or a
      comment) left unclosed, which the parser sees as an error;
    - the closing quote of a literal open at the cursor, when the rest of the line closes it too.
    A completion that only closes what it opened stays whole (`foo(|)` + `bar()`). One that is unfinished there (a
    bracket of its own left open, or `cut_short`: stopped by the token limit, with a comma outside its brackets)
    keeps what precedes its last comma outside its own brackets, or nothing; a trailing comma before the rest's
    closing bracket goes.
    """
    rest = ctx.line_suffix
    if syntax is None or not text or not rest.strip():
        return text
    head = window(ctx.prefix)
    at = max(0, len(head) - len(ctx.line_prefix))
    before, line = head[:at], head[at:]
    rest_code = code_mask(line + rest, syntax.spans(before, line + rest))[len(line) :]
    found = syntax.spans(before, line + text)
    line_code = code_mask(line + text, found)
    spans = [span.shifted(len(line)) for span in found]
    opened = _open_brackets(line, line_code[: len(line)])
    closed, outer = _closes(opened, rest, rest_code)
    lead = next((i for i, ch in enumerate(rest) if not ch.isspace()), 0)
    takeover = rest[lead] if rest_code[lead] and rest[lead] in TAKEOVER else None
    code = line_code[len(line) :]
    errors = [span for span in spans if span.kind == "error"]
    cut = len(text)
    for span in spans:
        delimiter = "" if span.closing is None else text[max(0, span.closing) : span.end]
        if _swallows(text, span):
            cut = min(cut, span.start)
        elif span.start < 0 and span.closing is not None and span.closing >= 0 and delimiter and delimiter in rest:
            cut = min(cut, span.closing)
    stack: list[int] = []  # where the completion's own open brackets are
    commas: list[int] = []  # its commas outside its own brackets
    still = list(range(len(opened)))
    beyond = 0
    end = cut
    for i, ch in enumerate(text[:cut]):
        if not code[i]:
            continue
        if ch in "([{":
            stack.append(i)
        elif ch in PAIRS and stack and text[stack[-1]] == PAIRS[ch]:
            stack.pop()
        elif ch in PAIRS:
            match = next((k for k in reversed(range(len(still))) if opened[still[k]] == PAIRS[ch]), None)
            if match is None:
                beyond += 1
                if beyond <= outer:
                    end = i
                    break
            elif still[match] in closed:
                end = i
                break
            else:
                del still[match:]
        elif (ch == takeover and not stack) or opens_at(text, i, errors):
            end = i
            break
        elif ch == "," and not stack:
            commas.append(i)
    if stack or (cut_short and end == len(text) and commas):
        # Unfinished: a bracket of its own left open (the line ended it), or cut by the token limit. What is
        # whole is what precedes its last comma outside its own brackets (`a, function() {` → `a`); without
        # one, a completion cut by the token limit stays as it is (nothing says where it went wrong).
        whole = [c for c in commas if c < (stack[0] if stack else end)]
        return text[: whole[-1]] if whole else ""
    body = text[:end].rstrip()
    if commas and commas[-1] == len(body) - 1 and rest[lead] in PAIRS:
        return body[:-1]  # `f(a, |)` + `b,` → `b`: no trailing comma before the closer (C rejects it)
    return text[:end]


def complete_block(text: str, ctx: Context, syntax: Syntax | None) -> str:
    """A completion that spans lines, cut at the last line end where the code around it parses with no more
    errors than without it: the last point where its block is complete. Nothing is cut when the whole completion
    is fine. Its first line is what a one-line completion would have been, which the line rules own: it stays
    when no later point is complete (`Table.|` + `grid(` / `padding=1,` cut by the token limit keeps `grid(`,
    what a user types on from), unless it opens a literal or a comment that would run on over the code below
    (a docstring begun and left open)."""
    if syntax is None or "\n" not in text:
        return text
    head, after = window(ctx.prefix), tail(ctx.suffix)
    allowed = syntax.errors(head + after)
    ends = [i for i, ch in enumerate(text) if ch == "\n"]
    for end in [len(text), *reversed(ends[1:])]:
        piece = text[:end].removesuffix("\r")
        if syntax.errors(head + piece + after) <= allowed:
            return piece
    first = text[: ends[0]].removesuffix("\r")
    return "" if opens_literal(first, syntax.spans(head, first)) else first


def opens_literal(text: str, spans: list[Span]) -> bool:
    """`text` opens a literal or a comment in its code and leaves it open (`opens_at`)."""
    code = code_mask(text, spans)
    errors = [span for span in spans if span.kind == "error"]
    return any(code[i] and opens_at(text, i, errors) for i in range(len(text)))


def opens_at(text: str, i: int, errors: list[Span]) -> bool:
    """A quote (or `/*`) at `i` that the parser sees as an error: a literal (or a comment) opened there and left
    open. `i` must be in code."""
    return (text[i] in QUOTES or text.startswith("/*", i)) and any(e.start <= i < e.end for e in errors)


def trim_end(text: str, ctx: Context) -> str:
    """Trailing whitespace goes, unless it separates the completion from the next word on the line (`if |ready:`
    + `not ` stays `not `); a trailing word glued to the next one goes (`not` before `ready`)."""
    body = text.rstrip()
    rest = ctx.line_suffix
    gap = text[len(body) :]
    if not rest[:1] or rest[:1].isspace() or rest[0] in ATTACHED:
        return body
    if gap and "\n" not in gap:
        return body + gap
    if not gap and body and (body[-1].isalnum() or body[-1] == "_") and (rest[0].isalnum() or rest[0] == "_"):
        return TRAILING_WORD.sub("", body)
    return body


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


def finalize(text: str, ctx: Context, multiline: bool, cut: bool = False, language: str | None = None) -> str:
    """The whole post-processing: block trim, unfinished last line, the file's indentation, the end where the
    rest of the line takes over (`end_at_suffix`), suffix overlap, no second indent on an indented line
    (`fit_indent`), a block cut where it is complete (`complete_block`), trailing whitespace (`trim_end`).

    `cut`: the generation stopped on the token limit (not at an end token, a stop sequence or the block's end).
    `language`: the document's (`syntax.language_for`); with a grammar for it, the parser's rules apply.
    """
    syntax = Syntax.of(language)
    trimmed = trim_block(text, ctx, multiline)
    text = whole_lines(trimmed) if cut and trimmed == text else trimmed
    style = ctx.style
    ended = end_at_suffix(restyle(text, style, not ctx.line_prefix), ctx, syntax, cut and trimmed == text)
    text = drop_suffix_overlap(ended, ctx)
    text = complete_block(fit_indent(text, ctx, style), ctx, syntax)
    text = trim_end(text, ctx)
    return text if text.strip() else ""
