"""Text documents whose lines are the protocol's lines.

pygls's `TextDocument` splits its text with `str.splitlines`, which also breaks lines at `\\v`, `\\f`,
`\\x1c`-`\\x1e`, `\\x85`, U+2028 and U+2029. LSP lines end only at `\\n`, `\\r\\n` and `\\r`, so in a file that holds
one of those characters (a form feed: fourteen modules of Python's standard library) every position after it
points one line too far: it is "out of range" or lands in the wrong place, and incremental edits corrupt the
server's copy. `LspDocument` only redefines `lines` (cut as every text the server holds is cut: lines.py); pygls
derives offsets, position conversion (in the negotiated encoding) and incremental edits from it. `LspProtocol`
makes the workspace create these documents.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import ServerTextPosition

from .lines import lsp_lines


class LspDocument(TextDocument):
    """A pygls text document with LSP lines (see the module docstring)."""

    _lines_of: str | None = None
    _lines: tuple[str, ...] = ()

    @property
    def lines(self) -> Sequence[str]:
        source = self.source
        if source is not self._lines_of:  # split once per version of the text, not once per position
            self._lines_of, self._lines = source, lsp_lines(source)
        return self._lines

    def server_position_at_offset(self, offset: int) -> ServerTextPosition:
        """pygls puts the end of a text without a final line break on the line after the last one."""
        lines = self.lines
        if lines and offset >= len(self.source) and not lines[-1].endswith(("\n", "\r")):
            return ServerTextPosition(len(lines) - 1, len(lines[-1]))
        return super().server_position_at_offset(offset)


class LspWorkspace(Workspace):
    """A pygls workspace that keeps its text documents as `LspDocument`s."""

    def _create_text_document(
        self, doc_uri: str, source: str | None = None, version: int | None = None, language_id: str | None = None
    ) -> TextDocument:
        return LspDocument(doc_uri, source=source, version=version, language_id=language_id,
                           sync_kind=self._sync_kind, position_codec=self.position_codec)


class LspProtocol(LanguageServerProtocol):
    """pygls's protocol with an `LspWorkspace`: pygls makes its workspace at `initialize`; this one takes over
    the same root, folders, sync kind and position encoding before any document can be opened."""

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, types.InitializeResult]:
        result = yield from super().lsp_initialize(params)
        made = self.workspace
        self._workspace = LspWorkspace(made.root_uri, made._sync_kind, list(made.folders.values()),
                                       made.position_encoding)
        return result
