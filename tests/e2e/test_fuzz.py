"""A small run of bench/fuzz.py (the full one is 5,000 messages, see docs/reliability.md), as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "bench" / "fuzz.py"


@pytest.mark.parametrize("seed", [pytest.param(3, id="seed-3"), pytest.param(11, id="seed-11")])
def test_small_fuzz_every_request_answered(tiny_model: Path, seed: int) -> None:
    run = subprocess.run(
        [sys.executable, str(FUZZ), "--messages", "250", "--seed", str(seed), "--model", str(tiny_model),
         "--timeout", "240", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert figures["messages"] == 250
    assert figures["requests"] > 0 and figures["nullIdExpected"] > 0  # the run holds both kinds
    assert figures["unanswered"] == 0 and figures["answeredTwice"] == 0, figures
    assert figures["nullIdReceived"] == figures["nullIdExpected"], figures
    assert figures["alive"] and figures["after"] == "result" and figures["exitCode"] == 0, figures
