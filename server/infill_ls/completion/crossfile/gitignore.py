"""Whether git ignores a path, decided as git decides it (`git check-ignore --no-index`, the rules alone): every
`.gitignore` from the repository's root down to the path's directory (a deeper file overrides a shallower one, the
last matching line of a file wins, `!` re-includes), `.git/info/exclude` under them all, and nothing under an
ignored directory can be re-included.

"Ignored" means matched by the rules, tracked or not (plain `git check-ignore` never calls a tracked file ignored;
a secret committed by mistake and listed in `.gitignore` since is still one). The repository's root is the nearest
folder at or above the workspace folder that holds `.git`; a folder outside any repository still has its own
`.gitignore` files read from the folder down. The global excludes file (`core.excludesFile`) is not read: it would
need git's configuration. Each rules file is read again only when it changes.

The rules are git's own (dir.c and wildmatch.c), not pathspec's `GitIgnoreSpec`: that one matches a path against
every pattern whole, so a directory pattern also matches the files below it (`*`, `!*/`, `!*.py` re-included
nothing in a subfolder; `config/` then `!config/**` re-included `config/db.py`, which git keeps ignored). Here
each directory on the way down is decided first, a `dir/` pattern matches only directories, and a pattern becomes
one regular expression with wildmatch's meaning (`*` and `?` stop at `/`, `**` only between slashes crosses them,
`[...]` with ranges, `!`/`^` and `[:class:]`). Paths and rules are compared byte by byte, as git compares them:
both are taken as UTF-8 bytes, one character per byte. tests/unit/test_gitignore.py holds the answers against git
itself over a seeded random table. Git itself is not asked: the answer is the same with git installed or not, and
no process is started when a context block is rebuilt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NEVER = re.compile(r"(?!)")
"""The pattern of a line git can never match with (`[` unclosed, `[[:nope:]]`, a trailing `\\`)."""
CLASSES = {
    "alnum": "A-Za-z0-9", "alpha": "A-Za-z", "blank": " \t", "cntrl": "\x00-\x1f\x7f", "digit": "0-9",
    "graph": "!-~", "lower": "a-z", "print": " -~", "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "space": " \t\n\r", "upper": "A-Z", "xdigit": "0-9A-Fa-f",
}
"""wildmatch's `[:name:]` classes, as git's own ctype defines them (ASCII only; `\\v` and `\\f` are no space)."""


@dataclass(frozen=True)
class Pattern:
    """One line of a rules file."""

    regex: re.Pattern[str]
    negated: bool
    directories_only: bool
    """The line ended in `/`: it matches directories only."""
    basename: bool
    """The line held no `/` (a trailing one aside): it matches a name at any depth below its file's folder."""


@dataclass(frozen=True)
class Rules:
    """The patterns of one directory's rules file; `base`: that directory relative to the root, `""` or ending in
    `/` (bytes as characters)."""

    base: str
    patterns: tuple[Pattern, ...]

    def decision(self, target: str, name: str, is_dir: bool) -> bool | None:
        """Whether the last line that matches `target` (a path relative to the root, under `base`; `name`: its
        last part) ignores it (True) or re-includes it (False); None when no line matches."""
        index = self.last_match(target, name, is_dir)
        return None if index is None else not self.patterns[index].negated

    def last_match(self, target: str, name: str, is_dir: bool) -> int | None:
        """The index of the last line that matches `target` (as in `decision`), or None."""
        relative = target[len(self.base):]
        for index in range(len(self.patterns) - 1, -1, -1):
            pattern = self.patterns[index]
            if pattern.directories_only and not is_dir:
                continue
            if pattern.regex.fullmatch(name if pattern.basename else relative):
                return index
        return None

    def ignoring(self, path: str) -> int | None:
        """For the rules of a tree's root alone (`base` ""; an exclusion list): the index of the line that ignores
        the file `path` (POSIX, relative to the root) or the directory above it that holds it, deciding each
        directory on the way down first, as git does; None when it is not ignored. Nothing under an ignored
        directory is re-included."""
        parts = [_bytes(part) for part in path.split("/") if part]
        for depth in range(1, len(parts) + 1):
            index = self.last_match("/".join(parts[:depth]), parts[depth - 1], depth < len(parts))
            if index is not None and not self.patterns[index].negated:
                return index
        return None


Stamp = tuple[int, int] | None
"""A file's modification time (ns) and size; None where there is no file."""


class GitIgnores:
    def __init__(self) -> None:
        self._rules: dict[Path, tuple[Stamp, Rules | None]] = {}

    def ignored(self, folder: Path, path: Path, used: dict[Path, Stamp] | None = None) -> bool:
        """Whether git ignores `path`, a file inside `folder` (both resolved). `used` is given the rules files
        looked at, with the stamps of the versions read (None: no such file): when one changes, so may the answer."""
        root = self._root(folder)
        names = path.relative_to(root).parts
        parts = [_bytes(name) for name in names]
        used = {} if used is None else used
        exclude = self._read(root / ".git" / "info" / "exclude", "", used)
        stack = [self._read(root / ".gitignore", "", used)]
        for depth in range(1, len(parts) + 1):
            target, is_dir = "/".join(parts[:depth]), depth < len(parts)
            decision = None
            for rules in (*reversed(stack), exclude):  # the deepest file first, info/exclude last
                if rules is not None and (decision := rules.decision(target, parts[depth - 1], is_dir)) is not None:
                    break
            if decision:
                return True  # the file, or a directory above it: nothing below an ignored one is looked at
            if is_dir:
                stack.append(self._read(root.joinpath(*names[:depth], ".gitignore"), target + "/", used))
        return False

    @staticmethod
    def _root(folder: Path) -> Path:
        return next((p for p in (folder, *folder.parents) if (p / ".git").exists()), folder)

    def _read(self, file: Path, base: str, used: dict[Path, Stamp]) -> Rules | None:
        """The rules of one file, read again only when its size or modification time changed. A `.gitignore`
        that is a symbolic link is passed over, as git (2.32 on) passes it over."""
        now = used[file] = stamp(file) if file.name != ".gitignore" or not file.is_symlink() else None
        cached = self._rules.get(file)
        if cached is None or cached[0] != now:
            patterns = tuple(parse(_read_bytes(file))) if now is not None else ()
            cached = self._rules[file] = (now, Rules(base, patterns) if patterns else None)
        return cached[1]


def parse(text: str) -> list[Pattern]:
    """The patterns of a rules file (`text`: its bytes as characters), as git's dir.c reads them: lines split at
    `\\n` (a `\\r` before it dropped), `#` comments, trailing spaces trimmed unless escaped, `!` negates, a
    trailing `/` matches directories only, a leading `/` anchors (as does any other `/`)."""
    if text.startswith("\xef\xbb\xbf"):  # a UTF-8 byte order mark
        text = text[3:]
    out = []
    for raw in text.split("\n"):
        if not raw or raw.startswith("#"):
            continue
        line = _trim_trailing_spaces(raw.removesuffix("\r").split("\0")[0])
        negated = line.startswith("!")
        line = line[negated:]
        directories_only = line.endswith("/")
        line = line[:-1] if directories_only else line
        basename = "/" not in line
        out.append(Pattern(_wildmatch(line if basename else line.removeprefix("/")), negated, directories_only,
                           basename))
    return out


def line_pattern(line: str) -> Pattern | None:
    """The pattern of one rules line given as text (a setting's item), or None when it is none: blank, a comment,
    a line break inside, nothing after `!`, or a line git can never match with."""
    if "\n" in line or "\r" in line:
        return None
    patterns = parse(_bytes(line))
    if len(patterns) != 1 or NEVER.pattern in patterns[0].regex.pattern or not line.strip().lstrip("!").strip():
        return None
    return patterns[0]


def _trim_trailing_spaces(line: str) -> str:
    """git's trim_trailing_spaces: the spaces (not tabs) at the end, unless a backslash escapes the first."""
    end = len(line)
    while end > 0 and line[end - 1] == " ":
        end -= 1
    if end < len(line):
        backslashes = len(line[:end]) - len(line[:end].rstrip("\\"))
        if backslashes % 2:  # `\ ` keeps that space
            end += 1
    return line[:end]


def _wildmatch(pattern: str) -> re.Pattern[str]:
    """The regular expression that matches what git's wildmatch matches with WM_PATHNAME."""
    out, at, n = [], 0, len(pattern)
    while at < n:
        ch = pattern[at]
        if ch == "*":
            stars = at
            while at < n and pattern[at] == "*":
                at += 1
            follows = pattern[at : at + 2]
            delimited = (stars == 0 or pattern[stars - 1] == "/") and (at == n or follows[:1] == "/"
                                                                      or follows == "\\/")
            if at - stars >= 2 and delimited:
                if at == n:
                    out.append(".*")
                else:  # `**/`: no directory or any number of them
                    at += 1 if follows[:1] == "/" else 2
                    out.append("(?:.*/)?")
            else:
                out.append("[^/]*")
            continue
        if ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if at + 1 >= n:
                return NEVER
            at += 1
            out.append(re.escape(pattern[at]))
        elif ch == "[":
            parsed = _bracket(pattern, at)
            if parsed is None:
                return NEVER
            regex, at = parsed
            out.append(regex)
            continue
        else:
            out.append(re.escape(ch))
        at += 1
    return re.compile("".join(out), re.DOTALL)


def _bracket(pattern: str, at: int) -> tuple[str, int] | None:
    """The class that opens at `pattern[at]` (`[`) as a regex, and where the pattern goes on after it; None when
    git aborts the match (no closing `]`, an unknown `[:name:]`)."""
    at += 1
    negated = pattern[at : at + 1] in ("!", "^")
    at += negated
    items: list[str] = []
    previous = ""  # the last single character, for a range (none after a range or a class)
    first = True
    while True:
        if at >= len(pattern):
            return None
        ch = pattern[at]
        if ch == "]" and not first:
            break
        first = False
        if ch == "\\":
            at += 1
            if at >= len(pattern):
                return None
            previous = pattern[at]
            items.append(re.escape(previous))
        elif ch == "-" and previous and at + 1 < len(pattern) and pattern[at + 1] != "]":
            at += 1
            end = pattern[at]
            if end == "\\":
                at += 1
                if at >= len(pattern):
                    return None
                end = pattern[at]
            if previous <= end:
                items.append(f"{re.escape(previous)}-{re.escape(end)}")
            previous = ""
            at += 1
            continue
        elif ch == "[" and pattern[at + 1 : at + 2] == ":":
            close = pattern.find("]", at + 2)
            if close < 0:
                return None
            if close - 1 < at + 2 or pattern[close - 1] != ":":  # no `:]`: a plain `[`
                previous = "["
                items.append(re.escape("["))
            else:
                name = pattern[at + 2 : close - 1]
                if name not in CLASSES:
                    return None
                items.append(CLASSES[name])
                previous = ""
                at = close + 1
                continue
        else:
            previous = ch
            items.append(re.escape(ch))
        at += 1
    members = "".join(items)
    if negated:
        return f"[^/{members}]", at + 1
    return (f"(?!/)[{members}]" if members else NEVER.pattern), at + 1


def _bytes(name: str) -> str:
    """A path's part as its UTF-8 bytes, one character each (undecodable bytes as the file system gave them)."""
    return name.encode("utf-8", "surrogateescape").decode("latin-1")


def stamp(path: Path) -> Stamp:
    """What tells a file's versions apart, cheaply: its modification time and size."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def _read_bytes(path: Path) -> str:
    try:
        return path.read_bytes().decode("latin-1")
    except OSError:
        return ""
