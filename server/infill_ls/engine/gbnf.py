"""`GenerationParams.names` as a GBNF grammar, the constraint llama-server applies while it samples (its `grammar`
field, on `/completion` and `/v1/completions`; llama.cpp's grammars/README.md).

The language is the contract's: the text begins with one of the names and then either ends or goes on with a
character that cannot continue an identifier, after which anything may follow. A generation that already has text
(a healed token's, see RemoteEngine._healed) is constrained by what is left of it once that text is read: `rests`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

IDENTIFIER = re.compile(r"[\w$]")
"""A character that may continue an identifier (a letter or digit of any script, `_`, `$`)."""
BOUNDARY = r"[^0-9A-Za-z_$\x80-\U0010FFFF]"
"""What may follow a whole name in the grammar: an ASCII character that cannot continue an identifier. Every
non-ASCII character is left out, letters and others alike: a class of the non-letters among them would run to
hundreds of ranges, which llama.cpp scans for every candidate token. So `zeta✓` is never generated, though the
contract would allow it."""


def rests(names: Iterable[str], typed: str = "") -> tuple[str, ...] | None:
    """What is left of the names once the text `typed` has been generated: the rest of each name `typed` is a
    prefix of ("" where `typed` is the whole name). None where a name followed by a character that cannot continue
    an identifier begins `typed` (the text is free from there on); () where `typed` fits no name (no text after it
    can satisfy the constraint)."""
    left: set[str] = set()
    for name in names:
        if name.startswith(typed):
            left.add(name[len(typed):])
        elif typed.startswith(name) and not IDENTIFIER.match(typed[len(name)]):
            return None
    return tuple(sorted(left))


def grammar(left: Sequence[str]) -> str:
    """A GBNF grammar for a text that is one of `left` followed by the end or by a character that cannot continue
    an identifier and then anything (`left` as `rests` gives it, not empty). The names form a trie, so the sampler
    follows one branch per distinct next character, whatever the number of names."""
    if not left:
        raise ValueError("no name to constrain to")
    return f"root ::= {_trie(sorted(set(left)))}\ntail ::= ({BOUNDARY} .*)?\n"


def _trie(left: list[str]) -> str:
    alternatives = ["tail"] if "" in left else []
    by_first: dict[str, list[str]] = {}
    for rest in left:
        if rest:
            by_first.setdefault(rest[0], []).append(rest)
    for group in by_first.values():
        shared = _shared(group)
        alternatives.append(f"{literal(shared)} {_trie([rest[len(shared):] for rest in group])}")
    return alternatives[0] if len(alternatives) == 1 else "(" + " | ".join(alternatives) + ")"


def _shared(texts: list[str]) -> str:
    """The longest text all of `texts` begin with."""
    first, last = min(texts), max(texts)
    end = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), min(len(first), len(last)))
    return first[:end]


def literal(text: str) -> str:
    """`text` as a GBNF string literal: `"` and `\\` escaped, control and non-ASCII characters as `\\x`, `\\u` or
    `\\U` escapes (the grammar itself is ASCII)."""
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02X}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    return '"' + "".join(out) + '"'
