"""bench/keystrokes.py refuses what it cannot run, before it loads anything: exit code 2 and one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

KEYSTROKES = Path(__file__).resolve().parents[2] / "bench" / "keystrokes.py"


@pytest.mark.parametrize(("modes", "unknown"), [
    pytest.param("warm,warm+fcous", "warm+fcous", id="misspelt"),
    pytest.param("", "", id="empty"),
])
def test_an_unknown_switching_mode_is_refused(modes: str, unknown: str) -> None:
    run = subprocess.run([sys.executable, str(KEYSTROKES), "--model", "absent.gguf", "--switching",
                          "--switch-modes", modes], capture_output=True, text=True, timeout=60)
    last = run.stderr.strip().splitlines()[-1]
    assert (run.returncode, last.startswith("keystrokes.py: error: --switch-modes: unknown")) == (2, True), run.stderr
    assert unknown in last
