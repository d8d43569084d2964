"""Cross-file context: snippets of other files that the model sees before the current file's prefix.

Pure functions: the candidates come from `ContextSources` (open documents, recent edits, the definitions of names
the current file imports); this module cuts them into chunks on a fixed grid of lines, ranks the chunks by the
identifiers they share with the text near the cursor, and keeps the best within a token budget. The result is
rendered per model family (see prompt.py): repository-level FIM tokens where the family has them, else each
snippet under a path header in the language's comment syntax.

The block is kept stable on purpose: a chunk is the same text wherever the cursor is, the order is fixed by
score (best last, nearest the cursor's own code), and the caller rebuilds the block only when its sources change,
never per keystroke; so typing still evaluates only the new tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

CHUNK_LINES = 24
"""Lines per chunk of another file (chunks start at multiples of this, so they do not move with the cursor)."""
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
"""Words worth matching (three characters or more)."""
COMMON = frozenset({
    "self", "def", "class", "return", "import", "from", "for", "while", "None", "True", "False", "and", "not",
    "the", "with", "const", "let", "var", "function", "func", "this", "int", "str", "string", "else", "elif",
    "pass", "package", "public", "private", "static", "void", "type", "struct", "err", "nil",
})

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


def identifiers(text: str) -> set[str]:
    return {w for w in IDENTIFIER.findall(text) if w not in COMMON}


def chunks(candidate: Candidate, lines: int = CHUNK_LINES) -> list[Snippet]:
    """`candidate` cut at line multiples of `lines` counted in its file; blank chunks dropped."""
    rows = candidate.text.splitlines(keepends=True)
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
    tokens, in a fixed order: the best last. Chunks that share nothing are kept only from imports (definitions)."""
    if budget <= 0 or not candidates:
        return ()
    wanted = identifiers(near)
    scored: list[tuple[float, int, int, Snippet]] = []
    for n, candidate in enumerate(candidates):
        for k, snippet in enumerate(chunks(candidate, lines)):
            shared = len(wanted & identifiers(snippet.text))
            bonus = 0.5 if candidate.source == "import" else 0.0
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


# --- Python imports ---------------------------------------------------------------------------------------------

IMPORT = re.compile(r"[ \t]*import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)")
FROM_IMPORT = re.compile(r"[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(?:\(([\w\s,*]+)\)?|([\w \t,*]+))")
"""`from M import a, b` (names up to the end of the line) or `from M import (a, b)` (names over several lines)."""


@dataclass(frozen=True)
class Import:
    module: str
    """Dotted, with leading dots for a relative import."""
    names: tuple[str, ...]
    """The names imported from it (empty for `import module`)."""


def python_imports(text: str) -> list[Import]:
    """The imports of a Python file, read line by line (the file may not parse while the user types): `import`
    statements first, then `from` ones, each in file order. Only the lines that say `import` are matched (the
    whole text runs on every request: a regex over 1.4 MB took 25 ms, `str.find` a fraction of that)."""
    plain: list[Import] = []
    named: list[Import] = []
    at = text.find("import")
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at) % (len(text) + 1)  # the line's end (the text's end: -1 % (n + 1) == n)
        if m := IMPORT.match(text, start):
            plain += [Import(name.strip().split(" as ")[0], ()) for name in m.group(1).split(",") if name.strip()]
        elif m := FROM_IMPORT.match(text, start):
            listed = m.group(2) if m.group(2) is not None else m.group(3)
            names = tuple(n.strip().split(" as ")[0] for n in listed.replace("\n", ",").split(",") if n.strip())
            named.append(Import(m.group(1), tuple(n for n in names if n != "*")))
            end = max(end, m.end())  # `from m import (a,\n b)` runs over lines
        at = text.find("import", end)
    return plain + named


@dataclass(frozen=True)
class ModuleFile:
    """One module an import names: where it may live (the first of `paths` that exists is it), and what to read
    there (`names`; none: the first line of every top-level definition, what `module.` may be followed by)."""

    paths: tuple[PurePosixPath, ...]
    names: tuple[str, ...]


def module_paths(imp: Import, current: PurePosixPath, roots: Sequence[PurePosixPath]) -> list[ModuleFile]:
    """The modules `imp` names, relative to the current file or, for an absolute import, under a root (or its
    src/), then under the folders between the current file and its root, nearest first (a monorepo's
    `packages/foo/src/`): the module itself with the imported names, and for `from package import name` the
    submodule `name` too, whole (`name` may be either)."""
    dots = len(imp.module) - len(imp.module.lstrip("."))
    parts = [p for p in imp.module.lstrip(".").split(".") if p]
    bases = [current.parents[dots - 1]] if dots else absolute_bases(current, roots)
    targets = [base.joinpath(*parts) if parts else base for base in bases]
    files = [(t.with_suffix(".py"), t / "__init__.py") if parts else (t / "__init__.py",) for t in targets]
    out = [ModuleFile(tuple(p for alternatives in files for p in alternatives), imp.names)]
    out += [ModuleFile(tuple(t / f"{name}.py" for t in targets), ()) for name in imp.names]
    return out


def absolute_bases(current: PurePosixPath, roots: Sequence[PurePosixPath]) -> list[PurePosixPath]:
    """Where an absolute import may start: each root and its src/, then the current file's folders inside its
    root, nearest first."""
    bases = [b for r in roots for b in (r, r / "src")]
    root = next((r for r in roots if current.is_relative_to(r)), None)
    if root is not None:
        bases += [p for p in current.parents if p.is_relative_to(root) and p != root and p not in bases]
    return bases


DEF = re.compile(r"^(?:(?:async\s+def|def|class)\s+(\w+)|(\w+)\s*(?::[^=\n]*)?=(?!=))", re.MULTILINE)
"""A top-level definition: a function, a class, or an assignment (`ROUNDED: Box = Box(`, `TIMEOUT = 5`)."""


def definitions(module_text: str, names: Sequence[str], max_lines: int = CHUNK_LINES) -> str:
    """The top-level definitions of `names` in a module (each up to `max_lines` lines), or, without names, the
    first line of every top-level definition (what `module.` may be followed by)."""
    lines = module_text.splitlines(keepends=True)
    starts: dict[str, int] = {}
    for m in DEF.finditer(module_text):
        starts.setdefault(m.group(1) or m.group(2), module_text.count("\n", 0, m.start()))
    if not names:
        return "".join(lines[i] for i in sorted(starts.values()))
    out = []
    for name in names:
        if name in starts:
            at = starts[name]
            end = at + 1
            while end < len(lines) and end - at < max_lines and (not lines[end].strip() or lines[end][:1] in " \t#)"):
                end += 1
            out.append("".join(lines[at:end]).rstrip() + "\n")
    return "".join(out)
