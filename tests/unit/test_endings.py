"""Issue 23 (syntax-aware endings): a suggestion never breaks the line when accepted. Tables of lines per
language, as the line reads once the post-processed completion is accepted, and the pure stages behind it."""

from __future__ import annotations

import pytest

from infill_ls.completion.context import Context
from infill_ls.completion.postprocess import complete_block, end_at_suffix, finalize, trim_end
from infill_ls.completion.syntax import HEAD_CHARS, TAIL_CHARS, Syntax, language_for, tail, window

# (language, text before the cursor, text after it, what the model wrote, the cursor's line after accepting)
LINES = [
    # The issue's four rows (SmolLM2's answers over LSP).
    pytest.param("python", "print(area(3, ", "))\n", "5))  # Output: 15", "print(area(3, 5))",
                 id="issue-python-closed-twice-and-comment"),
    pytest.param("javascript", "console.log(JSON.stringify(", "));\n", "items)); // { id: 1, … }",
                 "console.log(JSON.stringify(items));", id="issue-js-closed-twice-and-comment"),
    pytest.param("javascript", "const total = items.reduce((a, b) => a + ", ", 0);\n", "b, items);",
                 "const total = items.reduce((a, b) => a + b, 0);", id="issue-js-rest-takes-over-at-comma"),
    pytest.param("python", "if ", "ready:\n", "not ", "if not ready:", id="issue-space-before-next-word-kept"),
    # Brackets: what the completion opens and closes itself stays whole; a closer of the line's brackets goes.
    pytest.param("python", "x = foo(", ")\n", "bar()", "x = foo(bar())", id="python-own-call-whole"),
    pytest.param("python", "x = foo(", ")\n", "bar())  # why", "x = foo(bar())", id="python-own-call-then-closer"),
    pytest.param("python", "d = dict(", ")\n", "a=[1, (2, 3)], b={})", "d = dict(a=[1, (2, 3)], b={})",
                 id="python-nested-own-brackets"),
    pytest.param("python", "x = foo(", ")\n", "'a)b')", "x = foo('a)b')", id="python-closer-in-string-is-text"),
    pytest.param("python", "f(", ", 2)\n", "1, 2)", "f(1, 2)", id="python-overlap-with-rest"),
    pytest.param("python", "f(", ", b)\n", "a, c, d)", "f(a, b)", id="python-rest-takes-over-at-comma"),
    pytest.param("python", "x = d[", "]\n", "'key']", "x = d['key']", id="python-subscript"),
    pytest.param("python", "f(a, [", ")\n", "1, 2])", "f(a, [1, 2])", id="python-closer-the-rest-leaves-open-kept"),
    pytest.param("python", "x = foo(\n    a, ", ")\n", "b))", "    a, b)", id="python-call-opened-lines-above"),
    pytest.param("python", "if f(", "):\n", "x) and y:", "if f(x):", id="python-condition-rest-takes-over"),
    pytest.param("python", "x = foo(", ")\n", "x  # the x", "x = foo(x)", id="python-comment-would-eat-rest"),
    pytest.param("python", "x = foo(", ")\n", '"abc', "x = foo()", id="python-string-left-open"),
    pytest.param("python", 's = "', '" + x\n', 'hi" + y', 's = "hi" + x', id="python-cursor-in-string"),
    pytest.param("python", "# see foo(", ")\n", "bar))", "# see foo(bar))", id="python-cursor-in-comment"),
    pytest.param("python", "x = [", "]\n", "1, 2, 3", "x = [1, 2, 3]", id="python-nothing-to-cut"),
    # Whitespace: a trailing space stays only where a word follows on the line.
    pytest.param("python", "x = foo(", ")\n", "a   ", "x = foo(a)", id="python-space-before-closer-dropped"),
    pytest.param("python", "x = ", "\n", "42  ", "x = 42", id="python-space-at-line-end-dropped"),
    pytest.param("python", "return ", "value\n", "not", "return value", id="python-word-glued-dropped"),
    pytest.param("python", "x = ", "+ 1\n", "a ", "x = a + 1", id="python-space-before-operator-kept"),
    # JavaScript / TypeScript.
    pytest.param("javascript", "foo(", ");\n", "'a)b', `c(${d})`);", "foo('a)b', `c(${d})`);",
                 id="js-strings-and-template"),
    pytest.param("javascript", "x = foo(", ");\n", "a, /* b) */ c);", "x = foo(a, /* b) */ c);",
                 id="js-closed-block-comment-kept"),
    pytest.param("javascript", "x = foo(", ");\n", "a /* b", "x = foo(a);", id="js-open-block-comment-cut"),
    pytest.param("javascript", "let x = ", ";\n", "f(); g();", "let x = f();", id="js-rest-takes-over-at-semicolon"),
    pytest.param("javascript", "fn.emit('mount', ", ");\n", "{", "fn.emit('mount', );",
                 id="js-own-brace-left-open-dropped"),
    pytest.param("javascript", "this.end(", ");\n", "function(res) {", "this.end();",
                 id="js-unfinished-function-dropped"),
    pytest.param("javascript", "f(a, ", ");\n", "b, function() {", "f(a, b);", id="js-whole-arguments-kept"),
    pytest.param("javascript", "if (!this.get(", ")) {\n", "`${chunk}`)) {", "if (!this.get(`${chunk}`)) {",
                 id="js-template-substitution"),
    pytest.param("c", "  g(a, ", ");\n", "b,", "  g(a, b);", id="c-trailing-comma-before-closer-dropped"),
    pytest.param("typescript", "const n: number = parse(", ");\n", "s as string);",
                 "const n: number = parse(s as string);", id="ts-closer-cut"),
    pytest.param("tsx", "return render(", ");\n", "<App />);", "return render(<App />);", id="tsx-closer-cut"),
    # Go, Rust, C, C++, Java, Lua.
    pytest.param("go", "\tfmt.Println(", ")\n", "x, y) // z", "\tfmt.Println(x, y)", id="go-closer-and-comment"),
    pytest.param("go", "\ts := fmt.Sprintf(", ")\n", "`%d)`, n)", "\ts := fmt.Sprintf(`%d)`, n)", id="go-raw-string"),
    pytest.param("rust", "    let v = f(", ");\n", "vec![1, 2]);", "    let v = f(vec![1, 2]);",
                 id="rust-macro-closer"),
    pytest.param("rust", "    let c = f(", ");\n", "')');", "    let c = f(')');", id="rust-char-literal"),
    pytest.param("c", "  printf(", ");\n", '"%d\\n", n); /* x */', '  printf("%d\\n", n);', id="c-closer-and-comment"),
    pytest.param("cpp", "  std::cout << f(", ") << std::endl;\n", "a, b) << x",
                 "  std::cout << f(a, b) << std::endl;", id="cpp-closer-cut"),
    pytest.param("java", "    System.out.println(", ");\n", 'x + "(");', '    System.out.println(x + "(");',
                 id="java-paren-in-string"),
    pytest.param("lua", "print(", ")\n", "x) -- y", "print(x)", id="lua-closer-and-comment"),
    pytest.param("lua", "print(", ")\n", "[[a)]])", "print([[a)]])", id="lua-long-string"),
]


@pytest.mark.parametrize(("language", "prefix", "suffix", "raw", "line"), LINES)
def test_line_after_accepting(language: str, prefix: str, suffix: str, raw: str, line: str) -> None:
    """The cursor's line, once the completion is accepted, holds what the model meant exactly once."""
    text = finalize(raw, Context(prefix, suffix), False, language=language)
    start = prefix.rfind("\n") + 1
    assert prefix[start:] + text + suffix.split("\n", 1)[0] == line


@pytest.mark.parametrize(
    ("language", "prefix", "suffix", "raw", "line"),
    [
        pytest.param("python", "x = f(", ")\n", "a, b, c.", "x = f(a, b)", id="python-last-argument-unfinished"),
        pytest.param("c", "  g(", ");\n", '"a", "b", "c', '  g("a", "b");', id="c-string-unfinished"),
        pytest.param("python", "x = f(", ")\n", "a.b.c", "x = f(a.b.c)", id="python-one-argument-kept"),
        pytest.param("python", "x = ", "\n", "add(x[", "x = add(x[", id="nothing-right-of-cursor-kept"),
    ],
)
def test_line_cut_short(language: str, prefix: str, suffix: str, raw: str, line: str) -> None:
    """A one-line completion stopped by the token limit, with code right of the cursor, keeps its whole
    arguments (what precedes its last comma outside its own brackets); one argument stays as it is."""
    text = finalize(raw, Context(prefix, suffix), False, cut=True, language=language)
    assert prefix + text + suffix.split("\n", 1)[0] == line


@pytest.mark.parametrize(
    ("language", "prefix", "suffix", "raw", "expected"),
    [
        pytest.param("python", "def f(x):\n    ", "\n    return y\n", "y = 1\n    if y:", "y = 1",
                     id="python-empty-block-cut"),
        pytest.param("python", "def f(x):\n    ", "\n    return y\n", "y = [\n        1,", "y = [",
                     id="python-open-bracket-keeps-first-line"),
        pytest.param("python", "    table = Table.", "\n    return table\n", "grid(\n        padding=1,",
                     "grid(", id="python-call-left-open-keeps-first-line"),
        pytest.param("javascript", "function f() {\n  ", "\n}\n", "g(a,\n    b", "g(a,",
                     id="js-open-call-keeps-first-line"),
        pytest.param("javascript", "function f() {\n  ", "\n}\n", "g(\"a\", 'b',\n    c", "g(\"a\", 'b',",
                     id="js-closed-strings-in-an-open-call-keep-first-line"),
        pytest.param("python", "def f(x):\n    ", "\n    return x\n", '"""Return x.\n\n    More', "",
                     id="python-open-docstring-first-line-not-kept"),
        pytest.param("javascript", "function f() {\n  ", "\n}\n", "const s = `a\n  b", "",
                     id="js-open-template-first-line-not-kept"),
        pytest.param("c", "int f(void) {\n  ", "\n}\n", "/* the sum\n  of", "",
                     id="c-open-block-comment-first-line-not-kept"),
        pytest.param("python", "def f(x):\n    ", "\n    return y\n", "y = 1\n    if y:\n        y += 1",
                     "y = 1\n    if y:\n        y += 1", id="python-complete-block-whole"),
        pytest.param("javascript", "function f() {\n  ", "\n}\n", "if (x) {\n    y();\n  }\n  z(a,",
                     "if (x) {\n    y();\n  }", id="js-unfinished-call-cut"),
        pytest.param("go", "func f() {\n\t", "\n}\n", "for i := 0; i < n; i++ {\n\t\tg(i)\n\t}\n\th(",
                     "for i := 0; i < n; i++ {\n\t\tg(i)\n\t}", id="go-unfinished-call-cut"),
        pytest.param("rust", "fn f() {\n    ", "\n}\n", "let x = 1;\n    if x > 0 {\n        g(x);",
                     "let x = 1;", id="rust-open-block-cut"),
        pytest.param("c", "int f(void) {\n  ", "\n}\n", "int x = 1;\n  return x;", "int x = 1;\n  return x;",
                     id="c-complete-whole"),
        pytest.param("java", "class A {\n  void f() {\n    ", "\n  }\n}\n", "int x = 1;\n    g(x",
                     "int x = 1;", id="java-unfinished-call-cut"),
        pytest.param("lua", "function f()\n  ", "\nend\n", "local x = 1\n  if x then\n    g(x)",
                     "local x = 1", id="lua-open-if-cut"),
        pytest.param("cpp", "int f() {\n  ", "\n}\n", "auto v = std::vector<int>{1, 2};\n  return v[0];",
                     "auto v = std::vector<int>{1, 2};\n  return v[0];", id="cpp-complete-whole"),
        pytest.param(None, "def f(x):\n    ", "\n    return y\n", "y = 1\n    if y:", "y = 1\n    if y:",
                     id="no-grammar-unchanged"),
    ],
)
def test_complete_block(language: str | None, prefix: str, suffix: str, raw: str, expected: str) -> None:
    """A multi-line completion ends at its last line whose block is complete, by the language's parser."""
    assert complete_block(raw, Context(prefix, suffix), Syntax.of(language)) == expected
    assert finalize(raw, Context(prefix, suffix), True, language=language) == expected


@pytest.mark.parametrize(
    ("prefix", "suffix", "raw", "expected"),
    [
        pytest.param("x = foo(", ")\n", "a))", "a", id="closer"),
        pytest.param("x = foo(", "\n", "a))", "a))", id="nothing-right-of-cursor"),
        pytest.param("x = (", "\n", "a) + 1", "a) + 1", id="rest-closes-nothing"),
        pytest.param("f(", ", b)\n", "a, c", "a", id="takeover-separator"),
        pytest.param("f(", ", b)\n", "g(a, c), d", "g(a, c)", id="separator-inside-own-call-kept"),
        pytest.param("x = ", "  # note\n", "1  # one", "1  ", id="comment-before-comment"),
    ],
)
def test_end_at_suffix(prefix: str, suffix: str, raw: str, expected: str) -> None:
    assert end_at_suffix(raw, Context(prefix, suffix), Syntax.of("python")) == expected


def test_end_at_suffix_without_grammar_keeps_text() -> None:
    assert end_at_suffix("a))", Context("x = foo(", ")\n"), None) == "a))"


@pytest.mark.parametrize(
    ("suffix", "raw", "expected"),
    [
        pytest.param("ready:", "not ", "not ", id="word-follows"),
        pytest.param("ready:", "not", "", id="glued-word-dropped"),
        pytest.param("ready:", "x and not", "x and ", id="glued-last-word-dropped"),
        pytest.param(")", "a ", "a", id="closer-follows"),
        pytest.param(" + 1", "a ", "a", id="space-follows"),
        pytest.param("", "a \t", "a", id="line-end"),
        pytest.param("x", "a\n  ", "a", id="line-break-dropped"),
    ],
)
def test_trim_end(suffix: str, raw: str, expected: str) -> None:
    assert trim_end(raw, Context("if ", suffix)) == expected


@pytest.mark.parametrize(
    ("uri", "language"),
    [
        pytest.param("file:///w/a.py", "python", id="python"),
        pytest.param("file:///w/My%20App.TSX", "tsx", id="tsx-escaped-upper"),
        pytest.param("file:///w/a.h", "c", id="header"),
        pytest.param("file:///w/a.hpp", "cpp", id="cpp-header"),
        pytest.param("/w/main.go", "go", id="path"),
        pytest.param("untitled:Untitled-1", None, id="untitled"),
        pytest.param("file:///w/a.rb", None, id="no-grammar"),
    ],
)
def test_language_for(uri: str, language: str | None) -> None:
    assert language_for(uri) == language


def test_windows_are_bounded() -> None:
    """A parse reads at most HEAD_CHARS before the cursor, from a top-level line, and TAIL_CHARS after."""
    body = "".join(f"def f{i}():\n    return {i}\n" for i in range(400))
    head = window(body + "x = (")
    assert len(head) <= HEAD_CHARS and head.startswith("def f") and head.endswith("x = (")
    after = tail(body)
    assert len(after) <= TAIL_CHARS and body.startswith(after) and body[len(after)] == "\n"


@pytest.mark.parametrize("language", ["python", "javascript", "typescript", "tsx", "go", "rust", "c", "cpp", "java",
                                      "lua"])
def test_grammar_loads(language: str) -> None:
    syntax = Syntax.of(language)
    assert syntax is not None and syntax.errors("") == 0
