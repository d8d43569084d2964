"""Cross-file context: snippets of other files that the model sees before the current file's prefix.

Pure functions: the candidates come from `CrossFileSources` (open documents, recent edits, the definitions of names
the current file imports, found by imports.py); this module cuts them into chunks on a fixed grid of lines,
ranks the chunks by the identifiers they share with the text near the cursor, and keeps the best within a token
budget. The result is rendered per model family (see prompt.py): repository-level FIM tokens where the family
has them, else each snippet under a path header in the language's comment syntax.

The block is kept stable on purpose: a chunk is the same text wherever the cursor is, the order is fixed by
score (best last, nearest the cursor's own code), and the caller rebuilds the block only when its sources change,
never per keystroke; so typing still evaluates only the new tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ...lines import lsp_lines

CHUNK_LINES = 24
"""Lines per chunk of another file (chunks start at multiples of this, so they do not move with the cursor)."""
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
"""Words worth matching (three characters or more)."""
COMMON = frozenset({
    "self", "def", "class", "return", "import", "from", "for", "while", "None", "True", "False", "and", "not",
    "the", "with", "const", "let", "var", "function", "func", "this", "int", "str", "string", "else", "elif",
    "pass", "package", "public", "private", "static", "void", "type", "struct", "err", "nil",
})

FOCUS_BONUS = 1000.0
"""A focus chunk's score over the words shared: it ranks before chunks that merely share words."""

COMMENTS: dict[str, str] = {
    **dict.fromkeys(("py", "sh", "bash", "rb", "pl", "r", "toml", "yaml", "yml", "nim", "jl", "ex", "exs"), "#"),
    **dict.fromkeys(("lua", "sql", "hs", "elm"), "--"),
    **dict.fromkeys(("lisp", "clj", "el", "scm"), ";;"),
}
"""Line comment per file extension; anything else (C, Go, Java, JS, TS, Rust, ...) uses `//`."""


@dataclass(frozen=True)
class Snippet:
    """A piece of another file, with the path the model is shown."""

    path: str
    text: str
    source: str
    """open, edit or import (for the log and the tests)."""


@dataclass(frozen=True)
class Candidate:
    """A file (or a region of one) offered as context, before chunking."""

    path: str
    text: str
    source: str
    recency: int = 0
    """Larger is more recent: the tie-breaker between equal scores."""
    first_line: int = 0
    """Where `text` starts in its file (chunks are cut on the file's grid)."""
    needed: bool = False
    """It holds what the code near the cursor needs (see focus.py): its chunks rank as the focus's."""


def identifiers(text: str) -> set[str]:
    return {w for w in IDENTIFIER.findall(text) if w not in COMMON}


def chunks(candidate: Candidate, lines: int = CHUNK_LINES) -> list[Snippet]:
    """`candidate` cut at line multiples of `lines` counted in its file (the protocol's lines, as an edit's lines
    are counted); blank chunks dropped."""
    rows = lsp_lines(candidate.text)
    out = []
    first = -candidate.first_line % lines  # the first grid point inside the region
    cuts = [0, *range(first or lines, len(rows), lines)] if rows else []
    for at, end in zip(cuts, [*cuts[1:], len(rows)], strict=True):
        text = "".join(rows[at:end])
        if text.strip():
            out.append(Snippet(candidate.path, text if text.endswith("\n") else text + "\n", candidate.source))
    return out


def select(
    candidates: Sequence[Candidate], near: str, budget: int, count: Callable[[str], int], lines: int = CHUNK_LINES
) -> tuple[Snippet, ...]:
    """The chunks that share the most identifiers with `near` (the text around the cursor), within `budget`
    tokens, in a fixed order: the best last. What the code near the cursor needs (source `focus`: an outline,
    members, a signature; see focus.py) ranks before any chunk that merely shares words. Chunks that share nothing
    are kept only from imports (definitions) and the focus."""
    if budget <= 0 or not candidates:
        return ()
    wanted = identifiers(near)
    scored: list[tuple[float, int, int, Snippet]] = []
    for n, candidate in enumerate(candidates):
        for k, snippet in enumerate(chunks(candidate, lines)):
            shared = len(wanted & identifiers(snippet.text))
            bonus = FOCUS_BONUS if candidate.needed or candidate.source == "focus" else (
                0.5 if candidate.source == "import" else 0.0)
            if shared or bonus:
                scored.append((shared + bonus, candidate.recency, -(n * 10_000 + k), snippet))
    scored.sort(key=lambda s: s[:3], reverse=True)
    kept: list[tuple[float, int, int, Snippet]] = []
    used = 0
    seen: set[tuple[str, str]] = set()
    for entry in scored:
        snippet = entry[3]
        if (snippet.path, snippet.text) in seen:
            continue
        cost = count(snippet.path) + count(snippet.text) + 4
        if used + cost > budget:
            continue
        seen.add((snippet.path, snippet.text))
        kept.append(entry)
        used += cost
    kept.sort(key=lambda s: s[:3])  # the best last: nearest the cursor's own code
    return tuple(entry[3] for entry in kept)


def comment_for(path: str) -> str:
    return COMMENTS.get(PurePosixPath(path).suffix.lstrip(".").lower(), "//")


def header_block(snippets: Iterable[Snippet], current_path: str) -> str:
    """Snippets as text before the file's prefix, each under a path header in the current file's comment syntax
    (for families without repository-level tokens: CodeLlama, prefix-only models)."""
    mark = comment_for(current_path)
    parts = [f"{mark} {s.path}\n{s.text}" for s in snippets]
    if not parts:
        return ""
    return "".join(parts) + f"{mark} {current_path}\n"
