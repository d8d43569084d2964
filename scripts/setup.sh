#!/usr/bin/env bash
# Create .venv and install infill-ls with its test extra (which carries the SmolLM2 demo model).
# llama-cpp-python compiles from source the first time: about 7 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
