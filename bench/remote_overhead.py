"""What the remote engine itself adds to a model call: the client's time for `RemoteEngine.generate` against the
time llama-server reports for the same call (`prompt_ms + predicted_ms`), per API, and llama-server's own speed
per generated token with flash attention off and on against the in-process engine's.

    python bench/remote_overhead.py --model MODEL.gguf [--tokens 16] [--calls 5] [--llama-server PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures
from tests.fixtures.llamaserver import LlamaServer, binary

from infill_ls.config import ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams
from infill_ls.engine.llama import LlamaEngine
from infill_ls.engine.remote import Remote, RemoteEngine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--prompt-tokens", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--llama-server", type=Path)
    args = parser.parse_args()
    executable = args.llama_server or binary()
    if executable is None:
        raise SystemExit("no llama-server: pass --llama-server PATH, or build one with scripts/llama-server-setup.sh")
    # A fixed prompt; each call appends one token, as a keystroke does.
    prompt = [1] + [300 + (i * 7) % 600 for i in range(args.prompt_tokens)]
    params = GenerationParams(max_tokens=args.tokens)
    for fa in ("off", "on"):
        with LlamaServer(args.model, threads=args.threads, extra=("-fa", fa), executable=executable) as server:
            for api in ("llama.cpp", "openai"):
                engine = RemoteEngine.connect(Remote(server.url, api=api))  # type: ignore[arg-type]
                engine.generate(prompt, params, CancelToken())  # the cold prompt
                client, served, per_token = [], [], []
                for i in range(args.calls):
                    g = engine.generate([*prompt, 400 + i], params, CancelToken())
                    client.append(g.stats.total_ms)
                    served.append(g.stats.server.get("prompt_ms", 0) + g.stats.server.get("predicted_ms", 0))
                    per_token.append(g.stats.server.get("predicted_per_token_ms", 0))
                engine.close()
                c, s = statistics.median(client), statistics.median(served)
                print(f"-fa {fa:3} {api:9}: client {c:6.1f} ms, server {s:6.1f} ms, overhead {c - s:4.1f} ms; "
                      f"{statistics.median(per_token):5.1f} ms per generated token")
    engine_local = LlamaEngine.load(args.model, ModelSettings(contextSize=4096, threads=args.threads))
    engine_local.generate(prompt, params, CancelToken())
    times = []
    for i in range(args.calls):
        g = engine_local.generate([*prompt, 400 + i], params, CancelToken())
        times.append((g.stats.total_ms - g.stats.ttft_ms) / max(1, g.stats.generated_tokens - 1))
    print(f"in process           : {statistics.median(times):5.1f} ms per generated token")
    engine_local.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
