"""Cross-file context: the chunks, their choice within a budget, the prompt layout per family, Python imports, and
the sources (workspace folders only, .gitignore, size limit, a block stable while typing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from lsprotocol import types

from infill_ls.completion.context import Context
from infill_ls.completion.crossfile.imports import Import, ModuleFile, python_imports
from infill_ls.completion.crossfile.imports import python_definitions as definitions
from infill_ls.completion.crossfile.imports import python_modules as module_paths
from infill_ls.completion.crossfile.selection import Candidate, Snippet, chunks, header_block, select
from infill_ls.completion.crossfile.sources import CrossFileSources, StaleBlock
from infill_ls.completion.prompt import Budget, CrossFileBlock, build_prompt
from infill_ls.config import ContextSettings
from infill_ls.models import FimTokens, Layout

PRE, SUF, MID, END, REPO, SEP, BOS = -1, -2, -3, -4, -5, -6, -7


class Words:
    """Words, whitespace runs and single other characters as tokens; ids in order of first sight."""

    PIECE = re.compile(r"\w+|\s+|[^\w\s]")

    def __init__(self, fim: FimTokens, bos: int | None = None) -> None:
        self.fim, self.bos, self.add_bos = fim, bos, bos is not None
        self.ids: dict[str, int] = {}
        self.texts: dict[int, str] = {}

    def tokenize(self, text: str) -> list[int]:
        out = []
        for piece in self.PIECE.findall(text):
            i = self.ids.setdefault(piece, len(self.ids))
            self.texts[i] = piece
            out.append(i)
        return out

    def tokenize_infill(self, text: str) -> list[int]:
        return self.tokenize(text)

    def render(self, ids: tuple[int, ...]) -> str:
        names = {PRE: "<PRE>", SUF: "<SUF>", MID: "<MID>", REPO: "<REPO>", SEP: "<SEP>", BOS: "<s>"}
        return "".join(names.get(i) or self.texts[i] for i in ids)


CODELLAMA = FimTokens("codellama", PRE, SUF, MID, frozenset({END}), True)
QWEN = FimTokens("qwen2.5-coder", PRE, SUF, MID, frozenset({END}), False, REPO, SEP)
STARCODER = FimTokens("starcoder", PRE, SUF, MID, frozenset({END}), True, REPO, SEP)
NONE = FimTokens(None, None, None, None, frozenset(), False)
EXTRA = CrossFileBlock((Snippet("util.py", "def helper(x):\n    return x\n", "open"),), "app/main.py", "proj")
CTX = Context("import util\nprint(", ")\n")


@pytest.mark.parametrize(
    ("fim", "layout", "bos", "expected"),
    [
        pytest.param(CODELLAMA, Layout.SPM, BOS,
                     "<s><PRE><SUF>)\n<MID># util.py\ndef helper(x):\n    return x\n# app/main.py\nimport util\nprint(",
                     id="codellama-spm: path comments before the prefix, after the suffix"),
        pytest.param(CODELLAMA, Layout.PSM, BOS,
                     "<s><PRE># util.py\ndef helper(x):\n    return x\n# app/main.py\nimport util\nprint(<SUF>)\n<MID>",
                     id="codellama-psm"),
        pytest.param(QWEN, Layout.PSM, None,
                     "<REPO>proj\n<SEP>util.py\ndef helper(x):\n    return x\n<SEP>app/main.py\n"
                     "<PRE>import util\nprint(<SUF>)\n<MID>", id="qwen: repository-level tokens first"),
        pytest.param(STARCODER, Layout.SPM, None,
                     "<REPO>proj\n<SEP>util.py\ndef helper(x):\n    return x\n<SEP>app/main.py\n"
                     "<PRE><SUF>)\n<MID>import util\nprint(", id="starcoder-spm"),
        pytest.param(NONE, Layout.PREFIX_ONLY, BOS,
                     "<s># util.py\ndef helper(x):\n    return x\n# app/main.py\nimport util\nprint(",
                     id="prefix-only (SmolLM2)"),
    ],
)
def test_prompt_layout_per_family(fim: FimTokens, layout: Layout, bos: int | None, expected: str) -> None:
    tok = Words(fim, bos)
    prompt = build_prompt(CTX, tok, layout, Budget(), EXTRA)
    assert tok.render(prompt.tokens) == expected


def test_no_snippets_no_block() -> None:
    tok = Words(QWEN)
    assert tok.render(build_prompt(CTX, tok, Layout.PSM, Budget(), CrossFileBlock((), "a.py", "p")).tokens) == \
        "<PRE>import util\nprint(<SUF>)\n<MID>"


def test_special_text_in_a_snippet_stays_text() -> None:
    """A snippet that holds a FIM token's text is tokenized as text (the tokenizer never parses specials)."""
    tok = Words(CODELLAMA)
    extra = CrossFileBlock((Snippet("x.py", "s = '<PRE>'\n", "open"),), "y.py", "p")
    ids = build_prompt(CTX, tok, Layout.SPM, Budget(), extra).tokens
    assert ids.count(PRE) == 1


def test_typing_keeps_the_prompt_start() -> None:
    """With the block on, a keystroke only appends to the suffix-first prompt."""
    tok = Words(CODELLAMA)
    before = build_prompt(Context("import util\nprint(he", ")\n"), tok, Layout.SPM, Budget(), EXTRA).tokens
    after = build_prompt(Context("import util\nprint(hel", ")\n"), tok, Layout.SPM, Budget(), EXTRA).tokens
    common = next(i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b)
    assert len(after) - common <= 2


def test_the_block_shrinks_the_windows_to_fit() -> None:
    tok = Words(CODELLAMA)
    big = CrossFileBlock((Snippet("u.py", "word " * 300, "open"),), "m.py", "p")
    prompt = build_prompt(Context("x = 1\n" * 400, ""), tok, Layout.SPM, Budget(context_size=900, max_tokens=20), big)
    assert len(prompt.tokens) <= 900 - 20


@pytest.mark.parametrize(
    ("path", "mark"),
    [("a/b.py", "#"), ("main.go", "//"), ("x.lua", "--"), ("Makefile", "//"), ("s.rs", "//"), ("c.el", ";;")],
)
def test_header_comment_per_language(path: str, mark: str) -> None:
    assert header_block([Snippet("o.txt", "t\n", "open")], path) == f"{mark} o.txt\nt\n{mark} {path}\n"


def test_chunks_sit_on_the_file_grid() -> None:
    text = "".join(f"line {i}\n" for i in range(60))
    whole = chunks(Candidate("f.py", text, "open"), lines=24)
    assert [c.text.splitlines()[0] for c in whole] == ["line 0", "line 24", "line 48"]
    region = chunks(Candidate("f.py", "".join(f"line {i}\n" for i in range(20, 50)), "edit", first_line=20), 24)
    assert [c.text.splitlines()[0] for c in region] == ["line 20", "line 24", "line 48"]


def test_select_ranks_by_shared_names_best_last_and_keeps_the_budget() -> None:
    other = Candidate("geo.py", "def area(radius):\n    return radius\n" + "\n" * 30 + "def volume(side):\n", "open")
    near = "r = area(radius=2)"
    picked = select([other], near, budget=100, count=len)
    assert [s.text.splitlines()[0] for s in picked] == ["def area(radius):"]
    assert select([other], near, budget=5, count=len) == ()


def test_imported_definitions_are_kept_without_shared_names() -> None:
    imp = Candidate("lib.py", "def quiet():\n    pass\n", "import")
    assert [s.source for s in select([imp], "nothing here", 100, len)] == ["import"]


@pytest.mark.parametrize(
    ("source", "imports"),
    [
        pytest.param("import os, json as j\n", [Import("os", ()), Import("json", ())], id="import-list"),
        pytest.param("from .models import User, Group\n", [Import(".models", ("User", "Group"))], id="relative"),
        pytest.param("from pkg.sub import (\n    a,\n    b,\n)\n", [Import("pkg.sub", ("a", "b"))], id="parenthesised"),
        pytest.param("from x import *\n", [Import("x", ())], id="star"),
        pytest.param("def f(:\n    import broken.syntax\n", [Import("broken.syntax", ())], id="file-does-not-parse"),
        pytest.param("from a import b\nfrom c import d as e\nx = 1\n", [Import("a", ("b",)), Import("c", ("d",))],
                     id="one-from-import-a-line"),
        pytest.param("from a import (b,\n    c)\nfrom d import e\n", [Import("a", ("b", "c")), Import("d", ("e",))],
                     id="parenthesised-then-one-line"),
        pytest.param("from z import y\nimport a\nx = importlib\n    import b.c\n", [Import("a", ()), Import("b.c", ()),
                     Import("z", ("y",))], id="import-statements-first-then-from"),
        pytest.param('KEYWORDS = """\nimport\ninline\n"""\n', [], id="a-bare-word-is-not-an-import"),
    ],
)
def test_python_imports(source: str, imports: list[Import]) -> None:
    assert python_imports(source) == imports


def test_module_paths() -> None:
    current = PurePosixPath("/w/pkg/app/main.py")
    root = [PurePosixPath("/w")]
    assert module_paths(Import(".models", ("User",)), current, []) == [
        ModuleFile((PurePosixPath("/w/pkg/app/models.py"), PurePosixPath("/w/pkg/app/models/__init__.py")), ("User",)),
        ModuleFile((PurePosixPath("/w/pkg/app/models/User.py"),), ()),
    ]
    assert module_paths(Import("..util", ()), current, [])[0].paths[0] == PurePosixPath("/w/pkg/util.py")
    assert PurePosixPath("/w/src/lib/x.py") in module_paths(Import("lib.x", ()), current, root)[0].paths
    # `from . import box`: box is an attribute of the package or its submodule, read whole.
    assert module_paths(Import(".", ("box",)), current, []) == [
        ModuleFile((PurePosixPath("/w/pkg/app/__init__.py"),), ("box",)),
        ModuleFile((PurePosixPath("/w/pkg/app/box.py"),), ()),
    ]
    assert module_paths(Import("rich", ("box",)), current, root)[1] == ModuleFile(
        tuple(PurePosixPath(p) for p in ("/w/rich/box.py", "/w/src/rich/box.py", "/w/pkg/app/rich/box.py",
                                         "/w/pkg/rich/box.py")), ())


MODULE = (
    "import os\n\ndef first(a):\n    '''doc'''\n    return a\n\nclass Second:\n    x = 1\n\nY = 2\n"
    'ROUNDED: Box = Box(\n    "+-+\\n"\n)\nif Y == 2:\n    Z = 3\n'
)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(["first"], "def first(a):\n    '''doc'''\n    return a\n", id="a-function"),
        pytest.param(["Y"], "Y = 2\n", id="an-assignment"),
        pytest.param(["ROUNDED"], 'ROUNDED: Box = Box(\n    "+-+\\n"\n)\n', id="an-annotated-assignment"),
        pytest.param(["Z", "os"], "", id="not-top-level-nor-defined"),
        pytest.param([], "def first(a):\nclass Second:\nY = 2\nROUNDED: Box = Box(\n", id="outline"),
    ],
)
def test_definitions(names: list[str], expected: str) -> None:
    assert definitions(MODULE, names) == expected


# --- sources -------------------------------------------------------------------------------------------------


class Doc:
    def __init__(self, uri: str, source: str, version: int = 1) -> None:
        self.uri, self.source = uri, source
        self.version: int | None = version


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "build").mkdir(parents=True)
    (root / "geometry.py").write_text("def area(radius):\n    return 3.14 * radius ** 2\n")
    (root / "shapes").mkdir()
    (root / "shapes" / "__init__.py").write_text('"""Shapes."""\n')
    (root / "shapes" / "box.py").write_text("SQUARE = 4\n\ndef corners():\n    return SQUARE\n")
    (root / "build" / "geometry2.py").write_text("def hidden():\n    pass\n")
    (root / "big.py").write_text("def big():\n" + "    x = 1\n" * 20_000)
    (root / ".gitignore").write_text("build/\n")
    (root / "loop").symlink_to(root / "loop")
    (tmp_path / "outside.py").write_text("def secret():\n    pass\n")
    return root


@pytest.mark.parametrize(
    ("line", "source"),
    [
        pytest.param("from geometry import area\n", "import", id="in-the-workspace"),
        pytest.param("from shapes import box\n", "import", id="a-submodule-of-a-package"),
        pytest.param("from build.geometry2 import hidden\n", None, id="gitignored"),
        pytest.param("from big import big\n", None, id="over-the-size-limit"),
        pytest.param("from .. import outside\nfrom ..outside import secret\n", None, id="outside-the-workspace"),
        pytest.param("from " + "." * 40 + " import x\nfrom geometry import area\n", "import",
                     id="more-dots-than-folders"),
        pytest.param("import loop\nfrom loop import x\nfrom geometry import area\n", "import", id="a-symlink-loop"),
    ],
)
def test_imports_come_only_from_the_workspace(tmp_path: Path, line: str, source: str | None) -> None:
    root = project(tmp_path)
    uri = (root / "main.py").as_uri()
    text = line + "x = area(\n"
    extra = CrossFileSources().extra(uri, text, len(text), {uri: Doc(uri, text)}, [root], ContextSettings(maxFileKb=64))
    assert [s.source for s in extra.snippets] == ([source] if source else [])
    assert extra.path == "main.py" and extra.repo == "proj"


def test_the_block_stays_while_typing_and_changes_with_its_sources(tmp_path: Path) -> None:
    root = project(tmp_path)
    uri, other = (root / "main.py").as_uri(), (root / "shapes.py").as_uri()
    docs: dict[str, Any] = {other: Doc(other, "def square(side):\n    return side * side\n")}
    sources = CrossFileSources()
    settings = ContextSettings()
    blocks = []
    for text in ("s = square(", "s = square(1", "s = square(1)\nt = square("):
        docs[uri] = Doc(uri, text)
        blocks.append(sources.extra(uri, text, len(text), docs, [root], settings))
    assert blocks[0] is blocks[1] is blocks[2]
    assert [s.path for s in blocks[0].snippets] == ["shapes.py"]
    docs[other] = Doc(other, "def square(side):\n    return side ** 2\n", version=2)
    sources.edited(other, [types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(1, 0), types.Position(1, 22)), text="    return side ** 2")])
    changed = sources.extra(uri, "s = square(", 11, docs, [root], settings)
    assert changed is not blocks[0] and "side ** 2" in "".join(s.text for s in changed.snippets)


@pytest.mark.parametrize(
    "settings",
    [ContextSettings(enable=False), ContextSettings(budgetTokens=0), ContextSettings(openDocuments=False,
                                                                                   recentEdits=False)],
    ids=["off", "no-budget", "no-open-documents"],
)
def test_switches(tmp_path: Path, settings: ContextSettings) -> None:
    root = project(tmp_path)
    uri, other = (root / "main.py").as_uri(), (root / "shapes.py").as_uri()
    docs: dict[str, Any] = {uri: Doc(uri, "s = square("), other: Doc(other, "def square(side):\n    pass\n")}
    assert CrossFileSources().extra(uri, "s = square(", 11, docs, [root], settings).snippets == ()


def test_a_block_larger_than_estimated_is_cut_to_fit() -> None:
    """The chunks are chosen by an estimate of their tokens; a block that turns out larger than half the room
    loses its weakest chunks (the first ones) until it fits, so the prompt always fits the context."""
    tok = Words(CODELLAMA)
    snippets = tuple(Snippet(f"f{k}.py", " ".join(f"w{k}_{i}" for i in range(150)) + "\n", "open") for k in range(4))
    prompt = build_prompt(Context("x = 1\n" * 200, "y\n" * 50), tok, Layout.SPM,
                          Budget(context_size=1024, max_tokens=64), CrossFileBlock(snippets, "m.py", "p"))
    text = tok.render(prompt.tokens)
    assert len(prompt.tokens) <= 1024 - 64
    assert "f3.py" in text and "f0.py" not in text


@pytest.mark.parametrize(
    ("modules", "folders"),
    [
        pytest.param(1, 1, id="one-import-one-folder"),
        pytest.param(8, 1, id="eight-imports-one-folder"),
        pytest.param(8, 3, id="eight-imports-three-folders"),
    ],
)
def test_the_folders_are_resolved_once_per_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modules: int, folders: int
) -> None:
    """Review of issue 14: `_readable` resolved every workspace folder again for each import candidate."""
    roots = [project(tmp_path)] + [tmp_path / f"other{k}" for k in range(1, folders)]
    for root in roots[1:]:
        root.mkdir()
    for k in range(modules):
        (roots[0] / f"mod{k}.py").write_text(f"def f{k}():\n    pass\n")
    text = "".join(f"from mod{k} import f{k}\n" for k in range(modules)) + "x = f0(\n"
    uri = (roots[0] / "main.py").as_uri()
    resolved: list[Path] = []
    real_resolve = Path.resolve

    def counting(self: Path, strict: bool = False) -> Path:
        if self in roots:
            resolved.append(self)
        return real_resolve(self, strict)

    monkeypatch.setattr(Path, "resolve", counting)
    extra = CrossFileSources().extra(uri, text, len(text), {uri: Doc(uri, text)}, roots, ContextSettings())
    assert [s.source for s in extra.snippets] == ["import"] * modules
    assert sorted(resolved) == sorted(roots)


@pytest.mark.parametrize(
    ("files", "folder", "line", "source"),
    [
        pytest.param({"lib/.gitignore": "hidden.py\n"}, "", "from lib.hidden import f\n", None,
                     id="a-nested-gitignore"),
        pytest.param({"lib/.gitignore": "*.py\n!shown.py\n"}, "", "from lib.shown import f\n", "import",
                     id="a-nested-negation"),
        pytest.param({".gitignore": "secret*.py\n", "lib/.gitignore": "!secret_ok.py\n"}, "",
                     "from lib.secret_ok import f\n", "import", id="a-deeper-file-re-includes"),
        pytest.param({".gitignore": "lib/\n", "lib/.gitignore": "!shown.py\n"}, "", "from lib.shown import f\n", None,
                     id="nothing-under-an-ignored-directory-comes-back"),
        pytest.param({"lib/.gitignore": "out/\n"}, "", "from lib.out.gen import f\n", None,
                     id="a-nested-directory-rule"),
        pytest.param({".git/info/exclude": "local.py\n"}, "", "from local import f\n", None,
                     id="info-exclude"),
        pytest.param({".git/info/exclude": "local.py\n", ".gitignore": "!local.py\n"}, "", "from local import f\n",
                     "import", id="gitignore-over-info-exclude"),
        pytest.param({".gitignore": "app/gen/\n"}, "app", "from gen.models import f\n", None,
                     id="the-repository-root-above-the-workspace-folder"),
        pytest.param({"lib/.gitignore": "hidden.py\n"}, "", "from lib.shown import f\n", "import",
                     id="a-file-no-rule-names"),
    ],
)
def test_gitignore_rules_as_git_reads_them(
    tmp_path: Path, files: dict[str, str], folder: str, line: str, source: str | None
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git" / "info").mkdir(parents=True)
    for name in ("lib/hidden.py", "lib/shown.py", "lib/secret_ok.py", "lib/out/gen.py", "local.py",
                 "app/gen/models.py"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("def f():\n    pass\n")
    for name, text in files.items():
        (repo / name).write_text(text)
    root = repo / folder
    uri = (root / "main.py").as_uri()
    text = line + "x = f(\n"
    extra = CrossFileSources().extra(uri, text, len(text), {uri: Doc(uri, text)}, [root], ContextSettings())
    assert [s.source for s in extra.snippets] == ([source] if source else [])


@pytest.mark.parametrize(
    ("current", "line", "shown"),
    [
        pytest.param("main.py", "from util import f\n", "util.py", id="at-the-root"),
        pytest.param("src/pkg/main.py", "from pkg.util import f\n", "src/pkg/util.py", id="a-src-layout"),
        pytest.param("packages/foo/src/foo/main.py", "from foo.util import f\n", "packages/foo/src/foo/util.py",
                     id="a-monorepo-package"),
        pytest.param("packages/foo/src/foo/main.py", "from util import f\n", "util.py",
                     id="the-root-comes-first"),
        pytest.param("tools/run.py", "from helpers import f\n", "tools/helpers.py", id="a-script-folder"),
    ],
)
def test_where_an_absolute_import_is_found(tmp_path: Path, current: str, line: str, shown: str) -> None:
    root = tmp_path / "repo"
    for name in ("util.py", "src/pkg/util.py", "packages/foo/src/foo/util.py", "tools/helpers.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("def f():\n    pass\n")
    uri = (root / current).as_uri()
    text = line + "x = f(\n"
    extra = CrossFileSources().extra(uri, text, len(text), {uri: Doc(uri, text)}, [root], ContextSettings())
    assert [(s.source, s.path) for s in extra.snippets] == [("import", shown)]


def test_a_defect_in_the_context_costs_the_block_not_the_completion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = project(tmp_path)
    uri = (root / "main.py").as_uri()
    text = "from geometry import area\nx = area(\n"
    sources = CrossFileSources()

    def broken(*args: Any) -> Any:
        raise IndexError("a defect")

    monkeypatch.setattr(sources, "_candidates", broken)
    for _ in range(3):
        assert sources.extra(uri, text, len(text), {uri: Doc(uri, text)}, [root], ContextSettings()).snippets == ()
    assert [r.levelname for r in caplog.records if "no context" in r.getMessage()] == ["ERROR"]
    monkeypatch.undo()
    assert [s.source for s in sources.extra(uri, text, len(text), {uri: Doc(uri, text)}, [root],
                                            ContextSettings()).snippets] == ["import"]


@pytest.mark.parametrize(
    ("current", "shown"),
    [
        pytest.param("b/main.py", "shop.py", id="the-second-root"),
        pytest.param("a/main.py", "shop.py", id="the-first-root"),
        pytest.param("b/inner/main.py", "inner/shop.py", id="a-root-inside-another"),
    ],
)
def test_an_import_resolves_in_its_own_root_first(tmp_path: Path, current: str, shown: str) -> None:
    """Issue 21: in a multi-root workspace each root has a `shop.py`; the file's own root lends it, whatever the
    order of the folders."""
    for root in ("a", "b", "b/inner"):
        (tmp_path / root).mkdir(parents=True, exist_ok=True)
        (tmp_path / root / "shop.py").write_text(f"def total():\n    return '{root}'\n")
    roots = [tmp_path / "a", tmp_path / "b", tmp_path / "b" / "inner"]
    uri = (tmp_path / current).as_uri()
    text = "from shop import total\nx = total(\n"
    extra = CrossFileSources().extra(uri, text, len(text), {uri: Doc(uri, text)}, roots, ContextSettings())
    owner = str(PurePosixPath(current).parent)
    assert [(s.path, s.text) for s in extra.snippets] == [(shown, f"def total():\n    return '{owner}'\n")]


@pytest.mark.parametrize(
    ("language", "files", "text", "change"),
    [
        pytest.param("python", {"geometry.py": "def area(radius):\n    return 3.14 * radius ** 2\n"},
                     "from geometry import area\nx = area(\n",
                     {"geometry.py": "def area(radius, scale):\n    return scale * radius ** 2\n"}, id="python"),
        pytest.param("go", {"go.mod": "module example.com/app\n", "store/a.go": "package store\n\nfunc Open() {}\n"},
                     'package main\n\nimport "example.com/app/store"\n\nfunc main() {\n\tstore.\n',
                     {"store/b.go": "package store\n\nfunc Close() {}\n"}, id="go-a-file-added-to-the-package"),
        pytest.param("typescript", {"util.ts": "export function area(r: number) {\n  return r\n}\n"},
                     "import { area } from './util'\nconst x = area(\n",
                     {"util.ts": "export function area(r: number, scale: number) {\n  return r * scale\n}\n"},
                     id="typescript"),
    ],
)
def test_a_file_changed_on_disk_rebuilds_the_block(
    tmp_path: Path, language: str, files: dict[str, str], text: str, change: dict[str, str]
) -> None:
    """Issue 21: an imported file changed outside the editor lent its old definitions for as long as the block's
    key held (the same imports, the same region)."""
    root = tmp_path / "proj"
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    main = {"python": "main.py", "go": "cmd/main.go", "typescript": "main.ts"}[language]
    uri = (root / main).as_uri()
    sources = CrossFileSources()

    def block() -> str:
        extra = sources.extra(uri, text, len(text), {uri: Doc(uri, text)}, [root], ContextSettings())
        return "".join(s.text for s in extra.snippets)

    before = block()
    assert block() == before  # unchanged files: the same block
    for name, content in change.items():
        (root / name).write_text(content)
    after = block()
    new_line = next(line for line in change[next(iter(change))].splitlines() if "(" in line)
    assert new_line in after and new_line not in before, (before, after)


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param({".gitignore": "geometry.py\n"}, id="a-gitignore-written"),
        pytest.param({"lib/.gitignore": "geometry.py\n"}, id="a-nested-gitignore-made"),
        pytest.param({".git/info/exclude": "lib/\n"}, id="info-exclude"),
    ],
)
def test_a_file_ignored_after_it_was_read_leaves_the_block(tmp_path: Path, rules: dict[str, str]) -> None:
    """Issue 21: a block reused while its key held kept a file that a `.gitignore` written since ignores."""
    root = tmp_path / "proj"
    (root / ".git" / "info").mkdir(parents=True)
    (root / ".gitignore").write_text("*.log\n")
    (root / "lib").mkdir()
    (root / "lib" / "geometry.py").write_text("def area(radius):\n    return 3.14 * radius ** 2\n")
    uri = (root / "main.py").as_uri()
    text = "from lib.geometry import area\nx = area(\n"
    sources = CrossFileSources()

    def shown() -> list[str]:
        extra = sources.extra(uri, text, len(text), {uri: Doc(uri, text)}, [root], ContextSettings())
        return [s.path for s in extra.snippets]

    assert shown() == ["lib/geometry.py"]
    for name, content in rules.items():
        (root / name).write_text(content)
    assert shown() == []


def test_an_edited_region_counts_the_protocols_lines(tmp_path: Path) -> None:
    """An edit's lines are the client's (a form feed is no line break): the region around them is those lines."""
    root = project(tmp_path)
    uri, other = (root / "main.py").as_uri(), (root / "notes.py").as_uri()
    source = "".join(f"# {k}\f\n" for k in range(20)) + "def edited_here():\n    pass\n"
    docs: dict[str, Any] = {other: Doc(other, source)}
    sources = CrossFileSources()
    sources.edited(other, [types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(20, 0), types.Position(20, 0)), text="def edited_here():")])
    text = "x = edited_here(\n"
    docs[uri] = Doc(uri, text)
    extra = sources.extra(uri, text, len(text), docs, [root], ContextSettings(openDocuments=False))
    assert [s.text for s in extra.snippets if s.source == "edit"] == [
        "".join(f"# {k}\f\n" for k in range(14, 20)) + "def edited_here():\n    pass\n"]


# --- a block made stale elsewhere (issue 24: a switch back resumes the kept KV state) -------------------------


def edit_shapes(docs: dict[str, Any], sources: CrossFileSources, other: str) -> None:
    docs[other] = Doc(other, "def square(side):\n    return side ** 2\n", version=2)
    sources.edited(other, [types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(1, 0), types.Position(1, 22)), text="    return side ** 2")])


ELSEWHERE: dict[str, Callable[[dict[str, Any], CrossFileSources, str], None]] = {
    "another-opened": lambda docs, sources, other: docs.update({other: Doc(other, "def square(s):\n    pass\n")}),
    "another-edited": edit_shapes,
    "another-closed": lambda docs, sources, other: docs.pop(other),
}


@pytest.mark.parametrize(
    ("event", "stale", "rebuilt"),
    [
        pytest.param(event, stale, stale == "rebuild", id=f"{event}-{stale}")
        for event in ELSEWHERE for stale in ("rebuild", "keep")
    ],
)
def test_what_other_documents_do_makes_a_block_stale(
    tmp_path: Path, event: str, stale: StaleBlock, rebuilt: bool
) -> None:
    """Another document opened, edited or closed: a client that tells where the user rests keeps the block (and
    with it the file's KV state); one that never tells gets it rebuilt at once."""
    root = project(tmp_path)
    uri, other = (root / "main.py").as_uri(), (root / "shapes.py").as_uri()
    text = "s = square("
    docs: dict[str, Any] = {uri: Doc(uri, text)}
    if event != "another-opened":
        docs[other] = Doc(other, "def square(side):\n    return side * side\n")
    sources = CrossFileSources()
    first = sources.extra(uri, text, len(text), docs, [root], ContextSettings())
    ELSEWHERE[event](docs, sources, other)
    again = sources.extra(uri, text, len(text), docs, [root], ContextSettings(), stale)
    assert (again is not first) == rebuilt
    assert again == sources.extra(uri, text, len(text), docs, [root], ContextSettings(), "rebuild" if rebuilt else
                                  "keep")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        pytest.param(lambda text: "from geometry import area\n" + text, "its imports", id="own-imports"),
        pytest.param(lambda text: "\n" * 200 + text, "the cursor's region", id="own-region"),
    ],
)
def test_what_the_document_does_rebuilds_a_kept_block(tmp_path: Path, change: Callable[[str], str], why: str) -> None:
    root = project(tmp_path)
    uri, other = (root / "main.py").as_uri(), (root / "shapes.py").as_uri()
    text = "s = square("
    docs: dict[str, Any] = {uri: Doc(uri, text), other: Doc(other, "def square(side):\n    pass\n")}
    sources = CrossFileSources()
    first = sources.extra(uri, text, len(text), docs, [root], ContextSettings())
    changed = change(text)
    assert sources.extra(uri, changed, len(changed), docs, [root], ContextSettings(), "keep") is not first, why


def test_a_warm_up_builds_the_successor_and_it_is_in_force_once_adopted(tmp_path: Path) -> None:
    root = project(tmp_path)
    uri, other = (root / "main.py").as_uri(), (root / "shapes.py").as_uri()
    text = "s = square("
    docs: dict[str, Any] = {uri: Doc(uri, text), other: Doc(other, "def square(side):\n    return side * side\n")}
    sources = CrossFileSources()
    args = (uri, text, len(text), docs, [root], ContextSettings())
    first = sources.extra(*args)
    edit_shapes(docs, sources, other)
    successor = sources.extra(*args, "pending")
    assert successor != first and "side ** 2" in "".join(s.text for s in successor.snippets)
    assert sources.extra(*args, "pending") is successor  # built once
    assert sources.extra(*args, "keep") is first  # requests keep the block in force meanwhile
    assert not sources.adopt(uri, first)  # only the block the warm-up evaluated
    assert sources.adopt(uri, successor)
    assert sources.extra(*args, "keep") is successor
    assert not sources.adopt(uri, successor)  # nothing pending any more


def test_a_warm_up_elsewhere_in_the_file_never_replaces_the_block_in_force(tmp_path: Path) -> None:
    """A warm-up where the user rests in another region of the file (a focus at the top: Neovim's on entering it, before
    it waited for the cursor): cut short by the next request or finished, the block in force, whose KV state the file
    kept, is still the one a request in its region gets. A request where the warm-up was gets the block the warm-up
    evaluated (built again: what the document does rebuilds a block)."""
    root = project(tmp_path)
    uri, other = (root / "main.py").as_uri(), (root / "shapes.py").as_uri()
    text = "s = square(\n" + "\n" * 200 + "t = square("
    docs: dict[str, Any] = {uri: Doc(uri, text), other: Doc(other, "def square(side):\n    return side * side\n")}
    sources = CrossFileSources()
    in_force = sources.extra(uri, text, len(text), docs, [root], ContextSettings())
    edit_shapes(docs, sources, other)  # stale: kept while the client tells focus
    at_the_top = sources.extra(uri, text, 3, docs, [root], ContextSettings(), "pending")
    assert sources.extra(uri, text, len(text), docs, [root], ContextSettings(), "keep") is in_force
    assert not sources.adopt(uri, at_the_top)  # the warm-up evaluated it: it serves the top, not the region in force
    assert sources.extra(uri, text, len(text), docs, [root], ContextSettings(), "keep") is in_force
    assert sources.extra(uri, text, 3, docs, [root], ContextSettings(), "keep") == at_the_top
