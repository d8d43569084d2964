"""Replay a typing session against infill-ls over LSP (stdio), as an editor would, and print figures.

A real source file nobody on this project wrote (default: a module of Python's standard library) loses the
body of a function in its middle; the body is then typed back one character at a time: a didChange and an
Automatic inlineCompletion per keystroke. Printed per mode: latency per keystroke (p50/p90/p99), time to
first token, prompt tokens evaluated and reused per keystroke, tokens wasted by cancelled generations, and
the server's peak RSS. Modes:

- `infill`: infill-ls as shipped (KV reuse, suffix-first layout for CodeLlama-style models);
- `naive`: infill-ls re-evaluating the whole prompt on every request (`serve --no-kv-reuse`);
- `llama-server`: llama.cpp's own server `/infill` with `cache_prompt` and `--cache-reuse`, the way llama.vim
  and llama.vscode drive it (needs `--llama-server PATH`, built from llama-cpp-python's vendored llama.cpp;
  see docs/performance.md).

Also printed: the cost of generating the same number of tokens from a tiny context (the 1.3x target).

    python bench/keystrokes.py --model MODEL.gguf [--keystrokes 120] [--cps 0] [--llama-server PATH]

`--cps 0` (the default) sends a keystroke once the previous answer arrived: it measures latency. `--cps 8`
types at 8 characters per second whatever the server does: it measures wasted work and the debounce.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import inspect
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient


@dataclass
class Session:
    """A file with one function body removed, and the keystrokes that type it back."""

    name: str
    before: str
    body: str
    after: str

    @property
    def start_line(self) -> int:
        return self.before.count("\n")


def make_session(source: Path, keystrokes: int) -> Session:
    """Remove the body of the function nearest the middle of `source` (5 to 40 lines long)."""
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    functions = [
        n for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and n.end_lineno and 5 <= n.end_lineno - n.body[0].lineno <= 40
    ]
    if not functions:
        raise SystemExit(f"no function of 5-40 lines in {source}")
    middle = len(lines) / 2
    fn = min(functions, key=lambda n: abs(n.lineno - middle))
    first = fn.body[0].lineno - 1  # 0-based first body line
    if isinstance(fn.body[0], ast.Expr) and isinstance(getattr(fn.body[0], "value", None), ast.Constant):
        first = fn.body[0].end_lineno or first + 1  # keep the docstring: type the code after it
    last = fn.end_lineno or first + 1
    body = "".join(lines[first:last])[:keystrokes]
    return Session(f"{source.name}:{fn.name}", "".join(lines[:first]), body, "".join(lines[last:]))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Result:
    mode: str
    latencies: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    evaluated: list[float] = field(default_factory=list)
    reused: list[float] = field(default_factory=list)
    generated: list[float] = field(default_factory=list)
    wasted: int = 0
    superseded: int = 0
    moves: list[tuple[str, float, float]] = field(default_factory=list)
    """Cursor moves after typing: (what, evaluated tokens, latency ms)."""
    peak_rss_mb: float = 0.0
    note: str = ""

    def row(self) -> str:
        if self.note and not self.latencies:
            return f"{self.mode:<13} {self.note}"
        med = statistics.median
        return (
            f"{self.mode:<13} {percentile(self.latencies, 50):8.1f} {percentile(self.latencies, 90):8.1f} "
            f"{percentile(self.latencies, 99):8.1f} {med(self.ttft) if self.ttft else float('nan'):8.1f} "
            f"{med(self.evaluated) if self.evaluated else float('nan'):8.1f} "
            f"{med(self.reused) if self.reused else float('nan'):8.1f} "
            f"{med(self.generated) if self.generated else float('nan'):6.1f} {self.wasted:7d} {self.superseded:6d} "
            f"{self.peak_rss_mb:8.0f}"
        )


HEADER = (
    f"{'mode':<13} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'ttft ms':>8} {'eval/key':>8} {'reuse/key':>8} "
    f"{'gen':>6} {'wasted':>7} {'superseded':>6} {'peak MB':>8}"
)


def plain(value: Any) -> Any:
    """pygls hands unknown notification params over as nested namedtuples; make them dicts."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def run_infill(args: argparse.Namespace, session: Session, mode: str, extra: list[str]) -> Result:
    result = Result(mode)
    client = LanguageClient("infill-bench", "1")
    statuses: list[dict[str, Any]] = []

    @client.feature("infill/status")
    def on_status(params: Any) -> None:
        statuses.append(plain(params))

    log_level = os.environ.get("INFILL_BENCH_LOG", "warning")
    cmd = [sys.executable, "-m", "infill_ls", "--log-level", log_level, "serve", "--model", str(args.model), *extra]
    if args.layout:
        cmd += ["--layout", args.layout]
    if args.eval_chunk:
        cmd += ["--eval-chunk", str(args.eval_chunk)]
    # The server logs to stderr: to /dev/null, or INFILL_BENCH_STDERR (exec keeps the pid, for the peak RSS).
    await client.start_io("sh", "-c", 'exec "$0" "$@" 2>>"${INFILL_BENCH_STDERR:-/dev/null}"', *cmd)
    options = {"infill": {"model": {"contextSize": args.context_size, "threads": args.threads},
                          "completion": {"debounceMs": args.debounce_ms, "maxTokens": args.max_tokens,
                                         "menu": False}}}
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         initialization_options=options))
    client.initialized(types.InitializedParams())
    while not any(s["state"] in ("ready", "error") for s in statuses):
        await asyncio.sleep(0.05)
    if statuses[-1]["state"] == "error":
        raise SystemExit(f"{mode}: {statuses[-1]['message']}")
    uri = "file:///bench/" + session.name.split(":")[0]
    text = session.before + session.after
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))
    line, col = session.start_line, 0
    pending: list[asyncio.Future[Any]] = []

    async def ask(position: types.Position, sent: float) -> None:
        answer = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri), position=position))
        if answer is not None and answer.items:
            result.latencies.append((time.perf_counter() - sent) * 1000)

    for version, char in enumerate(session.body, start=2):
        here = types.Position(line, col)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangePartial(types.Range(here, here), char)]))
        line, col = (line + 1, 0) if char == "\n" else (line, col + 1)
        task = asyncio.ensure_future(ask(types.Position(line, col), time.perf_counter()))
        if args.cps > 0:
            pending.append(task)
            await asyncio.sleep(1 / args.cps)
        else:
            await task
    await asyncio.gather(*pending)
    await asyncio.sleep(0.2)
    typing = list(statuses)
    for what, delta in (("down 1 line", 1), ("down 1 line", 1), ("up 1 line", -1), ("up 10 lines", -10),
                        ("down 30 lines", 30)):
        line = max(0, line + delta)
        lines = (session.before + session.body + session.after).split("\n")
        sent, previous = time.perf_counter(), statuses[-1].get("last")
        answer = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, len(lines[line]))))
        latency = (time.perf_counter() - sent) * 1000
        await asyncio.sleep(0.05)
        last = statuses[-1].get("last") or {}
        fresh = last != previous and answer is not None and answer.items  # else: cache or typing-through
        result.moves.append((what, last.get("evaluatedTokens", 0) if fresh else float("nan"), latency))
    last_seen: dict[str, Any] = {}
    for status in typing:  # one "last" per model call, in order
        last = status.get("last") or {}
        if last and last != last_seen:
            result.ttft.append(last["ttftMs"])
            result.evaluated.append(last["evaluatedTokens"])
            result.reused.append(last["reusedTokens"])
            result.generated.append(last["generatedTokens"])
            last_seen = last
    stats = typing[-1]["stats"]
    result.wasted = stats["wastedTokens"]
    result.superseded = stats["cancelled"] + stats["dropped"]
    assert client._server is not None
    result.peak_rss_mb = peak_rss_mb(client._server.pid)
    if result.evaluated:  # the first request evaluates the whole file: report the keystrokes after it
        result.evaluated, result.reused = result.evaluated[1:], result.reused[1:]
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, payload: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def run_llama_server(args: argparse.Namespace, session: Session) -> Result:
    """llama.cpp's server, driven like llama.vim: /infill with cache_prompt, --cache-reuse on the server."""
    result = Result("llama-server")
    port = free_port()
    threads = str(args.threads or os.cpu_count() or 1)
    proc = subprocess.Popen(
        [args.llama_server, "-m", str(args.model), "--host", "127.0.0.1", "--port", str(port),
         "-c", str(args.context_size), "-np", "1", "--cache-reuse", "256", "-t", threads, "-tb", threads,
         "--no-webui"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        prefix, suffix = session.before, session.after
        for char in session.body:
            prefix += char
            started = time.perf_counter()
            try:
                answer = post(f"http://127.0.0.1:{port}/infill", {
                    "input_prefix": prefix[-args.prefix_chars:], "input_suffix": suffix[: args.suffix_chars],
                    "input_extra": [], "n_predict": args.max_tokens, "cache_prompt": True, "temperature": 0.0,
                    "top_k": 1, "stream": False,
                })
            except OSError as exc:
                result.note = f"/infill failed: {exc} (a model without FIM tokens cannot be used here)"
                return result
            result.latencies.append((time.perf_counter() - started) * 1000)
            timings = answer.get("timings", {})
            result.evaluated.append(timings.get("prompt_n", 0))
            result.reused.append(answer.get("tokens_cached", 0) - timings.get("predicted_n", 0))
            result.generated.append(timings.get("predicted_n", 0))
            result.ttft.append(timings.get("prompt_ms", 0.0))
        result.peak_rss_mb = peak_rss_mb(proc.pid)
        result.evaluated = result.evaluated[1:]
        result.reused = result.reused[1:]
    finally:
        proc.terminate()
        proc.wait()
    return result


def tiny_context_cost(args: argparse.Namespace, tokens: int) -> float:
    """Median ms to generate `tokens` tokens after a 4-token prompt, cache cleared each time."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
    from infill_ls.config import ModelSettings
    from infill_ls.engine.base import CancelToken, GenerationParams
    from infill_ls.engine.llama import LlamaEngine

    engine = LlamaEngine.load(args.model, ModelSettings(contextSize=args.context_size, threads=args.threads))
    engine.reuse_kv = False
    prompt = engine.tokenize("x = ")
    costs = []
    for _ in range(5):
        g = engine.generate(prompt, GenerationParams(max_tokens=max(1, tokens)), CancelToken())
        costs.append(g.stats.total_ms)
    engine.close()
    return statistics.median(costs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=Path(inspect.getfile(textwrap)),
                        help="a source file to replay (default: textwrap.py from the standard library)")
    parser.add_argument("--keystrokes", type=int, default=120)
    parser.add_argument("--cps", type=float, default=0, help="characters per second; 0 = wait for each answer")
    parser.add_argument("--modes", default="infill,naive", help="comma-separated: infill, naive, llama-server")
    parser.add_argument("--llama-server", help="path to llama.cpp's llama-server binary (adds that mode)")
    parser.add_argument("--layout", choices=["psm", "spm"])
    parser.add_argument("--eval-chunk", type=int)
    parser.add_argument("--debounce-ms", type=int, default=0)
    parser.add_argument("--adaptive-debounce", action="store_true")
    parser.add_argument("--no-speculation", action="store_true")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--context-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--prefix-chars", type=int, default=6000, help="llama-server mode: prefix sent")
    parser.add_argument("--suffix-chars", type=int, default=2000, help="llama-server mode: suffix sent")
    args = parser.parse_args()
    session = make_session(args.source, args.keystrokes)
    modes = [m for m in args.modes.split(",") if m]
    if args.llama_server and "llama-server" not in modes:
        modes.append("llama-server")
    extra = (["--adaptive-debounce"] if args.adaptive_debounce else []) + (
        ["--no-speculation"] if args.no_speculation else [])
    print(f"model {args.model.name}; {session.name}: {len(session.body)} keystrokes at "
          f"{'answer pace' if args.cps <= 0 else f'{args.cps:g} chars/s'}; file {len(session.before + session.after)}"
          f" chars; maxTokens {args.max_tokens}; debounce {args.debounce_ms} ms"
          f"{' adaptive' if args.adaptive_debounce else ''}; layout {args.layout or 'auto'}")
    results: dict[str, Result] = {}
    for mode in modes:
        if mode == "llama-server":
            if not args.llama_server:
                raise SystemExit("llama-server mode needs --llama-server PATH")
            results[mode] = run_llama_server(args, session)
        else:
            naive = ["--no-kv-reuse"] if mode == "naive" else []
            results[mode] = asyncio.run(run_infill(args, session, mode, extra + naive))
    print(HEADER)
    for r in results.values():
        print(r.row())
    for r in results.values():
        if r.moves:
            print(f"{r.mode} cursor moves (evaluated tokens, ms): "
                  + "; ".join(f"{what} {ev:g} tok {ms:.0f} ms" for what, ev, ms in r.moves))
    infill = results.get("infill")
    if infill and infill.latencies:
        p50 = percentile(infill.latencies, 50)
        gen = statistics.median(infill.generated) if infill.generated else args.max_tokens
        tiny = tiny_context_cost(args, round(gen))
        print(f"tiny-context cost of {gen:g} tokens: {tiny:.1f} ms; infill p50 / tiny = {p50 / tiny:.2f}")
        for other in ("naive", "llama-server"):
            r = results.get(other)
            if r and r.latencies:
                print(f"p50 latency {other} / infill = {percentile(r.latencies, 50) / p50:.2f}; "
                      f"evaluated per keystroke {other} / infill = "
                      f"{statistics.median(r.evaluated) / max(statistics.median(infill.evaluated), 1):.1f}")
    return 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        raise SystemExit(main())
