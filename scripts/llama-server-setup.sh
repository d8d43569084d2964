#!/usr/bin/env bash
# Build llama.cpp's llama-server once, from the llama.cpp that the installed llama-cpp-python's sdist vendors
# (the same engine as in-process), into a cache outside the clone keyed by that version. Prints the binary's
# path. About 15 minutes on 2 cores. `--check` only prints the path of a finished build (exit 1 if none).
set -euo pipefail
cd "$(dirname "$0")/.."
python=".venv/bin/python"
version="$("$python" -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))')"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/infill-ls/llama-server/$version"
binary="$cache/bin/llama-server"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
[ "${1:-}" = --check ] && exit 1
command -v cmake >/dev/null || { echo "llama-server-setup: cmake is needed (Debian: apt install cmake)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
"$python" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work"
tar xzf "$work/llama_cpp_python-$version.tar.gz" -C "$work"
src="$work/llama_cpp_python-$version/vendor/llama.cpp"
# Static: one file that runs from the cache, with no libllama.so beside it.
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$work/build" --target llama-server -j"$(nproc)" >&2
# Into place in one rename, so an interrupted build never leaves a half cache.
mkdir -p "$(dirname "$cache")"
partial="$cache.partial.$$"
mkdir -p "$partial/bin"
cp "$work/build/bin/llama-server" "$partial/bin/"
mv "$partial" "$cache"
echo "llama-server-setup: built llama-server $version in $((SECONDS - start)) s" >&2
echo "$binary"
