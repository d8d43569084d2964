"""The imports source for JavaScript, TypeScript and Go: the imports a file makes, the files they may name, what
is shown of them, and the whole source over a project on disk. (Python's tables are in test_crossfile.py.)"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from infill_ls.completion.crossfile.imports import (
    Import,
    es_definitions,
    es_imports,
    es_modules,
    go_definitions,
    go_imports,
    go_modules,
)
from infill_ls.completion.crossfile.sources import CrossFileSources
from infill_ls.config import ContextSettings


@pytest.mark.parametrize(
    ("source", "imports"),
    [
        pytest.param("import { a, b as c } from './util';\n", [Import("./util", ("a", "b"))], id="named"),
        pytest.param('import thing from "../lib/thing.js";\n', [Import("../lib/thing.js", ("default",))],
                     id="default-double-quotes"),
        pytest.param("import thing, { a } from './x'\n", [Import("./x", ("default", "a"))], id="default-and-named"),
        pytest.param("import * as geo from './geo'\n", [Import("./geo", ())], id="namespace"),
        pytest.param("import type { Shape } from './shape'\n", [Import("./shape", ("Shape",))], id="type-only"),
        pytest.param("import { type Shape, area } from './shape'\n", [Import("./shape", ("Shape", "area"))],
                     id="inline-type"),
        pytest.param("import {\n  first,\n  second,\n} from './many'\n", [Import("./many", ("first", "second"))],
                     id="over-several-lines"),
        pytest.param("import { importer } from './io'\n", [Import("./io", ("importer",))],
                     id="a-name-with-import-in-it"),
        pytest.param("export { a } from './a'\nexport * from './b'\n", [Import("./a", ("a",)), Import("./b", ())],
                     id="re-exports"),
        pytest.param("const { a, b: c } = require('./cjs')\n", [Import("./cjs", ("a", "b"))],
                     id="require-destructured"),
        pytest.param("const cjs = require('./cjs')\n", [Import("./cjs", ())], id="require-whole"),
        pytest.param("import fs = require('./fs')\n", [Import("./fs", ())], id="typescript-import-require"),
        pytest.param("import React from 'react'\nimport { x } from '@/alias'\n", [], id="bare-specifiers"),
        pytest.param("import './side-effect.css'\n", [], id="side-effect-only"),
        pytest.param("$('.button').hide()\nconst s = '...'\nlog(\".\")\n", [], id="strings-that-start-with-a-dot"),
        pytest.param("import { a } from './b'\nconst c = require(\"./d\")\nimport e from './f'\n",
                     [Import("./b", ("a",)), Import("./d", ()), Import("./f", ("default",))], id="file-order"),
        pytest.param("import { a } from './unterminated\n", [], id="an-unterminated-specifier"),
        pytest.param("import { // a comment\n  a, /* b, */ c,\n} from './x'\n", [Import("./x", ("a", "c"))],
                     id="comments-in-the-list"),
        pytest.param("const n = 'abc'.length\nimport { a } from './x'\n", [Import("./x", ("a",))],
                     id="a-closing-quote-before-a-dot"),
        pytest.param("const Is = __importStar(require(\"./utils/is\"))\n", [Import("./utils/is", ())],
                     id="a-wrapped-require"),
    ],
)
def test_es_imports(source: str, imports: list[Import]) -> None:
    assert es_imports(source) == imports


@pytest.mark.parametrize(
    ("current", "spec", "first", "count"),
    [
        pytest.param("/w/src/app.ts", "./util", ["/w/src/util.ts", "/w/src/util.tsx"], 18, id="typescript-first"),
        pytest.param("/w/src/app.js", "./util", ["/w/src/util.js", "/w/src/util.jsx"], 18, id="javascript-first"),
        pytest.param("/w/src/app.ts", "../lib/x.js", ["/w/lib/x.js", "/w/lib/x.ts"], 2, id="a-js-name-for-a-ts-file"),
        pytest.param("/w/src/app.ts", "./types.d.ts", ["/w/src/types.d.ts"], 1, id="an-exact-file"),
        pytest.param("/w/src/app.ts", "./components", ["/w/src/components.ts"], 18, id="a-folder-index-later"),
    ],
)
def test_es_modules(current: str, spec: str, first: list[str], count: int) -> None:
    (module,) = es_modules(Import(spec, ("a",)), PurePosixPath(current), [])
    assert [str(p) for p in module.paths[: len(first)]] == first
    assert len(module.paths) == count and module.names == ("a",)
    if count == 18:
        assert PurePosixPath(f"{first[0].rsplit('.', 1)[0]}/index.ts") in module.paths


MODULE = """import { dep } from './dep'

export function area(r: number): number {
  return Math.PI * r * r
}

export const UNIT = 'cm'

class Hidden {
  x = 1
}

export default class Shape {
  sides = 0
}

export interface Point {
  x: number
}
const letter = 'a'
export { Hidden }
"""


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(["area"], "export function area(r: number): number {\n  return Math.PI * r * r\n}\n",
                     id="a-function"),
        pytest.param(["UNIT"], "export const UNIT = 'cm'\n", id="a-constant"),
        pytest.param(["Hidden"], "class Hidden {\n  x = 1\n}\n", id="exported-further-down"),
        pytest.param(["default"], "export default class Shape {\n  sides = 0\n}\n", id="the-default-export"),
        pytest.param(["Point", "missing"], "export interface Point {\n  x: number\n}\n", id="an-interface"),
        pytest.param(["ter"], "", id="not-a-keyword-prefix"),
        pytest.param([], "export function area(r: number): number {\nexport const UNIT = 'cm'\n"
                         "export default class Shape {\nexport interface Point {\n", id="outline-exported"),
    ],
)
def test_es_definitions(names: list[str], expected: str) -> None:
    assert es_definitions(MODULE, names) == expected


def test_es_outline_without_exports() -> None:
    assert es_definitions("function a() {}\nconst b = 1\n", []) == "function a() {}\nconst b = 1\n"


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


class Doc:
    def __init__(self, uri: str, source: str) -> None:
        self.uri, self.source, self.version = uri, source, 1


@pytest.mark.parametrize(
    ("current", "line", "shown"),
    [
        pytest.param("src/app.ts", "import { area } from './geometry'\n", ["src/geometry.ts"], id="typescript"),
        pytest.param("src/app.tsx", "import Shape from './shape.js'\n", ["src/shape.ts"], id="a-js-name-for-ts"),
        pytest.param("src/app.js", "const { area } = require('./geometry')\n", ["src/geometry.js"],
                     id="commonjs-prefers-js"),
        pytest.param("src/app.ts", "import * as parts from './parts'\n", ["src/parts/index.ts"], id="a-folder"),
        pytest.param("src/app.ts", "import { secret } from '../../outside'\n", [], id="outside-the-workspace"),
        pytest.param("src/app.ts", "import { area } from 'geometry'\n", [], id="a-package"),
    ],
)
def test_the_source_for_typescript_and_javascript(
    tmp_path: Path, current: str, line: str, shown: list[str]
) -> None:
    root = tmp_path / "web"
    files = {
        "src/geometry.ts": "export function area(r: number) {\n  return r * r\n}\n",
        "src/geometry.js": "function area(r) {\n  return r * r\n}\nmodule.exports = { area }\n",
        "src/shape.ts": "export default class Shape {}\n",
        "src/parts/index.ts": "export const WHEEL = 4\n",
    }
    write_tree(root, files)
    (tmp_path / "outside.ts").write_text("export const secret = 1\n")
    uri = (root / current).as_uri()
    text = line + "const x = area(\n"
    extra = CrossFileSources().extra(uri, text, len(text), {uri: Doc(uri, text)}, [root], ContextSettings())
    assert [(s.source, s.path) for s in extra.snippets] == [("import", path) for path in shown]


# --- Go ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "paths"),
    [
        pytest.param('package main\n\nimport "example.com/app/store"\n', ["example.com/app/store"], id="one"),
        pytest.param('package main\n\nimport (\n\t"fmt"\n\tst "example.com/app/store"\n\t_ "example.com/app/db"\n'
                     '\t. "example.com/app/util"\n\t"net/http"\n)\n', ["example.com/app/store", "example.com/app/util"],
                     id="a-group-without-standard-or-blank"),
        pytest.param('package main\nimport "a.io/x"\nimport "a.io/y"\n', ["a.io/x", "a.io/y"], id="two-lines"),
        pytest.param('package main\n\nfunc main() {}\n\nvar s = `\nimport "a.io/late"\n`\n', [],
                     id="nothing-after-the-first-declaration"),
        pytest.param('package main\n\n// import "a.io/commented"\nimport "a.io/real"\n', ["a.io/real"],
                     id="a-comment-is-not-an-import"),
        pytest.param('package main\nimport (\n', [], id="half-typed"),
    ],
)
def test_go_imports(source: str, paths: list[str]) -> None:
    assert go_imports(source) == [Import(p, ()) for p in paths]


def test_go_modules() -> None:
    (module,) = go_modules(Import("example.com/app/internal/store", ()), PurePosixPath("/w/cmd/main.go"),
                           [PurePosixPath("/w")])
    assert [str(p) for p in module.paths[:2]] == ["/w/example.com/app/internal/store",
                                                  "/w/src/example.com/app/internal/store"]
    assert module.paths.index(PurePosixPath("/w/internal/store")) < module.paths.index(PurePosixPath("/w/store"))


GO_FILE = """package store

import "errors"

// Store keeps rows.
type Store struct {
\trows []Row
}

type row struct{}

const (
\tMaxRows = 100
\tminRows = 1
)

var ErrFull = errors.New("full")

func New() *Store {
\treturn &Store{}
}

func (s *Store) Add(r Row) error {
\treturn nil
}

func helper() {}
"""


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param([], "type Store struct {\n\tMaxRows = 100\nvar ErrFull = errors.New(\"full\")\n"
                         "func New() *Store {\n", id="outline-exported-no-methods"),
        pytest.param(["New"], "func New() *Store {\n\treturn &Store{}\n}\n", id="a-function"),
    ],
)
def test_go_definitions(names: list[str], expected: str) -> None:
    assert go_definitions(GO_FILE, names) == expected


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        pytest.param('import "example.com/app/internal/store"\n', ["internal/store/a.go", "internal/store/store.go"],
                     id="a-package-folder"),
        pytest.param('import "example.com/app/nothing"\n', [], id="no-such-package"),
        pytest.param('import "example.com/app/linked"\n', [], id="a-link-out-of-the-workspace"),
    ],
)
def test_the_source_for_go(tmp_path: Path, line: str, shown: list[str]) -> None:
    root = tmp_path / "app"
    files = {
        "go.mod": "module example.com/app\n",
        "internal/store/store.go": GO_FILE,
        "internal/store/a.go": "package store\n\nfunc Open(path string) (*Store, error) {\n\treturn nil, nil\n}\n",
        "internal/store/store_test.go": "package store\n\nfunc TestNew(t *testing.T) {}\n",
        "cmd/main.go": "",
    }
    write_tree(root, files)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.go").write_text("package outside\n\nfunc Secret() {}\n")
    (root / "linked").symlink_to(tmp_path / "outside")
    uri = (root / "cmd" / "main.go").as_uri()
    text = "package main\n\n" + line + "\nfunc main() {\n\ts := store.\n"
    extra = CrossFileSources().extra(uri, text, len(text), {uri: Doc(uri, text)}, [root], ContextSettings())
    assert sorted(s.path for s in extra.snippets) == shown
    assert all(s.source == "import" and "TestNew" not in s.text for s in extra.snippets)


# --- odd line breaks ----------------------------------------------------------------------------------------------
# Issue 21: a module holding a character `str.splitlines` breaks at (and LSP does not) lent no definitions or the
# wrong lines: lines were counted by `\n` and indexed by `splitlines()`. A lone `\r` is a line break (LSP's).

ODD = {"form-feed": "\f", "vertical-tab": "\v", "x1c": "\x1c", "x1d": "\x1d", "x1e": "\x1e", "next-line": "\x85",
       "line-separator": "\u2028", "paragraph-separator": "\u2029"}
BREAKS = {"crlf": "\r\n", "cr": "\r"}
MODULES = {
    # language: (the module's file, its text (`{c}`: the odd character), the importing file, its text, what is
    # shown of the module)
    "python": ("shapes.py", '"""Shapes{c}."""\n{c}\n# section{c}two\n\ndef area(radius):\n    return radius  # a{c}b\n'
               "\n\ndef other():\n    pass\n", "main.py", "from shapes import area\nx = area(\n",
               "def area(radius):\n    return radius  # a{c}b\n"),
    "typescript": ("shapes.ts", "// shapes{c}\n{c}\n/* a{c}b */\nexport function area(r: number) {\n"
                   "  return r // {c}\n}\n\nexport const other = 1\n", "main.ts",
                   "import { area } from './shapes'\nconst x = area(\n",
                   "export function area(r: number) {\n  return r // {c}\n}\n"),
    "go": ("shapes/shapes.go", "package shapes\n\n// Shapes{c}\n{c}\nfunc Area(r float64) float64 { // {c}\n"
           "\treturn r\n}\n\nvar Max = 1\n", "main.go",
           'package main\n\nimport "example.com/app/shapes"\n\nvar x = shapes.\n',
           "func Area(r float64) float64 { // {c}\nvar Max = 1\n"),
}


@pytest.mark.parametrize(
    ("language", "odd", "newline"),
    [pytest.param(language, odd, "\n", id=f"{language}-{name}") for language in MODULES for name, odd in ODD.items()]
    + [pytest.param(language, "", newline, id=f"{language}-{name}") for language in MODULES
       for name, newline in BREAKS.items()],
)
def test_odd_line_breaks_in_an_imported_module(tmp_path: Path, language: str, odd: str, newline: str) -> None:
    """The definitions lent are the right lines, whatever other character the module holds (shown with `\n`)."""
    module, text, current, importing, shown = MODULES[language]
    root = tmp_path / "app"
    write_tree(root, {"go.mod": "module example.com/app\n", current: importing})
    (root / module).parent.mkdir(parents=True, exist_ok=True)
    (root / module).write_bytes(text.replace("{c}", odd).replace("\n", newline).encode())
    uri = (root / current).as_uri()
    extra = CrossFileSources().extra(uri, importing, len(importing), {uri: Doc(uri, importing)}, [root],
                                   ContextSettings())
    assert [(s.path, s.text) for s in extra.snippets] == [(module, shown.replace("{c}", odd))]
