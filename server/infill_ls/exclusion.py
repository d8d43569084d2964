"""Which files are excluded: never completed in, never used as context, never sent to an engine (`infill.exclude`).

The patterns are gitignore patterns, applied in this order, a later match winning (so `!pattern` re-includes):
the built-in default (`config.DEFAULT_EXCLUDE`, given by the server), the user's `infill.exclude` (which extends
the default, never replaces it), and the `.infillignore` at the root of the file's workspace folder. A file inside
a workspace folder is matched by its path relative to that folder; a file outside every folder by its whole path
(so `.env` matches any file of that name and `.ssh/` any file under a `.ssh` folder, wherever it lies). Each
`.infillignore` is read again when it changes (its modification time or size).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from pygls.uris import to_fs_path

from .completion.crossfile import gitignore

IGNORE_FILE = ".infillignore"
DEFAULT = "infill.exclude default"
USER = "infill.exclude"


def compiles(pattern: str) -> bool:
    """Whether `pattern` is one gitignore pattern (not a blank line or a comment, which match nothing)."""
    return gitignore.line_pattern(pattern) is not None


@dataclass(frozen=True)
class Rules:
    """Patterns in the order they apply, each with where it comes from; those that are no pattern are left out.
    They are decided as git decides a `.gitignore` at a tree's root (completion/crossfile/gitignore.py): each
    directory on the way down first, so `secrets/` then `!secrets/x.py` keeps `secrets/x.py` excluded."""

    patterns: tuple[tuple[str, str], ...]
    """(pattern, origin) pairs."""
    _rules: gitignore.Rules = field(init=False, repr=False, compare=False)
    _kept: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = [(gitignore.line_pattern(p), (p, origin)) for p, origin in self.patterns]
        kept = [(pattern, named) for pattern, named in compiled if pattern is not None]
        object.__setattr__(self, "_rules", gitignore.Rules("", tuple(pattern for pattern, _ in kept)))
        object.__setattr__(self, "_kept", tuple(named for _, named in kept))

    def reason(self, path: str) -> str | None:
        """Why `path` (POSIX, relative) is excluded, naming the pattern that decided; None when it is not."""
        index = self._rules.ignoring(path)
        if index is None:
            return None
        pattern, origin = self._kept[index]
        return f'matches "{pattern}" ({origin})'


def rules(default: Sequence[str], user: Sequence[str] = (), ignore_file: Sequence[str] = ()) -> Rules:
    """The default patterns, then the user's, then a folder's `.infillignore` lines."""
    return Rules((*((p, DEFAULT) for p in default), *((p, USER) for p in user),
                  *((p, IGNORE_FILE) for p in ignore_file)))


def matched_path(path: PurePosixPath, folder: PurePosixPath | None) -> str:
    """What the patterns are matched against: the path relative to its folder, else the whole path."""
    if folder is not None:
        return path.relative_to(folder).as_posix()
    return path.as_posix().lstrip("/")


class Exclusions:
    """Owns the exclusion rules in force: the user's patterns, each folder's `.infillignore` (read again when it
    changes), and the reasons of the open documents that are excluded (sent in `infill/status`)."""

    def __init__(self, default: Sequence[str]) -> None:
        self.open: dict[str, str] = {}
        """URI (as the client sent it) -> why, for each open document that is excluded."""
        self._default = tuple(default)
        self._user: tuple[str, ...] = ()
        self._outside = rules(self._default)
        self._folders: dict[Path, tuple[tuple[int, int], Rules]] = {}
        self._key: object = None
        self._rules_key: object = None

    @property
    def state(self) -> object:
        """Changes whenever what is excluded may have changed (patterns, an `.infillignore`, the open documents)."""
        return self._key

    @property
    def rules_state(self) -> object:
        """Changes whenever the rules may have changed (patterns, folders, an `.infillignore`), not when documents
        open or close: what a context block built under it may have read stays allowed while it stays."""
        return self._rules_key

    def configure(self, user: Sequence[str]) -> None:
        """The user's `infill.exclude`."""
        if tuple(user) != self._user:
            self._user = tuple(user)
            self._outside = rules(self._default, self._user)
            self._folders.clear()

    def reason(self, uri: str, folders: Sequence[Path]) -> str | None:
        """Why the document `uri` is excluded, or None."""
        return self.path_reason(uri_path(uri), folders)

    def path_reason(self, path: Path, folders: Sequence[Path]) -> str | None:
        """Why the file `path` is excluded, or None. A symbolic link is excluded when its target is too."""
        candidates = [path]
        real = _real(path)
        if real != path:
            candidates.append(real)
        for candidate in candidates:
            folder = _containing(candidate, folders)
            if folder is None and candidate is real:
                folder = _containing(candidate, [_real(f) for f in folders])
            spec = self._outside if folder is None else self._folder_rules(folder)
            why = spec.reason(matched_path(PurePosixPath(candidate.as_posix()),
                                           None if folder is None else PurePosixPath(folder.as_posix())))
            if why is not None:
                return why
        return None

    def refresh(self, uris: Iterable[str], folders: Sequence[Path]) -> bool:
        """Work out again which of the open documents `uris` are excluded; whether that changed."""
        uris = tuple(sorted(uris))
        rules_key = (self._user, tuple(folders), tuple(_mtime(f / IGNORE_FILE) for f in folders))
        key = (uris, rules_key)
        if key == self._key:
            return False
        self._key, self._rules_key = key, rules_key
        reasons = {uri: why for uri in uris if (why := self.reason(uri, folders)) is not None}
        changed = reasons != self.open
        self.open = reasons
        return changed

    def _folder_rules(self, folder: Path) -> Rules:
        stamp = _mtime(folder / IGNORE_FILE)
        cached = self._folders.get(folder)
        if cached is None or cached[0] != stamp:
            cached = self._folders[folder] = (stamp, rules(self._default, self._user, _lines(folder / IGNORE_FILE)))
        return cached[1]


def uri_path(uri: str) -> Path:
    """The local path of a `file:` URI; for another scheme (`untitled:`), the path part of the URI."""
    local = to_fs_path(uri)
    return Path(os.path.abspath(local)) if local else Path(urlsplit(uri).path or uri)


def _containing(path: Path, folders: Sequence[Path]) -> Path | None:
    return next((f for f in folders if path.is_relative_to(f)), None)


def _real(path: Path) -> Path:
    """The path with symbolic links resolved; itself when that fails (a loop, a null byte)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path


def _mtime(path: Path) -> tuple[int, int]:
    """The file's modification time and size ((-1, -1) when there is none): a change of either is a change."""
    try:
        stat = path.stat()
    except (OSError, ValueError):
        return (-1, -1)
    return (stat.st_mtime_ns, stat.st_size)


def _lines(path: Path) -> list[str]:
    """The lines of a rules file as git splits them (at `\\n`, a `\\r` before it dropped; a byte order mark
    skipped), undecodable bytes kept as they are."""
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    except OSError:
        return []
    return [line.removesuffix("\r") for line in text.split("\n")]
