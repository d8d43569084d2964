"""The resident model survives its GGUF file changing on disk, and the engine tells that it changed.

Each case runs in a child process: with the file mapped into memory, a truncated file kills the process with
SIGBUS, and the test run must survive that to report it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.tinymodel import write_tiny_model

CHILD = r"""
import json, os, shutil, sys
from pathlib import Path
from infill_ls.config import ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams
from infill_ls.engine.llama import EngineOptions, LlamaEngine

path, other, change = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
engine = LlamaEngine.load(path, ModelSettings(contextSize=256, threads=1), EngineOptions(reuse_kv=False))
prompt = engine.tokenize("def total(values):\n    return sum(values)\n")

def complete():
    return engine.generate(prompt, GenerationParams(max_tokens=12), CancelToken()).text

before, changed_before = complete(), engine.file_changed()
if change == "truncated-in-place":
    os.truncate(path, path.stat().st_size // 2)
elif change == "overwritten-in-place":  # same inode, the other model's bytes
    with path.open("r+b") as f:
        f.write(other.read_bytes())
elif change == "replaced":  # a new file renamed over it: another inode
    shutil.copyfile(other, path.with_suffix(".new"))
    os.replace(path.with_suffix(".new"), path)
elif change == "deleted":
    path.unlink()
print(json.dumps({"before": before, "after": complete(), "changed_before": changed_before,
                  "changed": engine.file_changed()}))
"""


@pytest.fixture(scope="module")
def other_model(models_dir: Path) -> Path:
    """Another random model of the same shape (and size) as the tiny one."""
    return write_tiny_model(models_dir / "other.gguf", seed=1)


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        pytest.param("unchanged", False, id="unchanged"),
        pytest.param("truncated-in-place", True, id="truncated-in-place"),
        pytest.param("overwritten-in-place", True, id="overwritten-in-place"),
        pytest.param("replaced", True, id="replaced-by-rename"),
        pytest.param("deleted", True, id="deleted"),
    ],
)
def test_the_loaded_model_survives_its_file_changing(
    tmp_path: Path, tiny_model: Path, other_model: Path, change: str, changed: bool
) -> None:
    path = tmp_path / "model.gguf"
    shutil.copyfile(tiny_model, path)
    old = path.stat().st_mtime_ns - 60 * 10**9
    os.utime(path, ns=(old, old))  # written a minute ago: a write now shows in the mtime at any clock granularity
    child = subprocess.run([sys.executable, "-c", CHILD, str(path), str(other_model), change],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    assert result["after"] == result["before"]  # the same weights answer, whatever happened to the file
    assert (result["changed_before"], result["changed"]) == (False, changed)
