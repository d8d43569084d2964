#!/usr/bin/env bash
# Install everything the tests need (idempotent), then run every check: lint, types, the VS Code
# extension's own suite and .vsix packaging, and pytest (engine, server, Neovim, Helix).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if ! command -v nvim >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null
  fi
fi
.venv/bin/ruff check server tests
.venv/bin/mypy
(cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error && INFILL_PYTHON="$PWD/../../.venv/bin/python" npm run ci)
.venv/bin/python -m pytest "$@"
