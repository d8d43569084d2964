"""What a real parser says about a completion in its file: which of its characters are code, and whether the
code around it is as complete with it as without it. Used by post-processing (`postprocess.py`).

The parser is tree-sitter with the grammar wheels pinned in pyproject.toml. A document's language comes from
its file suffix (`language_for`); a language without a grammar here gets no `Syntax`, and post-processing keeps
its language-blind rules there.

Each parse reads a bounded window, not the document (`window`): at most HEAD_CHARS before the cursor, from the
start of a line that starts at column 0 where there is one, and at most TAIL_CHARS after the completion, to a
line's end. A grammar parses such a window in about 0.2 ms on this machine; a completion costs two parses on its
cursor's line and, spanning lines, one more per line cut off its end.
"""

from __future__ import annotations

import importlib
import logging
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from tree_sitter import Language, Node, Parser, Query, QueryCursor

log = logging.getLogger(__name__)

HEAD_CHARS = 4000
"""Characters before the cursor a parse reads, at most."""
TAIL_CHARS = 2000
"""Characters after the completion a parse reads, at most."""

GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "java": ("tree_sitter_java", "language"),
    "lua": ("tree_sitter_lua", "language"),
}
"""Language -> (module, function returning the grammar)."""

SUFFIXES: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp",
    ".java": "java", ".lua": "lua",
}

STRINGS = frozenset({
    "string", "template_string", "regex", "interpreted_string_literal", "raw_string_literal", "rune_literal",
    "string_literal", "char_literal", "character_literal", "text_block",
})
"""Node types whose text is a literal, across the grammars above (their brackets are not code)."""
QUOTES = "\"'`"
EMPTY_BLOCKS = {"python": "(block) @block"}
"""Grammars that parse a block with no statements without an error (Python's `if x:` and then a dedent): a query
for their blocks, whose empty (zero-width) ones count as errors."""


def language_for(uri: str) -> str | None:
    """The language a document's URI (or path) names by its suffix, when a grammar for it is here."""
    path = unquote(urlparse(uri).path) if "://" in uri else uri
    return SUFFIXES.get(PurePosixPath(path).suffix.lower())


@lru_cache(maxsize=len(GRAMMARS))
def grammar(language: str) -> Language | None:
    """The loaded grammar (once per language), or None when its wheel is missing or does not load."""
    module_name, function = GRAMMARS[language]
    try:
        return Language(getattr(importlib.import_module(module_name), function)())
    except (ImportError, AttributeError, ValueError) as exc:
        log.warning("no tree-sitter grammar for %s (%s): its completions end by the language-blind rules",
                    language, exc)
        return None


@lru_cache(maxsize=len(EMPTY_BLOCKS))
def empty_blocks(language: str) -> Query | None:
    loaded = grammar(language) if language in EMPTY_BLOCKS else None
    return None if loaded is None else Query(loaded, EMPTY_BLOCKS[language])


@dataclass(frozen=True)
class Span:
    """A part of a completion that is not plain code, in characters of the completion (`start` < 0: it began
    before the cursor)."""

    start: int
    end: int
    kind: str
    """comment, string, or error (tree-sitter could not parse it)."""
    closing: int | None = None
    """For a literal: where its closing quote starts (None: it has none)."""

    def shifted(self, by: int) -> Span:
        """The span in characters of a text that starts `by` characters later."""
        return Span(self.start - by, self.end - by, self.kind, None if self.closing is None else self.closing - by)


@dataclass(frozen=True)
class Syntax:
    """One language's parser, for the windows of one request."""

    language: str
    grammar: Language

    @classmethod
    def of(cls, language: str | None) -> Syntax | None:
        loaded = grammar(language) if language in GRAMMARS else None
        return None if language is None or loaded is None else cls(language, loaded)

    def parse(self, source: bytes) -> Node:
        return Parser(self.grammar).parse(source).root_node

    def spans(self, head: str, text: str) -> list[Span]:
        """Comments, literals and parse errors that overlap `text` when it follows `head` (`head` ends at the
        cursor; see `window`). Nothing after `text` is read: what a completion's end opens runs to its end."""
        raw_head, raw = head.encode("utf-8"), text.encode("utf-8")
        chars = Chars(text, len(raw_head))
        found = []
        for node in _overlapping(self.parse(raw_head + raw), len(raw_head)):
            kind = "comment" if "comment" in node.type else "string" if node.type in STRINGS else "error"
            closing = None
            if kind == "string" and node.children:
                last = node.children[-1]
                if not last.is_named or last.type == "string_end":
                    closing = chars.at(last.start_byte)
            found.append(Span(chars.at(node.start_byte), chars.at(node.end_byte), kind, closing))
        return found

    def errors(self, source: str) -> int:
        """ERROR and MISSING nodes in the parse of `source`, and blocks left empty where a grammar allows it."""
        root = self.parse(source.encode("utf-8"))
        query = empty_blocks(self.language)
        empty = 0
        if query is not None:
            captures = QueryCursor(query).captures(root)
            empty = sum(node.start_byte == node.end_byte for node in captures.get("block", []))
        return _errors(root) + empty


class Chars:
    """Byte offsets of a parse -> character offsets in `text`, which starts at byte `base`."""

    def __init__(self, text: str, base: int) -> None:
        self.base = base
        self.ends = list(accumulate((len(ch.encode("utf-8")) for ch in text), initial=0))

    def at(self, byte: int) -> int:
        offset = byte - self.base
        if offset <= 0:
            return offset  # before the text: only the sign matters
        return bisect_right(self.ends, offset) - 1


def _overlapping(root: Node, start: int) -> Iterator[Node]:
    """Comment, literal and ERROR nodes that end after byte `start`, outermost first; literals and comments are
    not entered."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.end_byte <= start and node is not root:
            continue
        if "comment" in node.type or node.type in STRINGS:
            yield node
            continue
        if node.is_error:
            yield node
        stack.extend(reversed(node.children))


def _errors(node: Node) -> int:
    if not node.has_error:
        return 0
    return int(node.is_error or node.is_missing) + sum(_errors(child) for child in node.children)


def window(prefix: str) -> str:
    """The end of `prefix` a parse reads: at most HEAD_CHARS, from the first line in them that starts at column
    0 with code (not a closing bracket), else from the first line start in them."""
    if len(prefix) <= HEAD_CHARS:
        return prefix
    start = len(prefix) - HEAD_CHARS
    fallback = prefix.find("\n", start)
    if fallback < 0:
        return prefix[start:]
    pos = fallback
    while pos >= 0:
        ch = prefix[pos + 1 : pos + 2]
        if ch and not ch.isspace() and ch not in ")]}":
            return prefix[pos + 1 :]
        pos = prefix.find("\n", pos + 1)
    return prefix[fallback + 1 :]


def tail(suffix: str) -> str:
    """The start of `suffix` a parse reads: at most TAIL_CHARS, to the end of a line."""
    if len(suffix) <= TAIL_CHARS:
        return suffix
    end = suffix.rfind("\n", 0, TAIL_CHARS)
    return suffix[: end if end > 0 else TAIL_CHARS]
