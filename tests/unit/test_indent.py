"""Issue 14, item 4: no second indent on a line the editor indented, and completions in the file's indentation
style (tabs or spaces, the width of a level). Python files indent with 4 spaces (one with tabs), Go with tabs."""

from __future__ import annotations

import pytest

from infill_ls.completion.context import Context, IndentStyle, guess_style
from infill_ls.completion.postprocess import finalize

PY = "import os\n\n\ndef add(a, b):\n    return a + b\n\n\n"
"""A 4-space Python file above the cursor's function."""
PY_TABS = "import os\n\n\ndef add(a, b):\n\treturn a + b\n\n\n"
GO = 'package main\n\nimport "fmt"\n\nfunc add(a, b int) int {\n\treturn a + b\n}\n\n'

CASES = [
    # Python, the cursor on a line indented up to the cursor.
    pytest.param(PY + "def mul(a, b):\n    ", "\n", " return a * b\n\n#", True, "return a * b",
                 id="py-after-4-spaces-model-space"),
    pytest.param(PY + "def mul(a, b):\n    ", "\n", "    return a * b", True, "return a * b",
                 id="py-after-4-spaces-model-indent"),
    pytest.param(PY + "def mul(a, b):\n    ", "\n", "\treturn a * b", True, "return a * b",
                 id="py-after-4-spaces-model-tab"),
    pytest.param(PY_TABS + "def main():\n\tfor i in range(3):\n\t\t", "\n", "\tprint(i)\n\n#", True, "print(i)",
                 id="py-after-tabs-model-tab"),
    pytest.param(PY + "class A:\n    def f(self):\n        ", "\n", "    return 1", True, "return 1",
                 id="py-after-8-spaces-nested"),
    pytest.param(PY + "class A:\n    def f(self):\n        ", "\n", "return 1", True, "return 1",
                 id="py-after-8-spaces-right-already"),
    pytest.param(PY + "def f(x):\n    if x:\n    ", "\n", "    return 1", True, "    return 1",
                 id="py-cursor-short-of-block-keeps-model-indent"),
    pytest.param(PY + "def f(x):\n    if x:\n    ", "\n", "        return 1", True, "    return 1",
                 id="py-cursor-short-of-block-over-indent-cut"),
    pytest.param(PY + "def f(x):\n    ", "\n", "  # a comment  ", True, "# a comment",
                 id="py-content-kept"),
    # Python, the completion starts with a line break: it goes on the cursor's line.
    pytest.param(PY + "def f(xs):\n    for x in xs:\n        ", "\n",
                 "\n        if x:\n            print(x)\n", True, "if x:\n            print(x)",
                 id="py-newline-first"),
    pytest.param(PY + "def f(xs):\n    ", "\n", "  \n\n        y = 1\n    return y", True, "y = 1\n    return y",
                 id="py-blank-lines-first-over-indented"),
    pytest.param(PY + "def f(xs):\n    ", "\n", "\n#", True, "", id="py-newline-then-dedent"),
    pytest.param(PY + "def f(xs):\n    ", "\n    return 1\n", "\n    return 1\n", True, "",
                 id="py-newline-first-repeats-next-line"),
    # Python, the following lines in the file's style.
    pytest.param(PY + "def f(x):\n    ", "\n", "if x:\n\t\treturn 1\n\treturn 2", True,
                 "if x:\n        return 1\n    return 2", id="py-tabs-in-4-space-file"),
    pytest.param(PY_TABS + "def f(x):\n\t", "\n", "if x:\n        return 1\n    return 2", True,
                 "if x:\n\t\treturn 1\n\treturn 2", id="py-spaces-in-tab-file"),
    pytest.param("def f(x):\n  y = x\n  ", "\n", "\tif y:\n\t\treturn 1", True, "if y:\n    return 1",
                 id="py-tabs-in-2-space-file"),
    pytest.param(PY + "def f(x):", "\n", "\n\tif x:\n\t\treturn 1", True, "\n    if x:\n        return 1",
                 id="py-end-of-line-restyled"),
    pytest.param(PY + "def f(x):\n", "\n", "\treturn x", True, "    return x", id="py-column-0-restyled"),
    pytest.param(PY_TABS + "x = '''\n", "'''\n", "\t  a\n  b", True, "\t  a\n  b", id="py-alignment-spaces-kept"),
    # Python, unchanged: a line with code left of the cursor.
    pytest.param(PY + "x =", "\n", " 42", True, " 42", id="py-non-blank-line"),
    pytest.param(PY + "def f(x):\n    y = foo(", ")\n", "x, 1", False, "x, 1", id="py-mid-line"),
    pytest.param(PY + "def f(x):\n    y = foo(", ")\n", " x", False, " x", id="py-mid-line-space-kept"),
    # The trailing space separates the completion from the next word on the line (issue 23): kept.
    pytest.param(PY + "def f(x):\n    ", "return x\n", "  y = 1; ", False, "y = 1; ",
                 id="py-code-right-of-indent"),
    # Go: tabs.
    pytest.param(GO + "func main() {\n\t", "\n}\n", '\tfmt.Println("hi")\n}', True, 'fmt.Println("hi")',
                 id="go-after-tab"),
    pytest.param(GO + "func abs(a int) int {\n\tif a < 0 {\n\t\t", "\n\t}\n\treturn a\n}\n", "\treturn -a\n\t}",
                 True, "return -a", id="go-after-2-tabs-nested"),
    pytest.param(GO + "func main() {\n\t", "\n}\n", "for i := 0; i < 3; i++ {\n        fmt.Println(i)\n    }", True,
                 "for i := 0; i < 3; i++ {\n\t\tfmt.Println(i)\n\t}", id="go-spaces-in-tab-file"),
    pytest.param(GO + "func main() {\n\t", "\n}\n", "\n\tx := 1\n\tfmt.Println(x)\n}", True,
                 "x := 1\n\tfmt.Println(x)", id="go-newline-first"),
    pytest.param(GO + "func main() {", "\n}\n", "\n    fmt.Println()\n}", True, "\n\tfmt.Println()",
                 id="go-end-of-line-restyled"),
    pytest.param(GO + "func main() {\n\tfmt.Println(", ")\n}\n", "a, b", False, "a, b", id="go-mid-line"),
    pytest.param(GO + "func main() {\n\tx :=", "\n}\n", " 1", True, " 1", id="go-non-blank-line"),
    pytest.param(GO + "func f(a int) int {\n\tif a < 0 {\n\t", "\n}\n", "\treturn -a", True, "\treturn -a",
                 id="go-cursor-short-of-block-keeps-model-indent"),
]


@pytest.mark.parametrize(("prefix", "suffix", "raw", "multiline", "expected"), CASES)
@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_indentation(prefix: str, suffix: str, raw: str, multiline: bool, expected: str, eol: str) -> None:
    ctx = Context(prefix.replace("\n", eol), suffix.replace("\n", eol))
    assert finalize(raw.replace("\n", eol), ctx, multiline) == expected.replace("\n", eol)


@pytest.mark.parametrize(
    ("text", "style"),
    [
        pytest.param(PY, IndentStyle(False, 4), id="python-4"),
        pytest.param(PY_TABS, IndentStyle(True, 4), id="python-tabs"),
        pytest.param(GO, IndentStyle(True, 4), id="go"),
        pytest.param("a:\n  b:\n    c\n  d\n", IndentStyle(False, 2), id="two-spaces"),
        pytest.param("f(\n        x)\n", IndentStyle(False, 8), id="one-step-of-8"),
        pytest.param("/*\n * a\n */\nint f() {\n\treturn 1;\n}\n", IndentStyle(True, 4), id="block-comment-ignored"),
        pytest.param("x = 1\ny = 2\n", None, id="nothing-indented"),
        pytest.param("", None, id="empty"),
    ],
)
def test_guess_style(text: str, style: IndentStyle | None) -> None:
    assert guess_style(text.split("\n")) == style


@pytest.mark.parametrize(
    ("prefix", "suffix", "style"),
    [
        pytest.param("def f():\n\t", "\n", IndentStyle(True, 4), id="cursor-line-after-tab"),
        pytest.param("def f():\n    ", "", IndentStyle(False, 4), id="cursor-line-after-spaces"),
        pytest.param("def f():\n", "\n", None, id="cursor-at-column-0"),
        pytest.param("x = 1\n", "if y:\n  z()\n", IndentStyle(False, 2), id="from-the-suffix"),
    ],
)
def test_context_style(prefix: str, suffix: str, style: IndentStyle | None) -> None:
    assert Context(prefix, suffix).style == style
