"""The owner of cross-file context: which documents were used last, which regions were edited, and the context
block of each document, rebuilt only when its sources change (so that typing keeps the prompt's start fixed).

Sources (each switched by `infill.context.*`): the other open documents; regions recently edited in them; and
the definitions of the names a file imports (Python, JavaScript, TypeScript, Go: imports.py), read
from disk inside the workspace folders the client announced (never outside them, never a path git ignores, never
a file over `maxFileKb`). A file read for a block, and each `.gitignore` that decided it could be, is looked at again
(`stat`: its modification time and size) on each request that would reuse the block: changed outside the editor,
it rebuilds the block.

A block changes the prompt at its start, so changing it costs the whole prompt: it is kept while it stays valid.
What the document itself does (its imports, the cursor's region, the settings, the folders, the exclusions, a file
the block read changing on disk) rebuilds it at the next request. What happens elsewhere (another document opened,
closed or edited) only makes it *stale*: with a client that says where the user rests (`infill/didFocus`), a stale
block keeps serving requests (a switch back to a file resumes its kept KV state) and its successor is built by the
warm-up, kept `pending`, and `adopt`ed once the warm-up has evaluated its prompt (a warm-up in the block's own
region: one elsewhere in the file leaves the block in force). With a client that never says
(Helix), a stale block is rebuilt at the next request, as it always was.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

from lsprotocol import types
from pygls.uris import to_fs_path

from ...config import DEFAULT_EXCLUDE, ContextSettings
from ...exclusion import Exclusions, uri_path
from ...lines import line_breaks, lsp_lines
from ..prompt import NO_BLOCK, CrossFileBlock
from .focus import Binding, choices, imported_bases, need_at, needs_in
from .focus import focus as focus_of
from .gitignore import GitIgnores, Stamp, stamp
from .imports import LANGUAGES, PYTHON, Import, Language, ModuleFile
from .selection import Candidate, select

log = logging.getLogger(__name__)

EDITS_KEPT = 16
"""Edited regions remembered (the oldest is forgotten first)."""
EDIT_MARGIN = 6
"""Lines around an edited region that come with it."""
NEAR_LINES = (40, 10)
"""Lines before and after the cursor whose names rank the chunks."""
REGION_LINES = 64
"""The block is rebuilt when the cursor moves to another region of this many lines (its names rank the chunks)."""
PACKAGE_FILES = 16
"""Files read from one package folder (Go), in name order."""
CHARS_PER_TOKEN = 3.0
"""For the budget: a cautious estimate (source code runs 3-4 characters per token), not the tokenizer, which
belongs to the model thread."""


class Document(Protocol):
    uri: str
    source: str
    version: int | None


@dataclass(frozen=True)
class Edit:
    uri: str
    first: int
    last: int


StaleBlock = Literal["rebuild", "keep", "pending"]
"""What a request does with a block made stale by other documents: rebuild it at once (a client that never tells
where the user rests), keep serving it (one that does), or build its successor as pending (the warm-up)."""


@dataclass(frozen=True)
class Built:
    """A block with what it was built under: what the document itself decides (`own`: a change rebuilds it), what
    other documents decide (`elsewhere`: a change makes it stale), the files it read and the names' bindings."""

    own: Any
    elsewhere: Any
    block: CrossFileBlock
    stamps: Stamps
    bindings: Bindings


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


class CrossFileSources:
    def __init__(self, exclusions: Exclusions | None = None) -> None:
        self.recency: dict[str, int] = {}
        """A counter per document, bumped when it is edited or completed in: larger is more recent."""
        self.edits: deque[Edit] = deque(maxlen=EDITS_KEPT)
        self.blocks: dict[str, Built] = {}
        """Per document: the block in force, with what it was built under."""
        self.pending: dict[str, Built] = {}
        """Per document: a fresher block built by a warm-up, in force once `adopt`ed."""
        self._stamps: Stamps = {}
        """What the block being built has read so far."""
        self._real_folders: list[Path] = []
        """The workspace folders, resolved (once per rebuild)."""
        self._texts: dict[Path, str | None] = {}
        """The files read for the block being built (None: not to be read)."""
        self._clock = 0
        self._gitignores = GitIgnores()
        self._exclusions = exclusions or Exclusions(DEFAULT_EXCLUDE)
        self._failures: set[type[Exception]] = set()
        """The kinds of failure already logged (each once: a message may name a path, and paths are many)."""

    # --- events ----------------------------------------------------------------------------------------------

    def touch(self, uri: str) -> None:
        self._clock += 1
        self.recency[uri] = self._clock

    def edited(self, uri: str, changes: Iterable[Any]) -> None:
        """Remember the lines an edit touched (incremental changes; a whole-text change marks no region)."""
        self.touch(uri)
        for change in changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                first = change.range.start.line
                last = first + line_breaks(change.text)
                latest = self.edits[-1] if self.edits else None
                if latest is not None and latest.uri == uri and latest.first - 2 <= first <= latest.last + 2:
                    self.edits[-1] = Edit(uri, min(first, latest.first), max(last, latest.last))
                else:
                    self.edits.append(Edit(uri, first, last))

    def forget(self, uri: str) -> None:
        self.recency.pop(uri, None)
        self.blocks.pop(uri, None)
        self.pending.pop(uri, None)
        self.edits = deque((e for e in self.edits if e.uri != uri), maxlen=EDITS_KEPT)

    # --- the block -------------------------------------------------------------------------------------------

    def extra(self, uri: str, text: str, offset: int, docs: Mapping[str, Document], folders: Sequence[Path],
              settings: ContextSettings, stale: StaleBlock = "rebuild") -> CrossFileBlock:
        """The context block for a request in `uri` at `offset`: the one built before unless a source changed.
        Context only improves a completion: a defect here costs the block (said once in the log), never the
        completion."""
        try:
            return self._extra(uri, text, offset, docs, folders, settings, stale)
        except Exception as exc:
            if type(exc) not in self._failures:
                self._failures.add(type(exc))
                log.exception("no context for %s: building it failed (the completion goes on without it)", uri)
            return NO_BLOCK

    def adopt(self, uri: str, block: CrossFileBlock) -> bool:
        """Put the pending block of `uri` in force if `block` (as `extra` gave it, focus aside) is that block: a
        warm-up has evaluated the prompt it makes. Whether it did. Only the successor of the block in force is
        adopted (built under what the document itself decides, its region included): a warm-up elsewhere in the
        file (a focus at the top: Neovim's on entering it, before it waited for the cursor) would leave the region in
        force to a rebuild, while a request there gets the block the warm-up evaluated anyway (built again, the
        same)."""
        pending, built = self.pending.get(uri), self.blocks.get(uri)
        if pending is None or pending.block != dataclasses.replace(block, focus=None):
            return False
        if built is not None and built.own != pending.own:
            return False
        self.blocks[uri] = self.pending.pop(uri)
        return True

    def _extra(self, uri: str, text: str, offset: int, docs: Mapping[str, Document], folders: Sequence[Path],
               settings: ContextSettings, stale: StaleBlock = "rebuild") -> CrossFileBlock:
        """The block built for the cursor's region (kept while its sources stay), with the focus the cursor's own
        line needs (computed per request from what the block's build found the imported names to be)."""
        if not settings.enable or settings.budgetTokens <= 0:
            return NO_BLOCK
        extra, bindings = self._block(uri, text, offset, docs, folders, settings, stale)
        line_start = text.rfind("\n", 0, offset) + 1
        line_prefix = text[line_start:offset]
        need = need_at(line_prefix)
        if need is None:
            return extra
        for binding in bindings.get(need.local, ()):
            if (found := focus_of(need, binding)) is not None:
                held = choices(need, binding, line_prefix, text)
                return dataclasses.replace(extra, focus=dataclasses.replace(found, choices=held))
        return extra

    def _block(self, uri: str, text: str, offset: int, docs: Mapping[str, Document], folders: Sequence[Path],
               settings: ContextSettings, stale: StaleBlock) -> tuple[CrossFileBlock, Bindings]:
        path = Path(to_fs_path(uri) or uri)
        others = tuple(sorted((u, d.version) for u, d in docs.items() if u != uri)) if settings.openDocuments else ()
        edits = tuple(e for e in self.edits if e.uri != uri) if settings.recentEdits else ()
        parser = LANGUAGES.get(path.suffix)
        imports = tuple(parser.imports(text)) if parser and (settings.imports or settings.openDocuments) else ()
        line = line_breaks(text, 0, offset)
        own = (settings, imports, tuple(folders), line // REGION_LINES, self._exclusions.rules_state)
        elsewhere = (others, edits)
        built = self.blocks.get(uri)
        valid = built is not None and built.own == own and unchanged(built.stamps)
        if built is not None and valid and (built.elsewhere == elsewhere or stale == "keep"):
            return built.block, built.bindings
        pending = self.pending.get(uri)
        if stale == "pending" and pending is not None and (pending.own, pending.elsewhere) == (own, elsewhere) \
                and unchanged(pending.stamps):
            return pending.block, pending.bindings
        fresh = self._build(uri, path, text, line, docs, folders, settings, edits, parser, imports, own, elsewhere)
        if stale == "pending" and built is not None:  # a warm-up never replaces the block in force: a request
            self.pending[uri] = fresh  # may cut it short, and then needs the state the block in force has
        else:
            self.blocks[uri] = fresh
            self.pending.pop(uri, None)
        return fresh.block, fresh.bindings

    def _build(
        self, uri: str, path: Path, text: str, line: int, docs: Mapping[str, Document], folders: Sequence[Path],
        settings: ContextSettings, edits: Sequence[Edit], parser: Language | None, imports: Sequence[Import],
        own: Any, elsewhere: Any,
    ) -> Built:
        language = parser if settings.imports else None
        self._stamps = {}
        self._real_folders = [r for r in map(resolved, folders) if r is not None]  # once per rebuild
        self._texts = {}
        candidates = self._candidates(uri, path, docs, folders, settings, edits, language, imports)
        bindings = self._bindings(uri, path, docs, folders, settings, parser, imports)
        lines = lsp_lines(text)
        near = "".join(lines[max(0, line - NEAR_LINES[0]) : line + NEAR_LINES[1]])
        candidates = focus_candidates(near, bindings, candidates)
        snippets = select(candidates, near, settings.budgetTokens, estimate_tokens)
        folder = containing(path, folders)
        extra = CrossFileBlock(snippets, shown_path(path, folders), folder.name if folder else path.parent.name)
        if snippets:
            log.debug("context for %s: %s", uri, ", ".join(f"{s.source}:{s.path}" for s in snippets))
        return Built(own, elsewhere, extra, self._stamps, bindings)

    def _bindings(
        self, uri: str, path: Path, docs: Mapping[str, Document], folders: Sequence[Path], settings: ContextSettings,
        language: Language | None, imports: Sequence[Import],
    ) -> Bindings:
        """What each imported name stands for (modules before definitions), from the open documents (where
        `openDocuments` is on; an absolute import is looked for in the current file's folders too, so that an
        open module is found without a workspace folder) and from the files the imports source may read."""
        if language is None or not imports:
            return {}
        limit = settings.maxFileKb * 1024
        private = Private(self, folders)
        opened: dict[PurePosixPath, str] = {}
        if settings.openDocuments:
            for other, doc in docs.items():
                local = to_fs_path(other)
                if other != uri and local and len(doc.source) <= limit and not private(other):
                    opened[PurePosixPath(Path(os.path.abspath(local)).as_posix())] = doc.source
        roots = [PurePosixPath(f.as_posix()) for f in folders]
        current = PurePosixPath(path.as_posix())
        search = [*roots, *(p for p in current.parents if p not in roots)] if opened else roots
        real_folders = self._real_folders if settings.imports else []
        found: dict[str, list[Binding]] = {}

        def text_of(module: ModuleFile) -> tuple[Path, str] | None:
            for candidate in module.paths:
                if candidate in opened:
                    return Path(candidate), opened[candidate]
                if real_folders and not language.package and (
                        read := self._read(Path(candidate), path, language, real_folders, limit)):
                    return read[0]
            return None

        for imp in imports:
            for module in language.modules(imp, current, search):
                if (got := text_of(module)) is None:
                    continue
                file, text = got
                shown = shown_path(file, folders)
                python = language is PYTHON
                if module.names:
                    for name in module.names:
                        bases = base_bindings(file, text, name, language, search, text_of) if python else ()
                        found.setdefault(name, []).append(Binding(shown, text, name, python, bases))
                else:
                    stem = file.parent.name if file.stem in ("__init__", "index") else file.stem
                    found.setdefault(stem, []).insert(0, Binding(shown, text, "", python))
        return {name: tuple(bound) for name, bound in found.items()}

    def _candidates(
        self, uri: str, path: Path, docs: Mapping[str, Document], folders: Sequence[Path], settings: ContextSettings,
        edits: Sequence[Edit], language: Language | None, imports: Sequence[Import],
    ) -> list[Candidate]:
        limit = settings.maxFileKb * 1024
        out: list[Candidate] = []
        private = Private(self, folders)
        if settings.openDocuments:
            for other, doc in docs.items():
                if other != uri and len(doc.source) <= limit and not private(other):
                    out.append(Candidate(shown_path(Path(to_fs_path(other) or other), folders), doc.source, "open",
                                         self.recency.get(other, 0)))
        for k, edit in enumerate(edits):
            edited = docs.get(edit.uri)
            if edited is None or private(edit.uri):
                continue
            rows = lsp_lines(edited.source)
            first = max(0, edit.first - EDIT_MARGIN)
            region = "".join(rows[first : edit.last + EDIT_MARGIN + 1])
            out.append(Candidate(shown_path(Path(to_fs_path(edit.uri) or edit.uri), folders), region, "edit",
                                 self._clock + k, first))
        if language is not None and imports:
            out += self._imported(path, folders, language, imports, limit)
        return out

    def _imported(
        self, path: Path, folders: Sequence[Path], language: Language, imports: Sequence[Import], limit: int
    ) -> list[Candidate]:
        """The definitions the imports name, from the first of each module's paths that may be read (a file, or
        for Go a package folder's files)."""
        out = []
        real_folders = self._real_folders
        roots = [PurePosixPath(f.as_posix()) for f in folders]
        for imp in imports:
            for module in language.modules(imp, PurePosixPath(path.as_posix()), roots):
                read = next(filter(None, (self._read(Path(p), path, language, real_folders, limit)
                                          for p in module.paths)), [])
                for file, found in read:
                    text = language.definitions(found, module.names)
                    if text.strip():
                        out.append(Candidate(shown_path(file, folders), text, "import"))
        return out

    def _read(self, candidate: Path, current: Path, language: Language, real_folders: Sequence[Path],
              limit: int) -> list[tuple[Path, str]]:
        """The files a module's path stands for (itself, or a package folder's files) that may be read, with their
        text; never the current file."""
        if language.package and (folder := resolved(candidate)) is not None and (now := stamp(folder)) is not None:
            self._stamps[folder] = now  # a file added to or taken from the package changes the folder's time
        files = package_files(candidate, language.package, real_folders) if language.package else [candidate]
        return [(f, text) for f in files if f != current and (text := self._text(f, real_folders, limit)) is not None]

    def _text(self, candidate: Path, real_folders: Sequence[Path], limit: int) -> str | None:
        """`_readable`, once per file and rebuild (the block and the bindings read the same modules)."""
        if candidate not in self._texts:
            self._texts[candidate] = self._readable(candidate, real_folders, limit)
        return self._texts[candidate]

    def _readable(self, candidate: Path, real_folders: Sequence[Path], limit: int) -> str | None:
        """The file's text if it lies inside a workspace folder (`real_folders`: resolved), is not ignored by git,
        and is small enough."""
        real = resolved(candidate)
        try:
            if real is None or not stat.S_ISREG((info := real.stat()).st_mode) or info.st_size > limit:
                return None
        except OSError:
            return None
        folder = containing(real, real_folders)
        rules: Stamps = {}
        if folder is None or self._gitignores.ignored(folder, real, rules) or self.excluded(real, real_folders):
            return None
        try:
            text = real.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        self._stamps[real] = (info.st_mtime_ns, info.st_size)  # taken before the read: a later write is newer
        self._stamps.update(rules)  # a rules file changed may ignore it now
        return text

    def excluded(self, path: Path, folders: Sequence[Path]) -> bool:
        """Whether `infill.exclude` or an `.infillignore` excludes the file."""
        return self._exclusions.path_reason(path, folders) is not None

    def ignored(self, path: Path, folders: Sequence[Path]) -> bool:
        """Whether git ignores the file (an open document may lie outside every folder: its own repository's rules
        are read from its folder up)."""
        real = resolved(path)
        if real is None:
            return True
        folder = containing(real, [r for r in map(resolved, folders) if r is not None]) or real.parent
        try:
            return self._gitignores.ignored(folder, real)
        except (OSError, ValueError):
            return False


Bindings = Mapping[str, Sequence[Binding]]
"""Imported name -> what it may stand for (a module first, then a definition of that name), in import order."""

Stamps = dict[Path, Stamp]
"""The files a block read, the package folders it listed and the `.gitignore` files that let it read them (also
those that were not there), with their stamps then."""


def focus_candidates(near: str, bindings: Bindings, candidates: Sequence[Candidate]) -> list[Candidate]:
    """`candidates` and what the code near the cursor needs from the imported names (their outlines, members,
    signatures), ranked best: a candidate that holds those lines already (an imported definition holds its
    signature) is marked as needed, else they come as a candidate of their own (source `focus`)."""
    out = list(candidates)
    for need in needs_in(near):
        found = next(filter(None, (focus_of(need, b) for b in bindings.get(need.local, ()))), None)
        if found is None:
            continue
        holder = next((k for k, c in enumerate(out) if c.path == found.path and found.code in c.text), None)
        if holder is None:
            out.append(Candidate(found.path, found.code, "focus", needed=True))
        else:
            out[holder] = dataclasses.replace(out[holder], needed=True)
    return out


def unchanged(stamps: Stamps) -> bool:
    """Whether every file a block read is as it was (a file edited outside the editor, or a `.gitignore` that may
    ignore it now, rebuilds the block: one `stat` per file, per request)."""
    return all(stamp(path) == then for path, then in stamps.items())


class Private:
    """Whether an open document must not be context (excluded or git-ignored), asked once per document."""

    def __init__(self, sources: CrossFileSources, folders: Sequence[Path]) -> None:
        self._sources = sources
        self._folders = folders
        self._known: dict[str, bool] = {}

    def __call__(self, uri: str) -> bool:
        known = self._known.get(uri)
        if known is None:
            path = uri_path(uri)
            on_disk = to_fs_path(uri) is not None  # an `untitled:` document is in no repository
            known = self._known[uri] = self._sources.excluded(path, self._folders) or (
                on_disk and self._sources.ignored(path, self._folders))
        return known


def package_files(folder: Path, suffix: str, real_folders: Sequence[Path]) -> list[Path]:
    """A package folder's source files (not its tests), at most PACKAGE_FILES, if it lies in the workspace."""
    real = resolved(folder)
    if real is None or containing(real, real_folders) is None:
        return []
    try:
        names = sorted(p.name for p in folder.iterdir() if p.suffix == suffix and not p.stem.endswith("_test"))
    except OSError:
        return []
    return [folder / name for name in names[:PACKAGE_FILES]]


def resolved(path: Path) -> Path | None:
    """The real path (symlinks followed), or None for a symlink loop (RuntimeError before Python 3.13)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def containing(path: Path, folders: Sequence[Path]) -> Path | None:
    for folder in folders:
        try:
            path.relative_to(folder)
        except ValueError:
            continue
        return folder
    return None


def shown_path(path: Path, folders: Sequence[Path]) -> str:
    """The path the model is shown: relative to its workspace folder, else the file's name."""
    folder = containing(path, folders)
    return path.relative_to(folder).as_posix() if folder is not None else path.name


def workspace_folders(folders: Iterable[Any]) -> list[Path]:
    """The local paths of the client's workspace folders (`file:` URIs only)."""
    out = []
    for folder in folders:
        local = to_fs_path(folder.uri)
        if local:
            out.append(Path(os.path.abspath(local)))
    return out


def base_bindings(file: Path, text: str, cls: str, language: Language, search: Sequence[PurePosixPath],
                  text_of: Callable[[ModuleFile], tuple[Path, str] | None]) -> tuple[Binding, ...]:
    """The bases of class `cls` in `text` that its module imports from another module, bound to their modules'
    texts where those may be read under the same rules as the class's own (open, or in a workspace folder), so
    that the names the class inherits are known (`focus.choices`). One level: a base's own imported bases are
    not followed (a class that has them stays unknown)."""
    wanted = set(imported_bases(text, cls))
    if not wanted:
        return ()
    out = []
    for imp in language.imports(text):
        for module in language.modules(imp, PurePosixPath(file.as_posix()), search):
            for name in wanted.intersection(module.names):
                if (got := text_of(module)) is not None:
                    out.append(Binding(str(got[0]), got[1], name))
                    wanted.discard(name)
    return tuple(out)
