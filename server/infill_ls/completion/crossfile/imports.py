"""Imports: which files a document's imports name, and what of them the model is shown. Pure functions, one
set per language (`LANGUAGES`, by file suffix); `CrossFileSources` reads the files, inside the workspace folders.

For each import: the module files it may name (`ModuleFile`: the first of its paths that exists is it) and, from
the file found, the definitions of the imported names (each up to `CHUNK_LINES` lines) or, when the import names
none (`import m`, `import * as m`), the first line of each top-level definition: what `m.` may be followed by.
A module's lines are the protocol's (lines.py): its line breaks are written `\n` before it is read, so that the
patterns' `^` and the lines they are counted in agree (a form feed or U+2028 is no line break).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ...lines import lsp_lines, unix_newlines
from .selection import CHUNK_LINES


@dataclass(frozen=True)
class Import:
    module: str
    """Dotted, with leading dots for a relative import."""
    names: tuple[str, ...]
    """The names imported from it (empty for `import module`)."""


@dataclass(frozen=True)
class ModuleFile:
    """One module an import names: where it may live (the first of `paths` that exists is it), and what to read
    there (`names`; none: the first line of every top-level definition, what `module.` may be followed by)."""

    paths: tuple[PurePosixPath, ...]
    names: tuple[str, ...]


def line_counter(text: str) -> Callable[[int], int]:
    """The line of a position in `text` (its line breaks written `\n`: `unix_newlines`), for positions asked in
    increasing order: each call counts only the text since the last one (why: docs/context.md, "Why typing stays
    cheap")."""
    last, line = 0, 0

    def line_of(position: int) -> int:
        nonlocal last, line
        line += text.count("\n", last, position)
        last = position
        return line

    return line_of


def declarations(lines: Sequence[str], starts: dict[str, int], names: Sequence[str], continued: str,
                 max_lines: int) -> str:
    """The declarations of `names` (those `starts` knows: their first lines), each with the lines that continue it
    (blank, or beginning with one of the characters `continued`: indentation, a closing bracket, a comment), at
    most `max_lines` lines."""
    out = []
    for name in names:
        if name in starts:
            at = starts[name]
            end = at + 1
            while end < len(lines) and end - at < max_lines and (not lines[end].strip() or lines[end][:1] in continued):
                end += 1
            out.append("".join(lines[at:end]).rstrip() + "\n")
    return "".join(out)


# --- Python ----------------------------------------------------------------------------------------------------

IMPORT = re.compile(r"[ \t]*import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)")
FROM_IMPORT = re.compile(r"[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(?:\(([\w\s,*]+)\)?|([\w \t,*]+))")
"""`from M import a, b` (names up to the end of the line) or `from M import (a, b)` (names over several lines)."""


def python_imports(text: str) -> list[Import]:
    """The imports of a Python file, read line by line (the file may not parse while the user types): `import`
    statements first, then `from` ones, each in file order. Only the lines that say `import` are matched: the
    whole text is scanned on every request."""
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


def python_modules(imp: Import, current: PurePosixPath, roots: Sequence[PurePosixPath]) -> list[ModuleFile]:
    """The modules `imp` names, relative to the current file or, for an absolute import, where `absolute_bases`
    says (its own root or its src/, the folders between the current file and that root, nearest first: a
    monorepo's `packages/foo/src/`, then the other roots): the module itself with the imported names, and for
    `from package import name` the submodule `name` too, whole (`name` may be either)."""
    dots = len(imp.module) - len(imp.module.lstrip("."))
    parts = [p for p in imp.module.lstrip(".").split(".") if p]
    if dots > len(current.parents):
        return []  # more dots than folders (half typed): it names nothing
    bases = [current.parents[dots - 1]] if dots else absolute_bases(current, roots)
    targets = [base.joinpath(*parts) if parts else base for base in bases]
    files = [(t.with_suffix(".py"), t / "__init__.py") if parts else (t / "__init__.py",) for t in targets]
    out = [ModuleFile(tuple(p for alternatives in files for p in alternatives), imp.names)]
    out += [ModuleFile(tuple(t / f"{name}.py" for t in targets), ()) for name in imp.names]
    return out


def absolute_bases(current: PurePosixPath, roots: Sequence[PurePosixPath]) -> list[PurePosixPath]:
    """Where an absolute import may start: the current file's own root (the deepest that holds it) and its src/,
    then its folders inside that root, nearest first, then the other roots and their src/ (in a multi-root
    workspace a module of the file's own project comes before a namesake in another)."""
    own = max((r for r in roots if current.is_relative_to(r)), key=lambda r: len(r.parts), default=None)
    bases = [own, own / "src"] if own is not None else []
    if own is not None:
        bases += [p for p in current.parents if p.is_relative_to(own) and p != own and p not in bases]
    bases += [b for r in roots if r != own for b in (r, r / "src") if b not in bases]
    return bases


DEF = re.compile(r"^(?:(?:async\s+def|def|class)\s+(\w+)|(\w+)\s*(?::[^=\n]*)?=(?!=))", re.MULTILINE)
"""A top-level definition: a function, a class, or an assignment (`ROUNDED: Box = Box(`, `TIMEOUT = 5`)."""


def python_definitions(module_text: str, names: Sequence[str], max_lines: int = CHUNK_LINES) -> str:
    """The top-level definitions of `names` in a module (each up to `max_lines` lines), or, without names, the
    first line of every top-level definition (what `module.` may be followed by)."""
    module_text = unix_newlines(module_text)
    lines = lsp_lines(module_text)
    starts: dict[str, int] = {}
    line_of = line_counter(module_text)
    for m in DEF.finditer(module_text):
        starts.setdefault(m.group(1) or m.group(2), line_of(m.start()))
    if not names:
        return "".join(lines[i] for i in sorted(starts.values()))
    return declarations(lines, starts, names, " \t#)", max_lines)


# --- JavaScript and TypeScript ----------------------------------------------------------------------------------
# Relative specifiers only (`./util`, `../lib/x.js`): a bare one names a package (node_modules, a path alias), not
# the project's own code at a path we can tell.

ES_KEYWORD = re.compile(r"\b(?:import|export|const|let|var)\b")
ES_FROM = re.compile(r"(?:import|export)[ \t]+(?:type[ \t]+)?(?P<clause>[^;'\"`]*?)\s*from\s*$")
"""`import a, {b as c} from` / `export {a} from` / `export * from`, up to the quote that opens the specifier (the
clause may hold comments)."""
ES_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
ES_REQUIRE = re.compile(r"(?:const|let|var|import)\s+(?P<clause>\{[^}]*\}|[\w$]+)\s*=\s*require\(\s*$")
"""`const {a, b: c} = require(` / `const m = require(` / TypeScript's `import m = require(`."""
ES_STATEMENT_CHARS = 2000
"""How far before its specifier a statement may start (a long import list over many lines)."""


def es_imports(text: str) -> list[Import]:
    """The relative imports of a JavaScript or TypeScript file, in file order: static `import`s, `export ...
    from`, and `require`. Only the places where a quote opens a relative specifier are looked at: this runs over
    the whole text on every request."""
    found: list[tuple[int, Import]] = []
    for quote in "'\"":
        at = text.find(quote + ".")
        while at >= 0:
            end = text.find(quote, at + 1)
            spec = text[at + 1 : end] if end > 0 else "\n"
            tail = text[max(0, at - 24) : at].rstrip()
            opens = tail.endswith("from") or (tail.endswith("(") and tail[:-1].rstrip().endswith("require"))
            names = _es_names(text[max(0, at - ES_STATEMENT_CHARS) : at]) if opens and "\n" not in spec else None
            if names is not None:
                found.append((at, Import(spec, names)))
            at = text.find(quote + ".", (end if names is not None else at) + 1)  # a closing quote may be before
    return [imp for _, imp in sorted(found, key=lambda f: f[0])]


def _es_names(before: str) -> tuple[str, ...] | None:
    """What the statement ending in `before` (the text up to a specifier's opening quote, which follows `from` or
    `require(`) imports: names (`default` for a default import), () for the whole module (`* as m`, `m =
    require(...)`, `__importStar(require(...))`), None when no import statement ends there."""
    starts = [m.start() for m in ES_KEYWORD.finditer(before)][-8:]
    if before.rstrip().endswith("("):
        for start in reversed(starts):
            if (m := ES_REQUIRE.match(before, start)) and m.group("clause").startswith("{"):
                return _es_listed(m.group("clause")[1:])
        return ()
    for start in reversed(starts):
        if m := ES_FROM.match(before, start):
            clause = ES_COMMENT.sub(" ", m.group("clause"))
            if "*" in clause:
                return ()
            head, _, listed = clause.partition("{")
            return ("default",) * bool(head.strip(" \t\r\n,")) + _es_listed(listed)
    return None


def _es_listed(listed: str) -> tuple[str, ...]:
    """The names of `a, b as c, type D }` or of a destructuring `a, b: c }`: ("a", "b", "D")."""
    names = []
    for item in listed.replace("}", "").split(","):
        words = re.split(r"[\s:]+", item.strip())
        if len(words) > 1 and words[0] == "type":
            words = words[1:]
        if words[0]:
            names.append(words[0])
    return tuple(names)


ES_SCRIPT = (".js", ".jsx", ".mjs", ".cjs")
ES_TYPED = (".ts", ".tsx", ".mts", ".cts")
ES_TWINS = dict(zip(ES_SCRIPT, ES_TYPED, strict=True))
"""TypeScript's ES modules name `./x.js` for the file `x.ts`."""


def es_modules(imp: Import, current: PurePosixPath, roots: Sequence[PurePosixPath]) -> list[ModuleFile]:
    """The files a relative specifier may name, as Node and TypeScript resolve it: the path as written, its
    TypeScript twin, or with each extension, then its folder's `index` (the current file's kind first)."""
    base = PurePosixPath(posixpath.normpath((current.parent / imp.module).as_posix()))
    if base.suffix in ES_SCRIPT or base.suffix in ES_TYPED:
        paths = [base, base.with_suffix(ES_TWINS[base.suffix])] if base.suffix in ES_TWINS else [base]
    else:
        typed_first = current.suffix in ES_TYPED
        extensions = (*ES_TYPED, ".d.ts", *ES_SCRIPT) if typed_first else (*ES_SCRIPT, *ES_TYPED, ".d.ts")
        paths = [PurePosixPath(f"{base}{e}") for e in extensions] + [base / f"index{e}" for e in extensions]
    return [ModuleFile(tuple(paths), imp.names)]


ES_DEF = re.compile(
    r"^(?P<export>export[ \t]+)?(?P<default>default[ \t]+)?(?:declare[ \t]+)?(?:abstract[ \t]+)?(?:async[ \t]+)?"
    r"(?:function|class|interface|type|enum|const[ \t]+enum|const|let|var|namespace)\b\*?[ \t]*(?P<name>[\w$]*)",
    re.MULTILINE,
)
"""A top-level declaration, exported or not (`export { a }` may list it further down)."""
ES_DEFAULT = re.compile(r"^export[ \t]+default\b", re.MULTILINE)


def es_definitions(module_text: str, names: Sequence[str], max_lines: int = CHUNK_LINES) -> str:
    """The top-level declarations of `names` in a module (`default`: its default export; each up to `max_lines`
    lines), or, without names, the first line of each exported declaration (of every one if none is exported)."""
    module_text = unix_newlines(module_text)
    lines = lsp_lines(module_text)
    starts: dict[str, int] = {}
    exported: list[int] = []
    line_of = line_counter(module_text)
    for m in ES_DEF.finditer(module_text):
        at = line_of(m.start())
        if m.group("name"):
            starts.setdefault(m.group("name"), at)
        if m.group("export"):
            exported.append(at)
    if (default := ES_DEFAULT.search(module_text)) is not None:
        starts.setdefault("default", module_text.count("\n", 0, default.start()))
        exported.append(starts["default"])
    if not names:
        return "".join(lines[i] for i in sorted(set(exported or starts.values())))
    return declarations(lines, starts, names, " \t})]", max_lines)


# --- Go ---------------------------------------------------------------------------------------------------------
# A Go import names a package: a folder, whose files (tests aside) are read. Its folder is found from the import
# path's tail under the workspace (`github.com/u/proj/internal/store` -> `<root>/internal/store`, the longest tail
# first), without reading go.mod; the standard library's packages are never looked for.

GO_STANDARD = frozenset({
    "archive", "bufio", "builtin", "bytes", "cmp", "compress", "container", "context", "crypto", "database",
    "debug", "embed", "encoding", "errors", "expvar", "flag", "fmt", "go", "hash", "html", "image", "index", "io",
    "iter", "log", "maps", "math", "mime", "net", "os", "path", "plugin", "reflect", "regexp", "runtime", "slices",
    "sort", "strconv", "strings", "sync", "syscall", "testing", "text", "time", "unicode", "unique", "unsafe",
    "weak", "C",
})
"""The first element of the standard library's import paths (and cgo's `C`)."""
GO_IMPORT = re.compile(r"import[ \t]*(?:\((?P<block>[^)]*)\)|(?P<one>[^\n]*))")
GO_SPEC = re.compile(r'^[ \t]*(?:(?P<name>[\w.]+)[ \t]+)?"(?P<path>[^"\n]+)"', re.MULTILINE)
GO_DECLARATIONS = ("\nfunc ", "\ntype ", "\nvar ", "\nconst ")
"""Imports come before the first of these (the Go spec's order), so only the text before it is read."""


def go_imports(text: str) -> list[Import]:
    """The packages a Go file imports (`import "p"`, `import x "p"`, `import ( ... )`), the standard library's and
    blank (`_`) ones aside; each names no names: a package is shown as its outline (what `p.` may be followed
    by)."""
    end = min((at for at in (text.find(d) for d in GO_DECLARATIONS) if at >= 0), default=len(text))
    head = text[:end]
    out: list[Import] = []
    at = head.find("import")
    while at >= 0:
        if (at == 0 or head[at - 1] == "\n") and (m := GO_IMPORT.match(head, at)):
            for spec in GO_SPEC.finditer(m.group("block") if m.group("block") is not None else m.group("one")):
                path = spec.group("path")
                if spec.group("name") != "_" and path.split("/")[0] not in GO_STANDARD:
                    out.append(Import(path, ()))
            at = head.find("import", m.end())
        else:
            at = head.find("import", at + 6)
    return out


def go_modules(imp: Import, current: PurePosixPath, roots: Sequence[PurePosixPath]) -> list[ModuleFile]:
    """The folders a package may be in: each tail of its import path (the longest first) under each root and
    the current file's folders (as for Python's absolute imports)."""
    parts = [p for p in imp.module.split("/") if p not in ("", ".", "..")]
    bases = absolute_bases(current, roots)
    return [ModuleFile(tuple(base.joinpath(*parts[k:]) for k in range(len(parts)) for base in bases), ())]


GO_DEF = re.compile(
    r"^(?:func[ \t]+(?P<func>[A-Za-z_]\w*)|(?:type|var|const)[ \t]+(?P<single>[A-Za-z_]\w*)"
    r"|(?:type|var|const)[ \t]*\((?P<group>[^)]*)\))",
    re.MULTILINE,
)
"""A top-level function (not a method: `func (r T) M` is reached through a value, not `p.`), type, variable or
constant, alone or in a group."""
GO_GROUPED = re.compile(r"^[ \t]+([A-Za-z_]\w*)", re.MULTILINE)


def go_definitions(module_text: str, names: Sequence[str], max_lines: int = CHUNK_LINES) -> str:
    """The first line of each exported top-level declaration of a package file (what `p.` may be followed by);
    with `names`, those declarations whole (each up to `max_lines` lines)."""
    module_text = unix_newlines(module_text)
    lines = lsp_lines(module_text)
    starts: dict[str, int] = {}
    line_of = line_counter(module_text)
    for m in GO_DEF.finditer(module_text):
        if m.group("group") is not None:
            for entry in GO_GROUPED.finditer(m.group("group")):
                starts.setdefault(entry.group(1), line_of(m.start("group") + entry.start(1)))
        else:
            starts.setdefault(m.group("func") or m.group("single"), line_of(m.start()))
    if not names:
        return "".join(lines[i] for i in sorted({at for name, at in starts.items() if name[:1].isupper()}))
    return declarations(lines, starts, names, " \t})", max_lines)


@dataclass(frozen=True)
class Language:
    imports: Callable[[str], list[Import]]
    """The imports a document's text makes."""
    modules: Callable[[Import, PurePosixPath, Sequence[PurePosixPath]], list[ModuleFile]]
    """The files an import may name: (import, the current file, the workspace folders)."""
    definitions: Callable[[str, Sequence[str]], str]
    """What to show of a module's text: the definitions of the names, or its outline without names."""
    package: str = ""
    """Set where a module is a folder (Go): the suffix of the files read there (its tests aside)."""


PYTHON = Language(python_imports, python_modules, python_definitions)
ECMASCRIPT = Language(es_imports, es_modules, es_definitions)
GO = Language(go_imports, go_modules, go_definitions, package=".go")
LANGUAGES: dict[str, Language] = {".py": PYTHON, **dict.fromkeys((*ES_SCRIPT, *ES_TYPED), ECMASCRIPT), ".go": GO}
"""By file suffix."""
