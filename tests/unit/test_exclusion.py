"""The exclusion rules (exclusion.py): the default list, the user's extension, `.infillignore`, `!` re-includes,
files outside every workspace folder, the `infill.exclude` setting's parsing, and which open documents the context
sources offer."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from lsprotocol import types

from infill_ls.completion.crossfile.sources import CrossFileSources
from infill_ls.config import DEFAULT_EXCLUDE, ContextSettings, parse_settings
from infill_ls.exclusion import Exclusions, matched_path, rules

from .test_gitignore import RANDOM_TREE, check_ignore, random_line

D, U, F = "(infill.exclude default)", "(infill.exclude)", "(.infillignore)"


@pytest.mark.parametrize(
    ("path", "user", "ignore_file", "why"),
    [
        # the default list
        pytest.param(".env", (), (), f'matches ".env" {D}', id="dotenv"),
        pytest.param("services/api/.env", (), (), f'matches ".env" {D}', id="dotenv-nested"),
        pytest.param(".env.local", (), (), f'matches ".env.*" {D}', id="dotenv-local"),
        pytest.param(".env.example", (), (), f'matches ".env.*" {D}', id="dotenv-example-too"),
        pytest.param("deploy/prod.env", (), (), f'matches "*.env" {D}', id="named-env"),
        pytest.param(".envrc", (), (), f'matches ".envrc" {D}', id="direnv"),
        pytest.param(".env/lib/site.py", (), (), f'matches ".env" {D}', id="under-a-folder-named-env"),
        pytest.param("certs/server.pem", (), (), f'matches "*.pem" {D}', id="pem"),
        pytest.param("tls/server.key", (), (), f'matches "*.key" {D}', id="key"),
        pytest.param("client.p12", (), (), f'matches "*.p12" {D}', id="p12"),
        pytest.param("id_rsa", (), (), f'matches "id_rsa*" {D}', id="id-rsa"),
        pytest.param("keys/id_ed25519.pub", (), (), f'matches "id_ed25519*" {D}', id="id-ed25519-pub"),
        pytest.param(".ssh/config", (), (), f'matches ".ssh/" {D}', id="ssh-folder"),
        pytest.param("home/.aws/config", (), (), f'matches ".aws/" {D}', id="aws-folder-nested"),
        pytest.param(".aws/credentials", (), (), f'matches ".aws/" {D}', id="the-folder-decides-first"),
        pytest.param(".docker/config.json", (), (), f'matches "**/.docker/config.json" {D}', id="docker-auth"),
        pytest.param("ci/.docker/config.json", (), (), f'matches "**/.docker/config.json" {D}', id="docker-nested"),
        pytest.param(".netrc", (), (), f'matches ".netrc" {D}', id="netrc"),
        pytest.param("web/.npmrc", (), (), f'matches ".npmrc" {D}', id="npmrc"),
        pytest.param(".pypirc", (), (), f'matches ".pypirc" {D}', id="pypirc"),
        pytest.param("vault.kdbx", (), (), f'matches "*.kdbx" {D}', id="keepass"),
        pytest.param("config/secrets.yaml", (), (), f'matches "secrets.*" {D}', id="secrets-yaml"),
        pytest.param("credentials.json", (), (), f'matches "credentials.*" {D}', id="credentials-json"),
        pytest.param("infra/prod.tfvars", (), (), f'matches "*.tfvars" {D}', id="tfvars"),
        pytest.param("app.py", (), (), None, id="code"),
        pytest.param("src/environment.py", (), (), None, id="env-in-a-word"),
        pytest.param("monkey.py", (), (), None, id="key-in-a-word"),
        pytest.param(".docker/Dockerfile", (), (), None, id="docker-folder-otherwise"),
        pytest.param("docs/ssh.md", (), (), None, id="ssh-in-a-name"),
        # the user's list extends the default
        pytest.param("ops/vault.py", ("ops/vault.py",), (), f'matches "ops/vault.py" {U}', id="user-adds"),
        pytest.param(".env", ("*.vault",), (), f'matches ".env" {D}', id="user-list-keeps-the-default"),
        pytest.param(".env.example", ("!.env.example",), (), None, id="user-re-includes"),
        pytest.param(".env", ("!.env.example",), (), f'matches ".env" {D}', id="user-re-includes-only-that"),
        pytest.param("a/.env.example", ("!/.env.example",), (), f'matches ".env.*" {D}', id="user-anchored"),
        # a folder's .infillignore comes last
        pytest.param("notes/todo.py", (), ("notes/",), f'matches "notes/" {F}', id="infillignore-folder"),
        pytest.param("config.py", (), ("/config.py",), f'matches "/config.py" {F}', id="infillignore-anchored"),
        pytest.param("sub/config.py", (), ("/config.py",), None, id="infillignore-anchored-not-below"),
        pytest.param("a/b/c/gen.py", (), ("a/**/gen.py",), f'matches "a/**/gen.py" {F}', id="infillignore-stars"),
        pytest.param(".env.test", (), ("!.env.test",), None, id="infillignore-re-includes"),
        pytest.param(".env.test", ("!.env.test",), (".env.*",), f'matches ".env.*" {F}', id="infillignore-last"),
        pytest.param("x.py", (), ("# a comment", "", "x.py"), f'matches "x.py" {F}', id="infillignore-comments"),
        pytest.param("x.py", (), ("[[:nope:]]", "!", "x.py"), f'matches "x.py" {F}', id="bad-lines-skipped"),
        # decided as git decides: each folder on the way down first, nothing below an excluded one re-included
        pytest.param("secrets/x.py", ("secrets/", "!secrets/x.py"), (), f'matches "secrets/" {U}',
                     id="no-re-include-below-an-excluded-folder"),
        pytest.param("config/db.py", ("config/", "!config/**"), (), f'matches "config/" {U}', id="no-re-include-stars"),
        pytest.param("src/app.py", ("*", "!*/", "!*.py"), (), None, id="whitelist-reaches-subfolders"),
        pytest.param("src/app.js", ("*", "!*/", "!*.py"), (), f'matches "*" {U}', id="whitelist-keeps-the-rest"),
        pytest.param("build", ("build/",), (), None, id="a-folder-pattern-is-no-file"),
    ],
)
def test_rules(path: str, user: tuple[str, ...], ignore_file: tuple[str, ...], why: str | None) -> None:
    assert rules(DEFAULT_EXCLUDE, user, ignore_file).reason(path) == why


@pytest.mark.parametrize(
    ("path", "folder", "matched"),
    [
        pytest.param("/w/a/.env", "/w", "a/.env", id="inside-relative"),
        pytest.param("/home/u/.ssh/id_rsa", None, "home/u/.ssh/id_rsa", id="outside-whole-path"),
    ],
)
def test_matched_path(path: str, folder: str | None, matched: str) -> None:
    assert matched_path(PurePosixPath(path), PurePosixPath(folder) if folder else None) == matched


def make(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.mark.parametrize(
    ("file", "user", "why"),
    [
        pytest.param("home/.ssh/config", (), f'matches ".ssh/" {D}', id="ssh-outside-every-folder"),
        pytest.param("home/.env", (), f'matches ".env" {D}', id="dotenv-outside-every-folder"),
        pytest.param("home/notes.py", ("notes.py",), f'matches "notes.py" {U}', id="user-pattern-outside"),
        pytest.param("home/private.py", (), None, id="infillignore-only-for-its-folder"),
        pytest.param("proj/private.py", (), f'matches "private.py" {F}', id="infillignore-in-its-folder"),
        pytest.param("proj/link.py", (), f'matches ".env" {D}', id="link-to-an-excluded-file"),
        pytest.param("proj/app.py", (), None, id="code-inside"),
    ],
)
def test_exclusions_on_disk(tmp_path: Path, file: str, user: tuple[str, ...], why: str | None) -> None:
    make(tmp_path, {"proj/.infillignore": "private.py\n", "proj/app.py": "", "proj/private.py": "",
                    "proj/.env": "K=v", "home/.ssh/config": "", "home/.env": "", "home/notes.py": "",
                    "home/private.py": ""})
    os.symlink(tmp_path / "proj" / ".env", tmp_path / "proj" / "link.py")
    exclusions = Exclusions(DEFAULT_EXCLUDE)
    exclusions.configure(user)
    assert exclusions.reason((tmp_path / file).as_uri(), [tmp_path / "proj"]) == why


@pytest.mark.parametrize(
    ("content", "file", "why"),
    [
        pytest.param(b"a.py\r\nb.py\r\n", "b.py", f'matches "b.py" {F}', id="crlf"),
        pytest.param(b"\xef\xbb\xbfa.py\n", "a.py", f'matches "a.py" {F}', id="byte-order-mark"),
        pytest.param(b"a.py\x0cb.py\n", "b.py", None, id="form-feed-is-no-line-break"),
        pytest.param(b"a.py\rb.py\n", "b.py", None, id="lone-cr-is-no-line-break"),
        pytest.param(b"a.py\x85b.py\n", "b.py", None, id="nel-is-no-line-break"),
        pytest.param(b"\xff\n*.py\n", "b.py", f'matches "*.py" {F}', id="undecodable-bytes-keep-the-other-lines"),
    ],
)
def test_infillignore_lines_as_git_splits_them(tmp_path: Path, content: bytes, file: str, why: str | None) -> None:
    """`.infillignore` lines end at `\\n` only (a `\\r` before it dropped), as `.gitignore` lines do."""
    (tmp_path / ".infillignore").write_bytes(content)
    assert Exclusions(()).reason((tmp_path / file).as_uri(), [tmp_path]) == why


def test_open_documents_and_an_infillignore_read_again(tmp_path: Path) -> None:
    make(tmp_path, {"app.py": "", "notes.py": "", ".env": ""})
    folders = [tmp_path]
    uris = [(tmp_path / name).as_uri() for name in ("app.py", "notes.py", ".env")]
    exclusions = Exclusions(DEFAULT_EXCLUDE)
    assert exclusions.refresh(uris, folders)
    assert exclusions.open == {uris[2]: f'matches ".env" {D}'}
    assert not exclusions.refresh(uris, folders)  # nothing changed
    (tmp_path / ".infillignore").write_text("notes.py\n")
    assert exclusions.refresh(uris, folders)
    assert exclusions.open == {uris[1]: f'matches "notes.py" {F}', uris[2]: f'matches ".env" {D}'}
    (tmp_path / ".infillignore").write_text("notes.py\n!.env\n")
    assert exclusions.refresh(uris, folders)
    assert exclusions.open == {uris[1]: f'matches "notes.py" {F}'}
    assert exclusions.refresh(uris[:1], folders)  # closed
    assert exclusions.open == {}


def test_untitled_documents_are_matched_by_their_name() -> None:
    exclusions = Exclusions(DEFAULT_EXCLUDE)
    assert exclusions.reason("untitled:Untitled-1", []) is None
    assert exclusions.reason("untitled:.env", []) == f'matches ".env" {D}'


@pytest.mark.parametrize(
    ("raw", "value", "error"),
    [
        pytest.param(["*.vault", "!.env.example"], ("*.vault", "!.env.example"), None, id="a-list"),
        pytest.param([], (), None, id="empty"),
        pytest.param(".env.local", (), "infill.exclude: '.env.local' must be a list of glob patterns", id="a-string"),
        pytest.param({"a": 1}, (), "infill.exclude: {'a': 1} must be a list", id="an-object"),
        pytest.param(None, (), "infill.exclude: None must be a list", id="null"),
        pytest.param(["*.vault", 7, "!", "[[:nope:]]", "a\nb"], ("*.vault",),
                     "infill.exclude: holds 7, '!', '[[:nope:]]', 'a\\nb', which are no glob pattern; using the others",
                     id="bad-items-dropped"),
        pytest.param(["# comment", "*.vault"], ("*.vault",), "infill.exclude: holds '# comment', which is no glob",
                     id="a-comment-is-no-pattern"),
    ],
)
def test_exclude_setting(raw: Any, value: tuple[str, ...], error: str | None) -> None:
    settings, errors = parse_settings({"exclude": raw})
    assert settings.exclude == value
    if error is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(error), errors


def test_every_default_pattern_excludes_a_file() -> None:
    """Each pattern of the default list compiles and excludes the file it names (a folder's: a file in it)."""
    examples = {p: p.replace("**/", "").replace("*", "x") + ("file" if p.endswith("/") else "")
                for p in DEFAULT_EXCLUDE}
    assert [p for p, example in examples.items() if rules(DEFAULT_EXCLUDE).reason(example) is None] == []


class Doc:
    def __init__(self, uri: str, source: str) -> None:
        self.uri, self.source, self.version = uri, source, 1


@pytest.mark.parametrize(
    ("name", "ignore", "used"),
    [
        pytest.param("shop.py", "", True, id="a-plain-file"),
        pytest.param(".env", "", False, id="excluded"),
        pytest.param("build/shop.py", "build/\n", False, id="git-ignored"),
        pytest.param("untitled:Untitled-1", "*\n", True, id="untitled-is-in-no-repository"),
        pytest.param("../elsewhere/.env", "", False, id="excluded-outside-the-folder"),
    ],
)
def test_which_open_documents_are_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, ignore: str, used: bool
) -> None:
    """An open document (and its recent edits) is context unless excluded or git-ignored."""
    root = tmp_path / "proj"
    make(root, {".git/HEAD": "", ".gitignore": ignore})
    monkeypatch.chdir(root)  # where a relative path would be looked for
    uri = name if name.startswith("untitled:") else (root / name).resolve().as_uri()
    text = "def shipping_cost(weight):\n    return weight * 4.75\n"
    current = (root / "app.py").as_uri()
    sources = CrossFileSources(Exclusions(DEFAULT_EXCLUDE))
    sources.edited(uri, [types.TextDocumentContentChangePartial(types.Range(types.Position(0, 0),
                                                                            types.Position(0, 0)), text)])
    docs = {uri: Doc(uri, text), current: Doc(current, "cost = shipping_cost(2)\n")}
    offered = {source: {s.source for s in sources.extra(
        current, docs[current].source, 0, docs, [root],
        ContextSettings(openDocuments=source == "open", recentEdits=source == "edit")).snippets}
        for source in ("open", "edit")}
    assert offered == ({"open": {"open"}, "edit": {"edit"}} if used else {"open": set(), "edit": set()})


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed-{seed}") for seed in range(2)])
def test_exclusion_lists_as_git_reads_them(tmp_path: Path, seed: int) -> None:
    """An exclusion list is decided as git decides a root `.gitignore` of the same lines: the setting's items and
    an `.infillignore` written as one (seeded random rule sets of test_gitignore.py)."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    rng = random.Random(seed)
    for _ in range(60):
        lines = [random_line(rng) for _ in range(rng.randint(1, 6))]
        (repo / ".gitignore").write_text("".join(line + "\n" for line in lines))
        ours = {name for name in RANDOM_TREE if rules((), lines).reason(name) is not None}
        assert ours == check_ignore(repo, RANDOM_TREE), lines
