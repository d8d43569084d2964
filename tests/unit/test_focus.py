"""What the cursor needs from another file (crossfile/focus.py), where each family is shown it (prompt.py), and
where the sources find it (open documents, the workspace)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infill_ls.completion.context import Context
from infill_ls.completion.crossfile.focus import Binding, Focus, Need, choices, focus, held_to, need_at, needs_in
from infill_ls.completion.crossfile.selection import Candidate, Snippet, select
from infill_ls.completion.crossfile.sources import CrossFileSources
from infill_ls.completion.prompt import Budget, CrossFileBlock, build_prompt
from infill_ls.config import ContextSettings
from infill_ls.models import Layout

from .test_crossfile import CODELLAMA, NONE, QWEN, STARCODER, Words


@pytest.mark.parametrize(
    ("line", "need"),
    [
        pytest.param("    x = box.", Need("attr", "box"), id="after-module-dot"),
        pytest.param("    x = Segment.li", Need("attr", "Segment"), id="after-class-dot-half-a-word"),
        pytest.param("print(Text(", Need("call", "Text"), id="in-a-call"),
        pytest.param("print(Text(a, ", Need("call", "Text"), id="after-an-argument"),
        pytest.param("f(box.get_row(1, ", Need("call", "get_row", "box"), id="in-a-qualified-call"),
        pytest.param("f(g(1), ", Need("call", "f"), id="the-innermost-open-bracket"),
        pytest.param("x = self.box.", None, id="an-attribute-of-an-attribute"),
        pytest.param("x = (a + ", None, id="a-bracket-that-is-no-call"),
        pytest.param("f(a)[", None, id="innermost-is-a-subscript"),
        pytest.param("s = 'f(", None, id="a-bracket-in-a-string"),
        pytest.param("x = 1  # f(", None, id="a-bracket-in-a-comment"),
        pytest.param("x = ", None, id="nothing-needed"),
    ],
)
def test_need_at(line: str, need: Need | None) -> None:
    assert need_at(line) == need


MODULE = (
    "import os\n_cache = {}\n\nclass Box:\n    '''A box.'''\n\n    top: str = '-'\n\n    @classmethod\n"
    "    def create(cls, width: int,\n               height: int) -> 'Box':\n        def inner():\n"
    "            pass\n        return cls()\n\n    def _private(self):\n        pass\n\n"
    "    def __init__(self):\n        self.x = 1\n\n\nROUNDED: Box = Box(\n    'x',\n)\n"
    "def get_row(widths, level='head',\n            edge=True):\n    return ''\n"
)


@pytest.mark.parametrize(
    ("need", "binding", "expected"),
    [
        pytest.param(Need("attr", "box"), Binding("box.py", MODULE), Focus(
            "box.py", "class Box:\nROUNDED: Box = Box(\ndef get_row(widths, level='head',\n",
            ("Box", "ROUNDED", "get_row"), "box"), id="module-outline-public-names"),
        pytest.param(Need("attr", "Box"), Binding("box.py", MODULE, "Box"), Focus(
            "box.py", "    top: str = '-'\n    def create(cls, width: int,\n", ("top", "create"), "Box"),
            id="class-members-not-nested-private-or-dunder"),
        pytest.param(Need("call", "get_row", "box"), Binding("box.py", MODULE), Focus(
            "box.py", "def get_row(widths, level='head',\n            edge=True):\n"), id="module-callee-signature"),
        pytest.param(Need("call", "get_row"), Binding("box.py", MODULE, "get_row"), Focus(
            "box.py", "def get_row(widths, level='head',\n            edge=True):\n"), id="imported-callee-signature"),
        pytest.param(Need("call", "create", "Box"), Binding("box.py", MODULE, "Box"), Focus(
            "box.py", "    def create(cls, width: int,\n               height: int) -> 'Box':\n"),
            id="class-method-signature"),
        pytest.param(Need("call", "ROUNDED"), Binding("box.py", MODULE, "ROUNDED"), Focus(
            "box.py", "ROUNDED: Box = Box(\n"), id="an-assignment-its-first-line"),
        pytest.param(Need("call", "missing", "box"), Binding("box.py", MODULE), None, id="no-such-callee"),
        pytest.param(Need("attr", "os"), Binding("os.py", "import sys\n_x = 1\n"), None, id="nothing-public"),
        pytest.param(Need("attr", "geo"), Binding("geo.ts", "export function area(w: number) {\n  return w\n}\n"
                                                  "export const PI = 3\nfunction local() {}\n", python=False),
                     Focus("geo.ts", "export function area(w: number) {\nexport const PI = 3\nfunction local() {}\n",
                           ("area", "PI", "local"), "geo"), id="typescript-outline"),
        pytest.param(Need("attr", "store"), Binding("store.go", "func Open(p string) *DB {\nfunc local() {}\n"
                                                     "type DB struct {\n", python=False),
                     Focus("store.go", "func Open(p string) *DB {\ntype DB struct {\n", ("Open", "DB"), "store"),
                     id="go-outline-exported-only"),
        pytest.param(Need("call", "area"), Binding("geo.ts", "export function area(w: number) {\n  return w\n}\n",
                                                   "area", python=False),
                     Focus("geo.ts", "export function area(w: number) {\n"), id="typescript-signature"),
    ],
)
def test_focus(need: Need, binding: Binding, expected: Focus | None) -> None:
    assert focus(need, binding) == expected


@pytest.mark.parametrize(
    ("found", "mark", "near"),
    [
        pytest.param(Focus("box.py", "", ("ROUNDED", "SQUARE"), "box"), "#", "# box.ROUNDED, box.SQUARE\n",
                     id="names-as-the-code-writes-them"),
        pytest.param(Focus("box.py", "", tuple(f"NAME_{i}" for i in range(12)), "box"), "//",
                     "// box.NAME_0, box.NAME_1, box.NAME_2, box.NAME_3, box.NAME_4, box.NAME_5, box.NAME_6, "
                     "box.NAME_7,\n// box.NAME_8, box.NAME_9, box.NAME_10, box.NAME_11\n", id="wrapped-lines"),
        pytest.param(Focus("g.py", "def area(w,\n         h):\n"), "#", "# def area(w,\n#          h):\n",
                     id="a-signature-commented-out"),
    ],
)
def test_near_lines(found: Focus, mark: str, near: str) -> None:
    assert found.near(mark) == near


FOCUS = Focus("shapes.py", "def area(w, h):\n", qualifier="")
EXTRA = CrossFileBlock((Snippet("util.py", "def helper(x):\n    return x\n", "open"),), "app/main.py", "proj", FOCUS)
CTX = Context("import util\nx = 1\nprint(area(", ")\n")


@pytest.mark.parametrize(
    ("fim", "layout", "expected"),
    [
        pytest.param(NONE, Layout.PREFIX_ONLY,
                     "# util.py\ndef helper(x):\n    return x\n# app/main.py\nimport util\nx = 1\n"
                     "# def area(w, h):\nprint(area(", id="prefix-only-focus-just-above-the-cursor-line"),
        pytest.param(CODELLAMA, Layout.SPM,
                     "<PRE><SUF>)\n<MID># util.py\ndef helper(x):\n    return x\n"
                     "# app/main.py\nimport util\nx = 1\nprint(area(", id="codellama-the-block-only"),
        pytest.param(QWEN, Layout.PSM,
                     "<REPO>proj\n<SEP>util.py\ndef helper(x):\n    return x\n"
                     "<SEP>app/main.py\n<PRE>import util\nx = 1\nprint(area(<SUF>)\n<MID>", id="qwen-the-block-only"),
        pytest.param(STARCODER, Layout.SPM,
                     "<REPO>proj\n<SEP>util.py\ndef helper(x):\n    return x\n"
                     "<SEP>app/main.py\n<PRE><SUF>)\n<MID>import util\nx = 1\nprint(area(",
                     id="starcoder-the-block-only"),
    ],
)
def test_focus_placement_per_family(fim: Any, layout: Layout, expected: str) -> None:
    """The focus of the cursor's line is near the cursor on the prefix-only path only: the FIM families get what
    the code around the cursor needs in the block (ranked last when it is built), which typing leaves alone."""
    tok = Words(fim)
    assert tok.render(build_prompt(CTX, tok, layout, Budget(), EXTRA).tokens) == expected


def test_the_focus_ranks_before_chunks_that_merely_share_words() -> None:
    near = "x = shapes.area(width, height, depth)\n"
    candidates = [Candidate("shapes.py", "def area(w, h):\n", "focus"),
                  Candidate("other.py", "width = height = depth = 1\n", "open", recency=9)]
    kept = select(candidates, near, 1000, len)
    assert [s.source for s in kept] == ["open", "focus"]
    assert [s.source for s in select(candidates, near, 40, len)] == ["focus"]


@pytest.mark.parametrize(
    ("line", "needs"),
    [
        pytest.param("x = box.ROUNDED\ny = get_row(1)\n", [Need("attr", "box"), Need("call", "get_row")],
                     id="dots-and-calls-in-order"),
        pytest.param("a.b.c(1)\nbox.x\nbox.y\n", [Need("attr", "a"), Need("attr", "box")], id="each-once"),
    ],
)
def test_needs_in(line: str, needs: list[Need]) -> None:
    assert needs_in(line) == needs


@pytest.mark.parametrize(
    ("before", "after", "near"),
    [
        pytest.param("print(area(", "print(area(w", False, id="typing-with-the-same-focus-the-new-token"),
        pytest.param("x = ", "x = area(", True, id="the-focus-appears-its-lines-and-the-current-line"),
        pytest.param("x = area(", "x = area()", True, id="the-focus-goes-the-current-line"),
    ],
)
def test_near_lines_cost_only_themselves_and_the_current_line(before: str, after: str, near: bool) -> None:
    """Prefix-only: tokens after the prompts' common start (what a keystroke evaluates): the new text, or, when the
    focus comes or goes, at most its lines and the current line."""
    tok = Words(NONE)
    most = len(tok.tokenize(FOCUS.near("#")) + tok.tokenize(after)) if near else 1
    prompts = []
    for line in (before, after):
        extra = EXTRA if line.endswith(("area(", "(w")) else CrossFileBlock(EXTRA.snippets, EXTRA.path, EXTRA.repo)
        prompts.append(build_prompt(Context("import util\nx = 1\n" + line, "\n"), tok, Layout.PREFIX_ONLY,
                                    Budget(), extra).tokens)
    common = next((i for i, (a, b) in enumerate(zip(*prompts, strict=False)) if a != b), len(prompts[0]))
    assert len(prompts[1]) - common <= most, tok.render(prompts[1][common:])


class Doc:
    def __init__(self, uri: str, source: str, version: int = 1) -> None:
        self.uri, self.source, self.version = uri, source, version


SHAPES = "def area(w, h):\n    return w * h\n\n\nclass Square:\n    def grow(self, by):\n        pass\n"


@pytest.mark.parametrize(("folders", "opened", "expected"), [
    pytest.param(True, (), ("blank", "unit"), id="the-base-read-from-the-workspace"),
    pytest.param(False, ("shapes.py", "base.py"), ("blank", "unit"), id="the-base-open"),
    pytest.param(False, ("shapes.py",), (), id="the-base-unknown-nothing-held"),
])
def test_a_class_inherits_from_another_module(tmp_path: Path, folders: bool, opened: tuple[str, ...],
                                              expected: tuple[str, ...]) -> None:
    package = tmp_path / "proj" / "pkg"
    package.mkdir(parents=True)
    files = {"__init__.py": "", "base.py": "class Shape:\n    @classmethod\n    def blank(cls):\n        pass\n",
             "shapes.py": "from .base import Shape\n\nclass Square(Shape):\n    @classmethod\n    def unit(cls):\n"
                          "        pass\n    def grow(self):\n        pass\n"}
    for name, text in files.items():
        (package / name).write_text(text)
    line = "from pkg.shapes import Square\nx = Square."
    uri = (package / "main.py").as_uri()
    docs: dict[str, Any] = {uri: Doc(uri, line)}
    for name in opened:
        docs[(package / name).as_uri()] = Doc((package / name).as_uri(), files[name])
    extra = CrossFileSources().extra(uri, line, len(line), docs, [tmp_path / "proj"] if folders else [],
                                     ContextSettings())
    assert extra.focus is not None and extra.focus.choices == expected


@pytest.mark.parametrize(
    ("line", "opened", "folders", "expected"),
    [
        pytest.param("from pkg import shapes\nx = shapes.", True, False, ("area", "Square"),
                     id="an-open-module-without-a-workspace-folder"),
        pytest.param("from . import shapes\nx = shapes.", False, True, ("area", "Square"),
                     id="a-module-read-from-the-workspace"),
        pytest.param("from .shapes import Square\nx = Square.", False, True, ("grow",), id="an-imported-class"),
        pytest.param("from .shapes import area\nx = area(", True, False, "def area(w, h):\n",
                     id="an-imported-function-open"),
        pytest.param("from . import shapes\nx = shapes.", False, False, None, id="neither-open-nor-in-a-folder"),
        pytest.param("import os\nx = os.", True, True, None, id="not-the-projects"),
    ],
)
def test_the_sources_find_the_focus(tmp_path: Path, line: str, opened: bool, folders: bool,
                                    expected: tuple[str, ...] | str | None) -> None:
    package = tmp_path / "proj" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "shapes.py").write_text(SHAPES)
    uri, other = (package / "main.py").as_uri(), (package / "shapes.py").as_uri()
    docs: dict[str, Any] = {uri: Doc(uri, line)}
    if opened:
        docs[other] = Doc(other, SHAPES)
    roots = [tmp_path / "proj"] if folders else []
    extra = CrossFileSources().extra(uri, line, len(line), docs, roots, ContextSettings())
    found = extra.focus
    if expected is None:
        assert found is None
        assert "focus" not in [s.source for s in extra.snippets]
    else:
        assert found is not None and (found.code if isinstance(expected, str) else found.names) == expected
        assert found.code in extra.snippets[-1].text  # the block built here ranks its lines best
        assert found.choices == (() if isinstance(expected, str) else expected)  # what the generation is held to


NAMED = (
    "import os\nfrom .util import helper as aid\ntry:\n    import fast\nexcept ImportError:\n    fast = None\n"
    "_cache = {}\nLIMIT = 3\n\nclass ShapeError(ValueError):\n    pass\n\nclass Missing(ShapeError):\n    pass\n\n"
    "class Kind(Enum):\n    SQUARE = 1\n    ROUND = 2\n\n"
    "class Box:\n    width: int\n    depth: int = 0\n    SIDES = 4\n\n    @classmethod\n    def square(cls):\n"
    "        pass\n\n    @staticmethod\n    def parse(text):\n        pass\n\n    @property\n    def area(self):\n"
    "        pass\n\n    def draw(self):\n        pass\n\n    def __init__(self):\n        pass\n\n"
    "    class Part:\n        pass\n\n"
    "class Crate(Box):\n    @classmethod\n    def stacked(cls):\n        pass\n\n"
    "class Plain:\n    def draw(self):\n        pass\n\n    def _hidden(self):\n        pass\n\n"
    "class Remote(base.Shape):\n    @classmethod\n    def make(cls):\n        pass\n\n"
    "class Meta(metaclass=Registry):\n    X = 1\n\n"
    "def area(w):\n    return w\n"
)


SCRIPT = (
    "LIMIT = 3\n\nif __name__ == '__main__':\n    from .demo import Console\n    console = Console()\n"
    "    class Shown:\n        pass\nelse:\n    fallback = 1\n\nif \"__main__\" == __name__:\n    table = 2\n"
    "if __name__ == '__main__' or True:\n    class Shown:\n        pass\n"
)


BASE = "from far import Other\n\nclass Shape:\n    ORIGIN = 0\n    @classmethod\n    def blank(cls):\n        pass\n" \
       "    def draw(self):\n        pass\n\nclass Deep(Other):\n    pass\n"


@pytest.mark.parametrize(
    ("line", "binding", "text", "expected"),
    [
        pytest.param("x = shapes.", Binding("shapes.py", NAMED), "", (
            "os", "aid", "fast", "LIMIT", "ShapeError", "Missing", "Kind", "Box", "Crate", "Plain", "Remote", "Meta",
            "area"), id="module-every-public-top-level-name-imports-and-try-blocks-too"),
        pytest.param("x = shapes.", Binding("shapes.py", SCRIPT), "", ("LIMIT", "fallback", "Shown"),
                     id="a-script-block-binds-nothing-on-import-its-else-does"),
        pytest.param("raise shapes.", Binding("shapes.py", NAMED), "", ("ShapeError", "Missing"),
                     id="after-raise-its-exceptions"),
        pytest.param("    except (KeyError, shapes.", Binding("shapes.py", NAMED), "", ("ShapeError", "Missing"),
                     id="after-except-a-tuple"),
        pytest.param("x = Box.", Binding("shapes.py", NAMED, "Box"), "", ("depth", "SIDES", "square", "parse", "Part"),
                     id="class-level-names-not-fields-methods-properties-dunders"),
        pytest.param("x = Box.", Binding("shapes.py", NAMED, "Box"), "class Mine(Box):\n    pass\n", (
            "width", "depth", "SIDES", "square", "parse", "area", "draw", "Part"), id="from-a-subclass-every-member"),
        pytest.param("x = Crate.", Binding("shapes.py", NAMED, "Crate"), "", (
            "depth", "SIDES", "square", "parse", "Part", "stacked"), id="bases-in-the-same-file-inherited"),
        pytest.param("k = Kind.", Binding("shapes.py", NAMED, "Kind"), "", ("SQUARE", "ROUND"), id="enum-members"),
        pytest.param("Plain.", Binding("shapes.py", NAMED, "Plain"), "", ("draw",),
                     id="no-class-level-names-every-public-member"),
        pytest.param("Remote.", Binding("shapes.py", NAMED, "Remote"), "", (), id="a-base-in-another-file-unknown"),
        pytest.param("Remote.", Binding("shapes.py", NAMED, "Remote", bases=(Binding("base.py", BASE, "Shape"),)), "",
                     ("ORIGIN", "blank", "make"), id="a-base-in-another-file-bound"),
        pytest.param("Remote.", Binding("shapes.py", NAMED, "Remote", bases=(Binding("base.py", BASE, "Deep"),)), "",
                     (), id="a-bound-base-whose-own-base-is-elsewhere-unknown"),
        pytest.param("Meta.", Binding("shapes.py", NAMED, "Meta"), "", (), id="a-metaclass-unknown"),
        pytest.param("x = shapes.", Binding("shapes.py", "from .all import *\nX = 1\n"), "", (), id="import-star"),
        pytest.param("x = shapes.", Binding("shapes.py", "X = 1\ndef __getattr__(name):\n    pass\n"), "", (),
                     id="module-getattr"),
        pytest.param("x = shapes.", Binding("shapes.py", "def f(:\n"), "", (), id="does-not-parse"),
        pytest.param("x = shapes.", Binding("shapes/__init__.py", "X = 1\n"), "", (), id="a-package-init"),
        pytest.param("x = geo.", Binding("geo.ts", "export const PI = 3\n", python=False), "", (), id="not-python"),
        pytest.param("x = shapes.area(", Binding("shapes.py", NAMED), "", (), id="a-call-holds-nothing"),
    ],
)
def test_choices(line: str, binding: Binding, text: str, expected: tuple[str, ...]) -> None:
    need = need_at(line)
    assert need is not None
    assert choices(need, binding, line, text) == expected


HELD = Focus("box.py", "", ("square", "SIDES", "sides_of"), "Box", ("square", "SIDES", "sides_of"))


@pytest.mark.parametrize(
    ("focus_", "line", "healed", "expected"),
    [
        pytest.param(HELD, "x = Box.", "", ("square", "SIDES", "sides_of"), id="after-the-dot-every-choice"),
        pytest.param(HELD, "x = Box.si", "", ("des_of",), id="the-rest-of-those-begun"),
        pytest.param(HELD, "x = Box.si", "si", ("sides_of",), id="healed-end-of-the-typed-part"),
        pytest.param(HELD, "x = Box.square", "", ("",), id="typed-whole-then-a-non-identifier"),
        pytest.param(HELD, "x = Box.zz", "", (), id="nothing-begins-so-nothing-held"),
        pytest.param(HELD, "x = Box.si", "x.si", (), id="healed-text-beyond-the-name"),
        pytest.param(HELD, "x = Box", "", (), id="no-dot"),
        pytest.param(Focus("box.py", "", ("a",), "Box"), "x = Box.", "", (), id="no-choices"),
        pytest.param(None, "x = Box.", "", (), id="no-focus"),
    ],
)
def test_held_to(focus_: Focus | None, line: str, healed: str, expected: tuple[str, ...]) -> None:
    assert held_to(focus_, line, healed) == expected
