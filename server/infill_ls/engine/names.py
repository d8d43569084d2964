"""Which tokens may come next when a generation must begin with one of some names (`GenerationParams.names`).

Monitor-guided decoding (Agrawal et al., "Monitor-Guided Decoding of Code LMs with Static Analysis of Repository
Context", NeurIPS 2023): where static analysis knows every name that may follow (`module.`, `Class.`), the
tokens that would spell anything else are masked out until the name is written. Pure functions over the
vocabulary's pieces (their bytes); the engine turns the answer into a mask over its logits.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


def continues_name(byte: int) -> bool:
    """Whether a byte can continue an identifier: ASCII letters, digits, `_`, `$`, and any byte of a non-ASCII
    character (Python and JavaScript allow letters beyond ASCII), so that a name is never glued to more."""
    return byte >= 0x80 or chr(byte).isalnum() or byte in b"_$"


class Pieces:
    """The vocabulary's pieces: sorted for prefix search, and by their exact bytes."""

    def __init__(self, pieces: Sequence[tuple[bytes, int]]) -> None:
        self.sorted = sorted(pieces)
        self.exact: dict[bytes, list[int]] = {}
        for piece, token in self.sorted:
            self.exact.setdefault(piece, []).append(token)
        self.boundary = frozenset(t for piece, t in self.sorted if piece and not continues_name(piece[0]))
        """The tokens that begin with a byte that cannot continue a name: what may follow a whole one."""

    def starting_with(self, prefix: bytes) -> Iterator[tuple[bytes, int]]:
        at = bisect.bisect_left(self.sorted, (prefix, -1))
        while at < len(self.sorted) and self.sorted[at][0].startswith(prefix):
            yield self.sorted[at]
            at += 1


@dataclass(frozen=True)
class Allowed:
    tokens: frozenset[int]
    """Tokens that keep the text a prefix of a name, or write a name to its end and go on past it."""
    whole: bool
    """The text so far is a whole name: any `Pieces.boundary` token may come next, and the generation may end."""


def name_ended(done: bytes) -> bool:
    """Whether `done` (the bytes generated so far) holds a name and a byte past it: the constraint is over."""
    return any(not continues_name(b) for b in done)


def next_tokens(done: bytes, names: Sequence[bytes], pieces: Pieces) -> Allowed | None:
    """The tokens that may come after `done` so that it stays on one of `names`; None once a name has ended (the
    rest is free) or when no name can be reached from `done` (nothing to constrain to)."""
    if name_ended(done):
        return None
    tokens: set[int] = set()
    whole = False
    for name in names:
        if not name.startswith(done):
            continue
        rest = name[len(done):]
        if not rest:
            whole = True
            continue
        for end in range(1, len(rest) + 1):  # a piece that stops inside the name or at its end
            tokens.update(pieces.exact.get(rest[:end], ()))
        for piece, token in pieces.starting_with(rest):  # one that ends the name and goes on past it
            if len(piece) > len(rest) and not continues_name(piece[len(rest)]):
                tokens.add(token)
    if not tokens and not whole:
        return None
    return Allowed(frozenset(tokens), whole)
