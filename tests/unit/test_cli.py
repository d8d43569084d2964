"""The command line as a user runs it: exit codes, one-line errors, stdout holding only the completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infill_ls import __version__


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infill_ls", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.py"
    path.write_text("# 好🎉\nx =\n", encoding="utf-8")
    return path


@pytest.fixture
def offline(tmp_path: Path) -> dict[str, str]:
    """An empty Hugging Face cache and no hub: what a machine without network sees."""
    return {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub")}


def test_version() -> None:
    result = run("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"infill-ls {__version__}")


def test_complete_prints_only_the_completion(sample: Path, answer_model: Path) -> None:
    result = run("complete", f"{sample}:2:4", "--model", str(answer_model))
    assert (result.returncode, result.stdout) == (0, " 42")


@pytest.mark.parametrize(
    ("where", "model", "message"),
    [
        pytest.param("{dir}/missing.py:1:1", "answer", "cannot read", id="missing-file"),
        pytest.param("{sample}", "answer", "expected FILE:LINE:COL", id="no-position"),
        pytest.param("{sample}:0:1", "answer", "start at 1", id="line-zero"),
        pytest.param("{sample}:9:1", "answer", "past the end of the file", id="line-past-end"),
        pytest.param("{sample}:2:9", "answer", "past the end of the line", id="column-past-end"),
        pytest.param("{sample}:2:4", "{dir}/none.gguf", "model file not found", id="model-missing"),
        pytest.param("{sample}:2:4", "{sample}", "not a GGUF model file", id="model-not-gguf"),
        pytest.param("{sample}:2:4", "truncated", "truncated or corrupt", id="model-truncated"),
        pytest.param("{sample}:2:4", "", "not downloaded", id="no-model-no-network"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: Path, sample: Path, answer_model: Path, offline: dict[str, str], where: str, model: str, message: str
) -> None:
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(answer_model.read_bytes()[:50_000])
    models = {"answer": str(answer_model), "truncated": str(truncated)}
    model_arg = models.get(model, model.format(dir=tmp_path, sample=sample))
    args = ["complete", where.format(dir=tmp_path, sample=sample)] + (["--model", model_arg] if model_arg else [])
    result = run(*args, env=offline)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infill-ls: error:") and message in lines[0], result.stderr
    if model == "":
        assert "infill-ls download" in lines[0]


def seed_hub_cache(cache: Path, repo: str, file: str, source: Path) -> Path:
    """Lay out a model in the Hugging Face cache exactly as huggingface_hub stores a download."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / file).write_bytes(source.read_bytes())
    return snapshot / file


def test_download_finds_a_cached_model_offline(offline: dict[str, str], answer_model: Path) -> None:
    cached = seed_hub_cache(Path(offline["HF_HUB_CACHE"]), "infill/tiny-GGUF", "tiny.gguf", answer_model)
    result = run("download", "infill/tiny-GGUF", "tiny.gguf", env=offline)
    assert (result.returncode, result.stdout.strip()) == (0, str(cached))


def test_download_without_network_says_so(offline: dict[str, str]) -> None:
    result = run("download", env=offline)
    assert result.returncode == 2
    assert "codellama-7b.Q4_K_M.gguf" in result.stderr and "cannot be reached" in result.stderr


def test_complete_resolves_the_repo_model_from_the_cache(
    offline: dict[str, str], sample: Path, answer_model: Path
) -> None:
    seed_hub_cache(Path(offline["HF_HUB_CACHE"]), "infill/tiny-GGUF", "tiny.gguf", answer_model)
    result = run("complete", f"{sample}:2:4", "--repo", "infill/tiny-GGUF", "--file", "tiny.gguf", env=offline)
    assert (result.returncode, result.stdout) == (0, " 42")


def filled_stats(state: Path) -> Path:
    """A statistics file with a day of python and one of go, as a server session leaves it."""
    from infill_ls.feedback import Feedback, StatsStore

    store = StatsStore(state / "infill-ls" / "stats.sqlite3")
    fb = Feedback(store)
    for language, events in (("python", ["shown", "accepted"]), ("python", ["shown", "dismissed"]),
                             ("go", ["shown", "typedOver"])):
        [sid] = fb.answered(language, "codellama-7b.Q4_K_M.gguf", ["abcd"])
        for event in events:
            fb.event(sid, event)
    store.close()
    return store.path


def test_stats_prints_7_and_30_day_tables(tmp_path: Path) -> None:
    filled_stats(tmp_path)
    result = run("stats", env={"XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "last 7 days" in out and "last 30 days" in out
    lines = out.splitlines()
    python = [line.split() for line in lines if line.split()[:1] == ["python"]]
    assert python == [["python", "2", "2", "1", "0", "1", "0", "50.0%", "4"]] * 2
    model = [line.split() for line in lines if line.split()[:1] == ["codellama-7b.Q4_K_M.gguf"]]
    assert model == [["codellama-7b.Q4_K_M.gguf", "3", "3", "1", "0", "1", "1", "33.3%", "4"]] * 2


def test_stats_json_without_a_file(tmp_path: Path) -> None:
    import json

    result = run("stats", "--json", "--days", "30", env={"XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["days"], report["rows"], report["daily"], report["enabled"]) == (30, [], [], False)
    assert not (tmp_path / "infill-ls").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--days", "0"], "--days must be from 1 to 3650", id="days-zero"),
        pytest.param(["--days", "4000"], "--days must be from 1 to 3650", id="days-too-many"),
        pytest.param(["--days", "week"], "invalid int value", id="days-not-a-number"),
        pytest.param(["--weeks", "2"], "unrecognized arguments", id="unknown-option"),
    ],
)
def test_stats_bad_arguments_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("stats", *args, env={"XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr


def test_stats_of_a_file_that_is_no_database_exit_2(tmp_path: Path) -> None:
    (tmp_path / "infill-ls").mkdir()
    (tmp_path / "infill-ls" / "stats.sqlite3").write_bytes(b"garbage" * 200)
    result = run("stats", "--json", env={"XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
