"""Whether git ignores a path, as git reads its rules: every `.gitignore` from the repository's root down to the
path's directory (a deeper file overrides a shallower one, `!` re-includes), `.git/info/exclude` under them all,
and nothing under an ignored directory can be re-included.

The repository's root is the nearest folder at or above the workspace folder that holds `.git`; a folder outside
any repository still has its own `.gitignore` files read from the folder down. The global excludes file
(`core.excludesFile`) is not read: it would need git's configuration. Each rules file is read again only when it
changes (its modification time).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pathspec

Rules = pathspec.GitIgnoreSpec | None


class GitIgnores:
    def __init__(self) -> None:
        self._rules: dict[Path, tuple[tuple[float, ...], Rules]] = {}

    def ignored(self, folder: Path, path: Path) -> bool:
        """Whether git ignores `path`, a file inside `folder` (both resolved)."""
        root = self._root(folder)
        relative = PurePosixPath(path.relative_to(root).as_posix())
        directories = [PurePosixPath(*relative.parts[:n]) for n in range(len(relative.parts))]
        rules = [(d, self._read(root, d)) for d in directories]
        for depth, target in enumerate([*directories[1:], relative], start=1):
            as_dir = "/" if depth < len(relative.parts) else ""
            decision: bool | None = None
            for where, spec in rules[:depth]:  # the rules of every directory above the target, deepest last
                if spec is not None:
                    result = spec.check_file(target.relative_to(where).as_posix() + as_dir)
                    if result.include is not None:
                        decision = result.include
            if decision:
                return True
        return False

    @staticmethod
    def _root(folder: Path) -> Path:
        return next((p for p in (folder, *folder.parents) if (p / ".git").exists()), folder)

    def _read(self, root: Path, directory: PurePosixPath) -> Rules:
        """The rules of one directory: its `.gitignore`, after `.git/info/exclude` for the root (later wins)."""
        files = [root / directory / ".gitignore"]
        if not directory.parts:
            files.insert(0, root / ".git" / "info" / "exclude")
        stamps = tuple(_mtime(f) for f in files)
        key = root / directory
        cached = self._rules.get(key)
        if cached is None or cached[0] != stamps:
            lines = [line for f, stamp in zip(files, stamps, strict=True) if stamp >= 0 for line in _lines(f)]
            cached = self._rules[key] = (stamps, _spec(lines))
        return cached[1]


def _spec(lines: list[str]) -> Rules:
    """The rules of `lines`; a line that is no pattern (`!`, `[z-a]`) is passed over, as git passes it over."""
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
    except Exception:  # pathspec names no one error type for a bad pattern (re.error, GitIgnorePatternError)
        good = [line for line in lines if _compiles(line)]
        return pathspec.GitIgnoreSpec.from_lines(good) if good else None


def _compiles(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except Exception:
        return False
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
