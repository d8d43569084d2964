"""`GitIgnores` against git itself: for each set of rules files, every path of a small tree is ignored exactly
when `git check-ignore` says so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from infill_ls.gitignore import GitIgnores

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
    git = {name: subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", name]).returncode == 0
           for name in TREE}
    assert ours == git
    assert any(git.values())  # each rule set ignores something: the table tests rules, not their absence
