"""What the cursor needs from another file, and the lines that tell it. Pure functions.

The block of snippets ranks other files' chunks by the words they share with the text near the cursor; that
finds related code, not the fact the next token needs. The cursor's own line often says exactly what it needs:

- after `name.` (`box.`, `Segment.li`): what `name` holds; for an imported module its outline (the first line of
  each public top-level definition), for an imported class its members (the first line of each);
- inside the brackets of a call (`Text(`, `box.get_row(`): the callee's signature (its definition's header).

`need_at` reads the need from the line; `Binding` says what an imported name stands for (a module's text, or a
name defined in it); `focus` gives the lines to show (`Focus`). Where they go is the prompt's concern
(prompt.py): for every family the focus is the most relevant snippet of the block (shown last), and for the
prefix-only path its lines also stand as comments just above the cursor's line, where a small model uses them.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ...lines import lsp_lines, unix_newlines

NAME = re.compile(r"[A-Za-z_$][\w$]*")
ATTRIBUTE = re.compile(r"(?<![\w$.])([A-Za-z_$][\w$]*)\.([\w$]*)$")
"""`name.` or `name.par` at the end of the line's text before the cursor (not `a.b.`: only a name stands for an
import)."""
CALLEE = re.compile(r"(?:(?<![\w$.])([A-Za-z_$][\w$]*)\.)?([A-Za-z_$][\w$]*)\s*$")
"""The callee before an opening bracket: `name` or `qualifier.name`."""
USED = re.compile(r"(?<![\w$.])([A-Za-z_$][\w$]*)[ \t]*([.(])")
"""A name used as `name.` or `name(` (not after a dot)."""
OPENERS, CLOSERS = "([{", ")]}"
NEAR_NAMES = 48
"""Names at most in the lines shown near the cursor (a module of 300 definitions shows its first ones)."""
NEAR_WIDTH = 100
"""Characters a line of names shown near the cursor runs to, at most."""
SIGNATURE_LINES = 4
"""Lines of a definition's header at most (a signature over several lines)."""

PY_DEF = re.compile(r"^(?:async[ \t]+def|def|class)[ \t]+(\w+)|^(\w+)[ \t]*(?::[^=\n]*)?=(?!=)")
"""A definition at the start of a (dedented) Python line: a function, a class, or an assignment."""
DECLARED = re.compile(
    r"(?:function\*?|class|interface|type|enum|const|let|var|namespace|func)[ \t]+\*?[ \t]*([A-Za-z_$][\w$]*)")
"""The declared name in an outline line of another language (JavaScript, TypeScript, Go)."""


@dataclass(frozen=True)
class Need:
    kind: str
    """`attr`: after `name.`; `call`: inside the brackets of a call of `name` (`qualifier.name(`)."""
    name: str
    qualifier: str = ""

    @property
    def local(self) -> str:
        """The name the current file binds (looked up among its imports)."""
        return self.qualifier or self.name


@dataclass(frozen=True)
class Binding:
    """What an imported name stands for: a module (`name` empty: its outline is what `local.` may be followed by)
    or a definition in it."""

    path: str
    """The path the model is shown."""
    text: str
    """The module's text."""
    name: str = ""
    python: bool = True
    bases: tuple[Binding, ...] = ()
    """For a class: the bases its module imports from other modules, each bound to its module's text (where it
    may be read), so that what the class inherits is known."""


@dataclass(frozen=True)
class Focus:
    """The lines the cursor needs, from one file."""

    path: str
    code: str
    """The lines as they stand in their file (first lines of definitions, or a header): the block's snippet."""
    names: tuple[str, ...] = ()
    """For an outline or members: the names, in file order (`code` has a line for each)."""
    qualifier: str = ""
    """How the current file names what holds them (`box`, `Segment`); empty for a signature."""
    choices: tuple[str, ...] = ()
    """Every name that may follow the dot, where the file tells them all (`choices`): the generation is held to
    them (monitor-guided decoding), and they are not shown near the cursor."""

    def near(self, mark: str) -> str:
        """The focus as comment lines for just above the cursor's line (`mark`: the file's line comment): names
        written as the code writes them (`box.ROUNDED, box.SQUARE`), or the signature's lines."""
        if not self.names:
            return "".join(f"{mark} {line}\n" for line in self.code.rstrip("\n").split("\n"))
        lines, line = [], ""
        for name in self.names[:NEAR_NAMES]:
            word = f"{self.qualifier}.{name}" if self.qualifier else name
            if line and len(line) + len(word) + 2 > NEAR_WIDTH:
                lines.append(line + ",")
                line = ""
            line = f"{line}, {word}" if line else word
        lines.append(line)
        return "".join(f"{mark} {text}\n" for text in lines)


def need_at(line_prefix: str) -> Need | None:
    """What the cursor needs, read from its line up to the cursor: after `name.` (a partial word after the dot
    allowed) what `name` holds; else inside the innermost bracket left open on the line, when it is a call's, the
    callee's signature; else nothing."""
    if m := ATTRIBUTE.search(line_prefix):
        return Need("attr", m.group(1))
    opened = open_bracket(line_prefix)
    if opened is None or line_prefix[opened] != "(":
        return None
    if m := CALLEE.search(line_prefix, 0, opened):
        return Need("call", m.group(2), m.group(1) or "")
    return None


def needs_in(text: str) -> list[Need]:
    """Every need the code in `text` shows (`name.` and `name(`, each once, in order): what the lines around the
    cursor use, for ranking the block when it is built."""
    found: dict[Need, None] = {}
    for m in USED.finditer(text):
        need = Need("attr", m.group(1)) if m.group(2) == "." else Need("call", m.group(1))
        found.setdefault(need)
    return list(found)


def open_bracket(line: str) -> int | None:
    """The index of the innermost bracket `line` leaves open (brackets inside quotes do not count), or None."""
    stack: list[int] = []
    quote = ""
    escaped = False
    for i, ch in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in OPENERS:
            stack.append(i)
        elif ch in CLOSERS and stack:
            stack.pop()
        elif ch == "#" and not stack:
            return None  # a comment (Python's; elsewhere `#` before a bracket is rare)
    return stack[-1] if stack else None


def focus(need: Need, binding: Binding) -> Focus | None:
    """The lines `need` calls for from what its name is bound to, or None when that file does not tell."""
    lines = lsp_lines(unix_newlines(binding.text))
    if not binding.name:  # a module
        if need.kind == "attr":
            entries = outline(lines, binding.python, binding.path.endswith(".go"))
            return Focus(binding.path, "".join(line for _, line in entries), tuple(n for n, _ in entries),
                         need.name) if entries else None
        return signature(binding.path, lines, need.name, binding.python)  # `module.callee(`
    if need.kind == "attr" and binding.python:
        entries = members(lines, binding.name)
        return Focus(binding.path, "".join(line for _, line in entries), tuple(n for n, _ in entries),
                     need.name) if entries else None
    if need.kind == "call" and not need.qualifier:
        return signature(binding.path, lines, binding.name, binding.python)
    if need.kind == "call" and binding.python:  # `Class.method(`
        start = definition_line(lines, binding.name, 0, binding.python)
        return None if start is None else signature(binding.path, lines, need.name, True, start + 1)
    return None


def public(name: str) -> bool:
    return not name.startswith("_")


def outline(lines: Sequence[str], python: bool, go: bool = False) -> list[tuple[str, str]]:
    """(name, first line) of each public top-level definition, in file order, each name once (in Go, the exported
    ones: a capital first letter)."""
    out: dict[str, str] = {}
    for line in lines:
        if python:
            m = PY_DEF.match(line)
            name = (m.group(1) or m.group(2)) if m else ""
        else:
            m = DECLARED.search(line) if line[:1].strip() else None
            name = m.group(1) if m else ""
        if name and public(name) and name not in out and (name[:1].isupper() or not go):
            out[name] = line if line.endswith("\n") else line + "\n"
    return list(out.items())


def definition_line(lines: Sequence[str], name: str, start: int = 0, python: bool = True,
                    indent: str = "") -> int | None:
    """The line where `name` is defined at indentation `indent`, from line `start`."""
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.startswith(indent) or line[len(indent):][:1].isspace():
            continue
        body = line[len(indent):]
        if python:
            m = PY_DEF.match(body)
            if m and (m.group(1) or m.group(2)) == name:
                return i
        elif (m := DECLARED.search(body)) and m.group(1) == name:
            return i
    return None


def members(lines: Sequence[str], cls: str) -> list[tuple[str, str]]:
    """(name, first line) of each public member a Python class defines in its body (methods, class attributes;
    dunders and private names left out), in file order."""
    start = definition_line(lines, cls)
    if start is None or not lines[start].lstrip().startswith("class"):
        return []
    out: dict[str, str] = {}
    indent = None
    for line in lines[start + 1:]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        ws = line[: len(line) - len(line.lstrip())]
        if not ws:
            break  # the class ended
        if indent is None:
            indent = ws
        if ws != indent:
            continue
        body = line[len(ws):]
        if body.startswith("@"):
            continue
        m = PY_DEF.match(body)
        name = (m.group(1) or m.group(2)) if m else ""
        if name and public(name) and name not in out:
            out[name] = line if line.endswith("\n") else line + "\n"
    return list(out.items())


def signature(path: str, lines: Sequence[str], name: str, python: bool, start: int = 0) -> Focus | None:
    """The header of `name`'s definition (from line `start`, at any indentation for a method): its lines up to the
    one that ends it (`:` for Python, an opening brace or the line's end elsewhere), at most SIGNATURE_LINES."""
    at = None
    for i in range(start, len(lines)):
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        found = definition_line(lines[i:i + 1], name, 0, python, indent)
        if found is not None:
            at = i
            break
        if start and lines[i].strip() and not indent:
            return None  # the class ended before a member of that name
    if at is None:
        return None
    header = []
    block = lines[at].lstrip().startswith(("def", "async", "class")) if python else True
    for line in lines[at: at + SIGNATURE_LINES]:
        header.append(line if line.endswith("\n") else line + "\n")
        code = line.split("#")[0].rstrip() if python else line.rstrip()
        if not block or (python and code.endswith(":")) or (not python and not code.endswith((",", "("))):
            break  # an assignment (`ROUNDED = Box(...)`) shows its first line
    return Focus(path, "".join(header))


# --------------------------------------------------------------------------- the names that may follow the dot

EXCEPTION_NAME = re.compile(r"(?:Error|Exception|Warning|Exit|Interrupt)$")
"""A class named like an exception (its base may be in another file)."""
RAISING = re.compile(r"(?<![\w$.])(?:raise|except)[ \t(]+(?:[\w$]+[ \t]*,[ \t]*)*[\w$]+\.[\w$]*$")
"""`raise box.`, `except errors.`, `except (a.B, errors.`: only an exception may follow."""
SIMPLE_BASES = frozenset({
    "object", "Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "NamedTuple", "ABC", "Protocol", "Generic",
    "TypedDict", "Exception", "BaseException", "ValueError", "TypeError", "KeyError", "RuntimeError",
})
"""Bases that give a class's own names nothing users reach through `Class.` (their members are dunders, or are
used on instances)."""
CLASS_LEVEL = ("classmethod", "staticmethod", "value", "class")
"""What code reaches through `Class.`: constructors and helpers on the class, constants, enum members, nested
classes. Methods and properties are reached through instances (`Class.method(self)` only from a subclass)."""


def choices(need: Need, binding: Binding, line_prefix: str, text: str = "") -> tuple[str, ...]:
    """Every name that may follow `name.` when the binding's file tells them all, filtered by what the line
    asks for; () when it cannot tell (not Python, a parse error, `import *` or a module `__getattr__`, a package's
    `__init__.py` whose submodules are names too, a class with bases in other files).

    - a module: its public top-level names (definitions, assignments, imports; inside top-level `if`/`try`
      too); after `raise`/`except` only its exception classes;
    - a class: its public class-level names (class and static methods, assignments with a value, nested
      classes) when it has any, else every public member; every member when `text` (the current file) defines
      a subclass of it."""
    if need.kind != "attr" or not binding.python or binding.path.endswith("__init__.py"):
        return ()
    if not binding.name:
        parsed = module_names(binding.text)
        if parsed is None:
            return ()
        names, exceptions = parsed
        if RAISING.search(line_prefix) and exceptions:
            return tuple(n for n in names if n in exceptions)
        return tuple(n for n in names if public(n))
    found = class_names(binding.text, binding.name, binding.bases)
    if found is None:
        return ()
    subclassed = re.search(rf"^[ \t]*class[ \t]+\w+[ \t]*\([^)]*\b{re.escape(need.name)}\b", text, re.M)
    level = [n for n, kind in found.items() if kind in CLASS_LEVEL and public(n)]
    return tuple(level if level and not subclassed else (n for n in found if public(n)))


@functools.lru_cache(maxsize=16)
def parsed(text: str) -> ast.Module | None:
    """The module's syntax tree (a file is parsed once per version), or None where it does not parse."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def script_only(node: ast.If) -> bool:
    """`if __name__ == "__main__":`: its body runs when the file is run as a script, never when it is imported,
    so it binds no name another module can reach."""
    test = node.test
    return (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and {ast.unparse(test.left), ast.unparse(test.comparators[0])} == {"__name__", "'__main__'"})


def top_level(body: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    """The statements of a module's top level as an import runs it: those inside top-level `if`/`try`/`with`
    blocks included, but for the body of `if __name__ == "__main__":` (`script_only`)."""
    for node in body:
        if isinstance(node, ast.If) and script_only(node):
            yield from top_level(node.orelse)
        elif isinstance(node, ast.If | ast.With):
            yield from top_level(node.body)
            yield from top_level(getattr(node, "orelse", ()))
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from top_level(block)
        else:
            yield node


def bound_names(node: ast.stmt) -> Iterable[tuple[str, str]]:
    """(name, kind) for each name a statement binds: kind `class`, `function`, `value` or `import`."""
    if isinstance(node, ast.ClassDef):
        yield node.name, "class"
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        yield node.name, "function"
    elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        kind = "value" if node.value is not None else "field"  # `x: int` alone binds nothing on a class
        for target in targets:
            yield from ((n.id, kind) for n in ast.walk(target) if isinstance(n, ast.Name))
    elif isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            yield (alias.asname or alias.name).split(".")[0], "import"


@functools.lru_cache(maxsize=16)
def module_names(text: str) -> tuple[dict[str, str], frozenset[str]] | None:
    """A module's top-level names (name -> kind, in file order) and its exception classes; None when names may
    come from elsewhere (`from x import *`, a module `__getattr__`) or the file does not parse. Cached per text
    (each request after a dot asks again): callers must not change the dict."""
    tree = parsed(text)
    if tree is None:
        return None
    names: dict[str, str] = {}
    bases: dict[str, list[str]] = {}
    for node in top_level(tree.body):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return None
        for name, kind in bound_names(node):
            names.setdefault(name, kind)
        if isinstance(node, ast.ClassDef):
            bases[node.name] = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
    if "__getattr__" in names:
        return None

    def raised(cls: str, seen: frozenset[str] = frozenset()) -> bool:
        return bool(EXCEPTION_NAME.search(cls)) or any(
            base not in seen and raised(base, seen | {cls}) for base in bases.get(cls, ()))

    return names, frozenset(c for c in bases if raised(c))


def classes_in(text: str) -> dict[str, ast.ClassDef]:
    tree = parsed(text)
    return {} if tree is None else {n.name: n for n in top_level(tree.body) if isinstance(n, ast.ClassDef)}


def base_name(base: ast.expr) -> str:
    """`Mixin`, `mod.Mixin` and `Generic[T]` name `Mixin`, `Mixin` and `Generic`."""
    return ast.unparse(base).split("[")[0].rsplit(".", 1)[-1]


def imported_bases(text: str, cls: str) -> list[str]:
    """The bases of the top-level class `cls` that its module does not define (nor are well known): those an
    import must tell (`Binding.bases`)."""
    classes = classes_in(text)
    node = classes.get(cls)
    if node is None:
        return []
    return [n for n in map(base_name, node.bases) if n not in SIMPLE_BASES and n not in classes]


@functools.lru_cache(maxsize=64)
def class_names(text: str, cls: str, bases: tuple[Binding, ...] = ()) -> dict[str, str] | None:
    """The names a top-level class of the module defines (name -> kind: `classmethod`, `staticmethod`,
    `method`, `property`, `value`, `field`, `class`), its bases' too, in the same module or in `bases` (other
    modules' texts, one level: their own bases must be in their module) (dunders left out); None when the class
    is not there, has a base whose names are unknown or a metaclass, or defines `__getattr__`. Cached, as
    `module_names` is (each request after a dot asks again): callers must not change the dict."""
    if parsed(text) is None:
        return None
    classes = classes_in(text)
    elsewhere = {b.name: b for b in bases}

    def names_of(name: str, seen: frozenset[str]) -> dict[str, str] | None:
        node = classes.get(name)
        if node is None or name in seen or node.keywords:
            return None
        found: dict[str, str] = {}
        for base in map(base_name, node.bases):
            if base in SIMPLE_BASES:
                continue
            imported = elsewhere.get(base) if base not in classes else None
            inherited = class_names(imported.text, base) if imported else names_of(base, seen | {name})
            if inherited is None:
                return None
            found.update(inherited)
        for item in node.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                found[item.name] = method_kind(item)
            else:
                found.update(bound_names(item))
        return found

    found = names_of(cls, frozenset())
    if found is None or "__getattr__" in found or "__getattribute__" in found:
        return None
    return {n: k for n, k in found.items() if not (n.startswith("__") and n.endswith("__"))}


def method_kind(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    decorators = {ast.unparse(d).split("(")[0].rsplit(".", 1)[-1] for d in node.decorator_list}
    if "classmethod" in decorators:
        return "classmethod"
    if "staticmethod" in decorators:
        return "staticmethod"
    return "property" if decorators & {"property", "setter", "getter", "cached_property"} else "method"


def held_to(focus: Focus | None, line_prefix: str, healed: str = "") -> tuple[str, ...]:
    """What the generation must begin with (`GenerationParams.names`) at a cursor after `name.` and maybe part
    of a name: the rest of each choice that begins with what is typed, after the healed text (the prompt's last
    token, taken back: the end of the typed part). () when nothing holds it: no choices, no choice begins with
    what is typed, or a healed text that is not the end of the typed name."""
    if focus is None or not focus.choices or not (m := re.search(r"\.([\w$]*)$", line_prefix)):
        return ()
    typed = m.group(1)
    if not typed.endswith(healed):
        return ()
    return tuple(healed + name[len(typed):] for name in focus.choices if name.startswith(typed))
