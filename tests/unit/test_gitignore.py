"""`GitIgnores` against git itself: for each set of rules files, every path of a small tree is ignored exactly
when `git check-ignore --no-index` says so: a table of named cases, then a seeded random one (the same rule sets
on every run) that prints the smallest failing case it can find."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from infill_ls.completion.crossfile.gitignore import GitIgnores

TREE = ("a.py", "a.log", "keep.log", "lib/a.py", "lib/b.py", "lib/out/gen.py", "lib/deep/x/y.py", "docs/lib/a.py")

RULES = [
    pytest.param({".gitignore": "*.log\n!keep.log\n"}, id="negation"),
    pytest.param({".gitignore": "lib/\n", "lib/.gitignore": "!a.py\n"}, id="an-ignored-directory-stays-ignored"),
    pytest.param({"lib/.gitignore": "*.py\n!b.py\nout/\n"}, id="nested"),
    pytest.param({".gitignore": "/lib/a.py\n"}, id="anchored"),
    pytest.param({".gitignore": "lib/a.py\n"}, id="a-path-with-a-slash-is-anchored"),
    pytest.param({".gitignore": "**/x/\n"}, id="double-star"),
    pytest.param({".git/info/exclude": "*.py\n", ".gitignore": "!lib/*.py\n"}, id="info-exclude-under-gitignore"),
    pytest.param({"lib/.gitignore": "/out\n", "docs/.gitignore": "lib\n"}, id="anchored-in-a-nested-file"),
    pytest.param({".gitignore": "!\n[z-a]\nlib\\\n*.log\n"}, id="lines-that-are-no-pattern"),
    pytest.param({".gitignore": "lib/\n!docs/\n"}, id="a-negation-elsewhere-keeps-a-directory-ignored"),
    pytest.param({".gitignore": "lib/\n!lib/**\n"}, id="a-double-star-does-not-reopen-an-ignored-directory"),
    pytest.param({".gitignore": "*\n!*/\n!*.py\n"}, id="the-whitelist-reaches-subfolders"),
    pytest.param({".gitignore": "*/\n!lib/\n"}, id="a-directory-pattern-is-not-a-file-pattern"),
    pytest.param({".gitignore": "*.log   \r\n"}, id="trailing-spaces-and-a-carriage-return"),
]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("files", RULES)
def test_the_same_answers_as_git(tmp_path: Path, files: dict[str, str]) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for name in TREE:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x\n")
    for name, text in files.items():
        (repo / name).write_text(text)
    ignores = GitIgnores()
    ours = {name: ignores.ignored(repo, repo / name) for name in TREE}
    git = {name: name in check_ignore(repo, TREE) for name in TREE}
    assert ours == git
    assert any(git.values())  # each rule set ignores something: the table tests rules, not their absence


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_gitignore_that_is_a_link_is_passed_over(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for name in TREE:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x\n")
    (repo / "rules").write_text("*.py\n")
    (repo / ".gitignore").symlink_to(repo / "rules")
    (repo / "lib" / ".gitignore").symlink_to(repo / "rules")
    (repo / "docs" / ".gitignore").write_text("*.py\n")
    ignores = GitIgnores()
    assert {name for name in TREE if ignores.ignored(repo, repo / name)} == check_ignore(repo, TREE) == {
        "docs/lib/a.py"}


def check_ignore(repo: Path, paths: tuple[str, ...]) -> set[str]:
    """The paths git ignores, by its rules alone (`--no-index`: tracked or not)."""
    done = subprocess.run(["git", "-C", str(repo), "check-ignore", "--no-index", "--stdin", "-z"],
                          input="\0".join(paths).encode(), capture_output=True)
    assert done.returncode in (0, 1), done.stderr  # 1: none ignored
    return set(done.stdout.decode().split("\0")) - {""}


# --- a seeded random table --------------------------------------------------------------------------------------

RANDOM_TREE = (
    "a.py", "b.log", ".env", "keep.log", "Sp ace.py", "lib/a.py", "lib/b.log", "lib/out/gen.py", "lib/deep/x/y.py",
    "lib/deep/z.log", "docs/lib/a.py", "docs/x.md", "src/app/main.py", "src/app/x.py", "src/lib/a.py",
    "secrets/token.py", "config/db.py", "config/sub/c.py", "x/lib/z.log", "x/y/z/lib.py",
)
RULES_FILES = (".gitignore", ".gitignore", "lib/.gitignore", "src/.gitignore", "lib/deep/.gitignore",
               "config/.gitignore", "x/.gitignore", ".git/info/exclude")
"""Where a rule set's files go (the root's twice: more often)."""
SEGMENTS = (
    "a.py", "lib", "out", "deep", "x", "y", "src", "app", "docs", "config", "secrets", "sub", "*.py", "*.log", "*",
    "?.py", "[a-c]*", "[!a]*", "[^l]ib", "[[:alpha:]]*.py", "[[:digit:]]*", "**", "**", "l*b", "*b", "a*", "z*",
    ".env", "Sp ace.py", "[Ss]p\\ ace.py", "*.[lp]*", "[a-]*", "[]a]*", "lib\\", "[z-a]", "[", "b.lo?",
)
ODD_LINES = ("", "# a comment", "\\#x", "\\!a.py", "!", "a.py   ", "lib\\ ", "/", "**", "!**/", "*/", "!*/")


CHARACTERS = (*"alib*?[]!^-/\\:.py ", "[:alpha:]", "[:digit:]", "**", "lib", "deep", "a.py")
"""For lines of random characters: wildmatch's corners (classes, escapes, stars next to text)."""


def random_line(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return rng.choice(ODD_LINES)
    if rng.random() < 0.1:
        return "".join(rng.choice(CHARACTERS) for _ in range(rng.randint(1, 8)))
    pattern = "/".join(rng.choice(SEGMENTS) for _ in range(rng.choice((1, 1, 2, 2, 3))))
    if rng.random() < 0.25:
        pattern = "/" + pattern
    if rng.random() < 0.25:
        pattern += "/"
    return ("!" if rng.random() < 0.3 else "") + pattern


def random_rules(rng: random.Random) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for name in rng.sample(RULES_FILES, rng.choice((1, 1, 2, 3))):
        files.setdefault(name, []).extend(random_line(rng) for _ in range(rng.randint(1, 5)))
    return files


def write_rules(repo: Path, files: dict[str, list[str]], newline: str) -> None:
    for name in RULES_FILES:
        (repo / name).unlink(missing_ok=True)
    for name, lines in files.items():
        (repo / name).write_bytes("".join(line + newline for line in lines).encode())


def disagreement(repo: Path, files: dict[str, list[str]], newline: str) -> dict[str, tuple[bool, bool]]:
    """Per path where we and git differ: (git ignores it, we do)."""
    write_rules(repo, files, newline)
    git = check_ignore(repo, RANDOM_TREE)
    ignores = GitIgnores()  # a new one: a rules file rewritten within the clock's tick keeps its time
    ours = {name for name in RANDOM_TREE if ignores.ignored(repo, repo / name)}
    return {name: (name in git, name in ours) for name in sorted(git ^ ours)}


def smallest(repo: Path, files: dict[str, list[str]], newline: str) -> dict[str, list[str]]:
    """`files` with each line taken out that the disagreement does not need."""
    for name in list(files):
        k = 0
        while k < len(files[name]):
            fewer = {**files, name: files[name][:k] + files[name][k + 1 :]}
            if disagreement(repo, fewer, newline):
                files = fewer
            else:
                k += 1
    return {name: lines for name, lines in files.items() if lines}


SEEDS = 8
RULE_SETS_PER_SEED = 60
"""8 x 60 = 480 rule sets."""


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed-{seed}") for seed in range(SEEDS)])
def test_random_rules_as_git_reads_them(tmp_path: Path, seed: int) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for name in RANDOM_TREE:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x\n")
    rng = random.Random(seed)
    ignored = 0
    for _ in range(RULE_SETS_PER_SEED):
        files, newline = random_rules(rng), rng.choice(("\n", "\n", "\r\n"))
        if disagreement(repo, files, newline):
            least = smallest(repo, files, newline)
            pytest.fail(f"rules {least!r} (lines end {newline!r}): (git ignores, we ignore) "
                        f"{disagreement(repo, least, newline)!r}")
        ignored += len(check_ignore(repo, RANDOM_TREE))
    assert ignored > RULE_SETS_PER_SEED  # the rules ignore things: the table tests rules, not their absence
