"""Replay a typing session against infill-ls over LSP (stdio), as an editor would, and print figures.

A real source file nobody on this project wrote (default: a module of Python's standard library) loses the
body of a function in its middle; the body is then typed back one character at a time: a didChange and an
Automatic inlineCompletion per keystroke. Printed per mode: latency per keystroke (p50/p90/p99), time to
first token, prompt tokens evaluated and reused per keystroke, tokens wasted by cancelled generations (of
requests, and apart of speculations), and the server's peak RSS. Modes:

- `infill`: infill-ls as shipped (KV reuse, suffix-first layout for CodeLlama-style models);
- `naive`: infill-ls re-evaluating the whole prompt on every request (`serve --no-kv-reuse`);
- `llama-server`: llama.cpp's own server `/infill` with `cache_prompt` and `--cache-reuse`, the way llama.vim
  and llama.vscode drive it;
- `remote`: infill-ls as shipped, with the model in a llama-server (`serve --engine-url`, one slot, the same
  model and threads) instead of in its own process; it tokenizes with the server's /tokenize;
- `remote-vocab`: the same, with `--model` naming a local copy of the model, whose vocabulary tokenizes
  without a round trip to the server.

The two llama-server modes start one from `--llama-server PATH`, else from $INFILL_LLAMA_SERVER or the build of
scripts/llama-server-setup.sh (llama-cpp-python's vendored llama.cpp; see docs/performance.md). For them the
table's `srv/key` is the prompt tokens the server's /metrics counted per keystroke (`llamacpp:prompt_tokens_total`
deltas, at answer pace), the cross-check of `eval/key`, which for `remote` is what infill-ls reports from the
server's timings (`infill/status` `last.evaluatedTokens`); `peak MB` counts both processes.

Also printed: latency over the cost of generating the same number of tokens from a tiny context (the 1.3x
target), measured after each keystroke with the same model in this process (`--no-ratio` skips it).

    python bench/keystrokes.py --model MODEL.gguf [--keystrokes 120] [--cps 0] [--modes infill,naive,remote]
        [--llama-server PATH]

`--switching` replays instead moving between three real files (the source and the first two context files):
A -> B -> A -> C -> A, typing `--switch-typing` characters of each file's removed body at every visit, in five
servers (`--switch-modes`): `cold` (`infill.completion.warmMemoryMb` 0: only the current file's KV state, as
before issue 24), `warm` (the automatic budget, a client that never says where the user is: Helix), `warm+told`
(also `infill/didFocus` at each switch, typing at once: VS Code and Neovim without a pause), `warm+focus` (the
same and a pause until the warm-up is done) and `warm+top` (`infill/didFocus` at the top of the file and a pause
until that warm-up is done, then typing at the cursor: Neovim entering a file, before its focus waited for the
cursor to be put back). Printed per switch: prompt tokens evaluated by the first request there and its latency,
and the warm files and memory held at the end (`infill/status` `warm`).

`--cps 0` (the default) sends a keystroke once the previous answer arrived: it measures latency. `--cps 8`
types at 8 characters per second whatever the server does (`--jitter 0.5`: each gap drawn from 50-150 % of
1/cps, seeded): it measures wasted work and the debounce. A typing run starts after one answered request at the
start position (the file's cold prompt is not part of it) and also prints how many keystrokes got ghost text
while typing and how long the answer after the last keystroke took.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import inspect
import json
import os
import random
import shlex
import shutil
import statistics
import string
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures
from tests.fixtures.llamaserver import LlamaServer, binary

from infill_ls.config import CompletionSettings, ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams
from infill_ls.engine.llama import EngineOptions, LlamaEngine
from infill_ls.handlers import plain

PROMPT_TOKENS = "llamacpp:prompt_tokens_total"


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
    cold_evaluated: float = float("nan")
    """Prompt tokens evaluated by the first model call (the whole file's prompt), left out of `evaluated`."""
    server_eval: list[float] = field(default_factory=list)
    """llama-server modes at answer pace: prompt tokens its /metrics counted per keystroke (after the first)."""
    wasted: int = 0
    spec_wasted: int = 0
    """Tokens generated by speculations that a keystroke cancelled (spent while the engine was idle)."""
    superseded: int = 0
    tiny: list[float] = field(default_factory=list)
    """Answer-pace runs: after each answered keystroke, the cost of the same number of generated tokens from a
    tiny context."""
    ratios: list[float] = field(default_factory=list)
    """The keystroke's latency over that cost (keystrokes after the file's first request)."""
    moves: list[tuple[str, float, float]] = field(default_factory=list)
    """Cursor moves after typing: (what, evaluated tokens, latency ms)."""
    peak_rss_mb: float = 0.0
    note: str = ""
    warnings: list[str] = field(default_factory=list)
    """Warnings and errors the server logged (window/logMessage) or showed (window/showMessage), once each."""
    keystrokes: int = 0
    last_ms: float = float("nan")
    """Typing runs: latency of the answer to the last keystroke (the pause)."""

    def row(self) -> str:
        if self.note and not self.latencies:
            return f"{self.mode:<13} {self.note}"
        med = statistics.median
        return (
            f"{self.mode:<13} {percentile(self.latencies, 50):8.1f} {percentile(self.latencies, 90):8.1f} "
            f"{percentile(self.latencies, 99):8.1f} {med(self.ttft) if self.ttft else float('nan'):8.1f} "
            f"{med(self.evaluated) if self.evaluated else float('nan'):8.1f} "
            f"{med(self.reused) if self.reused else float('nan'):8.1f} "
            f"{med(self.generated) if self.generated else float('nan'):6.1f} "
            f"{med(self.server_eval) if self.server_eval else float('nan'):8.1f} "
            f"{self.wasted:7d} {self.spec_wasted:6d} "
            f"{self.superseded:6d} "
            f"{self.peak_rss_mb:8.0f}"
        )


async def start_server(
    client: LanguageClient, statuses: list[dict[str, Any]], cmd: list[str], args: argparse.Namespace, mode: str,
    completion: dict[str, Any], context: dict[str, Any] | None = None,
) -> None:
    """Start `cmd` as the client's server with the bench's settings (and `completion`'s, `context`'s), and wait until
    it is ready. The server logs to stderr: to /dev/null, or INFILL_BENCH_STDERR (exec keeps the pid, for the peak
    RSS)."""
    await client.start_io("sh", "-c", 'exec "$0" "$@" 2>>"${INFILL_BENCH_STDERR:-/dev/null}"', *cmd)
    settings: dict[str, Any] = {
        "model": {"contextSize": args.context_size, "threads": args.threads},
        "completion": {"debounceMs": args.debounce_ms, "maxTokens": args.max_tokens, "prefixTokens": args.prefix_tokens,
                       "suffixTokens": args.suffix_tokens, "menu": False, **completion}}
    if context is not None:
        settings["context"] = context
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         initialization_options={"infill": settings}))
    client.initialized(types.InitializedParams())
    while not any(s["state"] in ("ready", "error") for s in statuses):
        await asyncio.sleep(0.05)
    if statuses[-1]["state"] == "error":
        raise SystemExit(f"{mode}: {statuses[-1]['message']}")


HEADER = (
    f"{'mode':<13} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'ttft ms':>8} {'eval/key':>8} {'reuse/key':>8} "
    f"{'gen':>6} {'srv/key':>8} {'wasted':>7} {'spec':>6} {'superseded':>6} {'peak MB':>8}"
)



def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def run_infill(
    args: argparse.Namespace, session: Session, mode: str, extra: list[str], server: LlamaServer | None = None,
    *, count_per_key: bool = True,
) -> Result:
    """One infill-ls over stdio: its own model, or `serve --engine-url` to `server` (whose /metrics deltas are
    read per keystroke at answer pace when `count_per_key`; off when other clients share the server)."""
    result = Result(mode)
    client = LanguageClient("infill-bench", "1")
    statuses: list[dict[str, Any]] = []

    @client.feature("infill/status")
    def on_status(params: Any) -> None:
        statuses.append(plain(params))

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params: types.LogMessageParams) -> None:
        if params.type <= types.MessageType.Warning and params.message not in result.warnings:
            result.warnings.append(params.message)

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def on_show(params: types.ShowMessageParams) -> None:
        if params.message not in result.warnings:
            result.warnings.append(params.message)

    log_level = os.environ.get("INFILL_BENCH_LOG", "warning")
    engine = ["--engine-url", server.url] if server else ["--model", str(args.model)]
    cmd = [sys.executable, "-m", "infill_ls", "--log-level", log_level, "serve", *engine, *extra]
    if args.layout:
        cmd += ["--layout", args.layout]
    if args.eval_chunk:
        cmd += ["--eval-chunk", str(args.eval_chunk)]
    await start_server(client, statuses, cmd, args, mode, {"adaptiveDebounce": not args.fixed_debounce})
    uri = "file:///bench/" + session.name.split(":")[0]
    text = session.before + session.after
    if mode == "infill+context":  # other files open first: their snippets join the prompt (infill.context.*)
        for k, other in enumerate(p for p in args.context_files.split(",") if p):
            source = Path(other).read_text(encoding="utf-8")
            client.text_document_did_open(types.DidOpenTextDocumentParams(
                types.TextDocumentItem(f"file:///bench/other{k}/{Path(other).name}", "python", 1, source)))
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))
    line, col = session.start_line, 0
    pending: list[asyncio.Future[Any]] = []

    async def ask(position: types.Position, sent: float, final: bool = False) -> None:
        answer = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri), position=position))
        if answer is not None and answer.items:
            result.latencies.append((time.perf_counter() - sent) * 1000)
            if final:
                result.last_ms = result.latencies[-1]

    async def idle() -> None:
        """Wait until the server neither generates nor speculates (at most a minute)."""
        for _ in range(1200):
            if statuses and not statuses[-1]["generating"] and not statuses[-1]["speculating"]:
                return
            await asyncio.sleep(0.05)

    async def server_prompt_tokens() -> float:
        return (await asyncio.to_thread(server.metrics))[PROMPT_TOKENS] if server else float("nan")

    per_key = server is not None and count_per_key and args.cps <= 0
    pacing = random.Random(0)
    probe = TinyContext(args) if args.cps <= 0 and mode == "infill" and args.ratio else None
    if args.cps > 0:  # typing runs measure the steady state: the file's cold prompt is evaluated first
        await ask(types.Position(line, col), time.perf_counter())
        result.latencies.clear()
        await asyncio.sleep(0.2)

    for version, char in enumerate(session.body, start=2):
        counted = await server_prompt_tokens() if per_key else 0.0  # before the keystroke's request starts
        here = types.Position(line, col)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [types.TextDocumentContentChangePartial(types.Range(here, here), char)]))
        line, col = (line + 1, 0) if char == "\n" else (line, col + 1)
        final = version == len(session.body) + 1
        task = asyncio.ensure_future(ask(types.Position(line, col), time.perf_counter(), final))
        if args.cps > 0:
            pending.append(task)
            await asyncio.sleep(pacing.uniform(1 - args.jitter, 1 + args.jitter) / args.cps)
        else:
            answered, before = len(result.latencies), statuses[-1].get("last")
            await task
            if per_key:
                result.server_eval.append(await server_prompt_tokens() - counted)
            fresh = len(result.latencies) > answered and statuses[-1].get("last") != before  # a model call
            if probe is not None and fresh and version > 2:
                await idle()
                generated = statuses[-1]["last"].get("generatedTokens", args.max_tokens)
                tiny, made = probe.cost_ms(generated)
                if made == generated:
                    result.tiny.append(tiny)
                    result.ratios.append(result.latencies[-1] / tiny)
    if probe is not None:
        probe.close()
    await asyncio.gather(*pending)
    result.keystrokes = len(session.body)
    await asyncio.sleep(0.2)
    typing = list(statuses)
    moves = (("down 1 line", 1), ("down 1 line", 1), ("up 1 line", -1), ("up 10 lines", -10), ("down 30 lines", 30))
    for what, delta in moves if args.moves else ():
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
    result.spec_wasted = stats["speculativeWastedTokens"]
    result.superseded = stats["cancelled"] + stats["dropped"]
    assert client._server is not None
    result.peak_rss_mb = peak_rss_mb(client._server.pid) + (peak_rss_mb(server.process.pid)
                                                            if server and server.process else 0.0)
    if result.evaluated:  # the first request evaluates the whole file: report the keystrokes after it
        result.cold_evaluated = result.evaluated[0]
        result.evaluated, result.reused = result.evaluated[1:], result.reused[1:]
    result.server_eval = result.server_eval[1:]
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return result


SWITCHES = "A B A C A"
"""The switching scenario's visits, in order."""


@dataclass
class Visit:
    """The first request after a switch to a file: its figures."""

    name: str
    prompt: int
    evaluated: int
    latency_ms: float


async def run_switching(args: argparse.Namespace, sessions: dict[str, Session], mode: str) -> tuple[list[Visit],
                                                                                                    dict[str, Any]]:
    """The switching scenario in one server: `mode` one of SWITCH_MODES. Returns the first request of
    each visit and the last status's `warm` figures (with the peak RSS in MB as `peakMb`)."""
    client = LanguageClient("infill-bench", "1")
    statuses: list[dict[str, Any]] = []

    @client.feature("infill/status")
    def on_status(params: Any) -> None:
        statuses.append(plain(params))

    cmd = [sys.executable, "-m", "infill_ls", "--log-level", os.environ.get("INFILL_BENCH_LOG", "warning"), "serve",
           "--model", str(args.model)]
    await start_server(client, statuses, cmd, args, mode, {"warmMemoryMb": 0 if mode == "cold" else -1},
                       {"enable": args.context})
    where: dict[str, tuple[int, int, int, int]] = {}
    """Per file: line, column, characters of the body typed, version."""
    uris = {name: f"file:///bench/{name}/{s.name.split(':')[0]}" for name, s in sessions.items()}
    for name, session in sessions.items():
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uris[name], "python", 1, session.before + session.after)))
        where[name] = (session.start_line, 0, 0, 1)

    async def idle() -> None:
        for _ in range(12000):
            if statuses and not statuses[-1]["generating"] and not statuses[-1]["speculating"]:
                return
            await asyncio.sleep(0.05)

    visits = []
    for name in SWITCHES.split():
        await idle()  # the user pauses: speculation ends
        line, col, typed, version = where[name]
        if mode in ("warm+focus", "warm+told", "warm+top"):
            before = statuses[-1]["stats"]["warmupTokens"]
            at = (0, 0) if mode == "warm+top" else (line, col)
            client.protocol.notify("infill/didFocus", {"textDocument": {"uri": uris[name]},
                                                       "position": {"line": at[0], "character": at[1]}})
            for _ in range(0 if mode == "warm+told" else 12000):  # the pause the warm-up needs (the user reads)
                if statuses[-1]["stats"]["warmupTokens"] > before:
                    break
                await asyncio.sleep(0.05)
        body, visited = sessions[name].body, len(visits)
        for char in body[typed : typed + args.switch_typing]:
            here = types.Position(line, col)
            version += 1
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=version, uri=uris[name]),
                [types.TextDocumentContentChangePartial(types.Range(here, here), char)]))
            line, col = (line + 1, 0) if char == "\n" else (line, col + 1)
            sent, previous = time.perf_counter(), statuses[-1].get("last")
            await client.text_document_inline_completion_async(types.InlineCompletionParams(
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
                text_document=types.TextDocumentIdentifier(uris[name]), position=types.Position(line, col)))
            latency = (time.perf_counter() - sent) * 1000
            last = statuses[-1].get("last") or {}
            if last != previous and len(visits) == visited:  # the visit's first model call (a request answered
                visits.append(Visit(name, last["promptTokens"], last["evaluatedTokens"], latency))  # from the
        if len(visits) == visited:  # cache or typed through costs none)
            visits.append(Visit(name, 0, 0, float("nan")))
        where[name] = (line, col, typed + args.switch_typing, version)
    await idle()
    held = dict(statuses[-1]["warm"])
    assert client._server is not None
    held["peakMb"] = peak_rss_mb(client._server.pid)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return visits, held


SWITCH_MODES = ("cold", "warm", "warm+told", "warm+focus", "warm+top")
"""The switching scenario's servers (see the docstring)."""


def switching(args: argparse.Namespace) -> int:
    paths = [args.source, *(Path(p) for p in args.context_files.split(",") if p)][:3]
    sessions = {name: make_session(path, args.keystrokes) for name, path in zip("ABC", paths, strict=True)}
    print(f"model {args.model.name}; switching {' -> '.join(SWITCHES.split())}, {args.switch_typing} characters typed "
          f"at each visit; files: " + ", ".join(f"{n} {s.name}" for n, s in sessions.items())
          + f"; maxTokens {args.max_tokens}; context {args.context_size}; cross-file context "
          + ("on" if args.context else "off"))
    print(f"{'mode':<11} " + " ".join(f"{f'{k + 1}:{n}':>18}" for k, n in enumerate(SWITCHES.split()))
          + f" {'warm files':>10} {'warm MiB':>9} {'budget MiB':>10} {'peak MB':>8}")
    for mode in args.switch_modes.split(","):
        visits, held = asyncio.run(run_switching(args, sessions, mode))
        cells = " ".join(f"{f'{v.evaluated}/{v.prompt} {v.latency_ms:.0f}ms':>18}" for v in visits)
        print(f"{mode:<11} {cells} {held['files']:>10} {held['bytes'] / 2**20:>9.1f} "
              f"{held['budgetBytes'] / 2**20:>10.0f} {held['peakMb']:>8.0f}")
    print("cells: prompt tokens evaluated / prompt tokens of the first model call after the switch, and the latency of "
          "its request (0/0: every request of the visit answered without the model)")
    return 0


def post(url: str, payload: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def llama_server(args: argparse.Namespace, slots: int = 1, extra: tuple[str, ...] = ()) -> LlamaServer:
    """A llama-server (not started) with the benchmark's model, context per slot and threads; its log goes to
    the benchmark's temporary directory."""
    executable = Path(args.llama_server) if args.llama_server else binary()
    if executable is None:
        raise SystemExit("no llama-server: pass --llama-server PATH, or build one with scripts/llama-server-setup.sh")
    return LlamaServer(args.model, slots=slots, context=args.context_size, threads=args.threads or os.cpu_count() or 1,
                       extra=("-fa", args.flash_attn, *extra), executable=executable, log_dir=args.log_dir)


def run_remote(args: argparse.Namespace, session: Session, mode: str, extra: list[str]) -> Result:
    """infill-ls with `--engine-url` to a llama-server with one slot that the benchmark starts (`remote-vocab`:
    and `--model`, a local copy of the served model, for its vocabulary)."""
    vocab = ["--model", str(args.model)] if mode == "remote-vocab" else []
    with llama_server(args, extra=tuple(shlex.split(args.server_args))) as server:
        return asyncio.run(run_infill(args, session, mode, extra + vocab, server))


def run_llama_server(args: argparse.Namespace, session: Session) -> Result:
    """llama.cpp's server, driven like llama.vim: /infill with cache_prompt, --cache-reuse on the server."""
    result = Result("llama-server")
    with llama_server(args, extra=("--cache-reuse", "256")) as server:
        prefix, suffix = session.before, session.after
        for char in session.body:
            prefix += char
            counted = server.metrics()[PROMPT_TOKENS]
            started = time.perf_counter()
            try:
                answer = post(f"{server.url}/infill", {
                    "input_prefix": prefix[-args.prefix_chars:], "input_suffix": suffix[: args.suffix_chars],
                    "input_extra": [], "n_predict": args.max_tokens, "cache_prompt": True, "temperature": 0.0,
                    "top_k": 1, "stream": False,
                })
            except urllib.error.HTTPError as exc:  # e.g. no FIM tokens, or the prompt exceeds the context
                result.note = f"/infill failed: {exc}: {exc.read().decode(errors='replace')[:300]}"
                return result
            except OSError as exc:
                result.note = f"/infill failed: {exc}"
                return result
            result.latencies.append((time.perf_counter() - started) * 1000)
            result.server_eval.append(server.metrics()[PROMPT_TOKENS] - counted)
            timings = answer.get("timings", {})
            result.evaluated.append(timings.get("prompt_n", 0))
            result.reused.append(answer.get("tokens_cached", 0) - timings.get("predicted_n", 0))
            result.generated.append(timings.get("predicted_n", 0))
            result.ttft.append(timings.get("prompt_ms", 0.0))
        assert server.process is not None
        result.peak_rss_mb = peak_rss_mb(server.process.pid)
    result.evaluated, result.reused = result.evaluated[1:], result.reused[1:]
    result.server_eval = result.server_eval[1:]
    return result


class TinyContext:
    """The same model in the benchmark's own process, generating from a 4-token prompt (cache cleared).

    It is measured between keystrokes, while the server is idle, so that the machine's drift over a run
    (other tenants, memory bandwidth) weighs on both sides of the ratio alike."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.engine = LlamaEngine.load(args.model, ModelSettings(contextSize=args.context_size, threads=args.threads),
                                       EngineOptions(reuse_kv=False))
        self.prompt = self.engine.tokenize("x = ")

    def cost_ms(self, tokens: int) -> tuple[float, int]:
        """Milliseconds to generate up to `tokens` tokens, and how many came."""
        g = self.engine.generate(self.prompt, GenerationParams(max_tokens=max(1, tokens)), CancelToken())
        return g.stats.total_ms, g.stats.generated_tokens

    def close(self) -> None:
        self.engine.close()


def parser(description: str) -> argparse.ArgumentParser:
    """The options of a typing session (bench/team.py takes the same)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=Path(inspect.getfile(textwrap)),
                        help="a source file to replay (default: textwrap.py from the standard library)")
    parser.add_argument("--keystrokes", type=int, default=120)
    parser.add_argument("--cps", type=float, default=0, help="characters per second; 0 = wait for each answer")
    parser.add_argument("--llama-server", help="llama.cpp's llama-server binary (default: $INFILL_LLAMA_SERVER, or the "
                        "build of scripts/llama-server-setup.sh)")
    parser.add_argument("--layout", choices=["psm", "spm"])
    parser.add_argument("--eval-chunk", type=int)
    parser.add_argument("--debounce-ms", type=int, default=0)
    parser.add_argument("--jitter", type=float, default=0.0, help="typing runs: gaps vary by this fraction")
    parser.add_argument("--fixed-debounce", action="store_true", help="infill modes: turn the adaptive debounce off")
    parser.add_argument("--no-speculation", action="store_true")
    parser.add_argument("--ratio", action=argparse.BooleanOptionalAction, default=True,
                        help="answer pace: measure the tiny-context cost after each keystroke (loads the model here)")
    parser.add_argument("--moves", action=argparse.BooleanOptionalAction, default=True,
                        help="after typing, move the cursor five times and measure each request")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--context-size", type=int, default=4096)
    parser.add_argument("--prefix-tokens", type=int, default=CompletionSettings.prefixTokens,
                        help="infill modes: token budget before the cursor")
    parser.add_argument("--suffix-tokens", type=int, default=CompletionSettings.suffixTokens,
                        help="infill modes: token budget after the cursor")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--prefix-chars", type=int, default=6000, help="llama-server mode: prefix sent")
    parser.add_argument("--suffix-chars", type=int, default=2000, help="llama-server mode: suffix sent")
    parser.add_argument("--server-args", default="", help="remote modes: more arguments for the llama-server they "
                        "start, e.g. '--cache-reuse 256' or '--cache-ram 0'")
    parser.add_argument("--flash-attn", choices=["on", "off", "auto"], default="off",
                        help="every llama-server started: flash attention (off, as in process: llama-cpp-python's "
                        "default; llama.cpp's own default `auto` turns it on: ~20 %% slower per token on this CPU)")
    return parser


def main() -> int:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--modes", default="infill,naive",
                         help="comma-separated: infill, infill+context, naive, llama-server, remote, remote-vocab")
    options.add_argument("--context-files", default=",".join(inspect.getfile(m) for m in (string, shutil)),
                         help="infill+context: files open in the editor besides the typed one (default: string.py "
                         "and shutil.py of the standard library)")
    options.add_argument("--switching", action="store_true",
                         help="the switching scenario (A -> B -> A -> C -> A) instead of one typing session")
    options.add_argument("--switch-typing", type=int, default=4, help="switching: characters typed at each visit")
    options.add_argument("--switch-modes", default=",".join(SWITCH_MODES),
                         help=f"switching: comma-separated, of {', '.join(SWITCH_MODES)}")
    options.add_argument("--context", action=argparse.BooleanOptionalAction, default=True,
                         help="switching: infill.context.enable (other files' snippets in the prompt)")
    args = options.parse_args()
    unknown = set(args.switch_modes.split(",")) - set(SWITCH_MODES)
    if unknown:  # a misspelt mode would run as a plain warm server under its name
        options.error(f"--switch-modes: unknown {', '.join(sorted(unknown))} (of {', '.join(SWITCH_MODES)})")
    if args.switching:
        return switching(args)
    with tempfile.TemporaryDirectory(prefix="keystrokes-") as log_dir:
        args.log_dir = Path(log_dir)
        return run(args)


def run(args: argparse.Namespace) -> int:
    session = make_session(args.source, args.keystrokes)
    modes = [m for m in args.modes.split(",") if m]
    if args.llama_server and "llama-server" not in modes:
        modes.append("llama-server")
    extra = ["--no-speculation"] if args.no_speculation else []
    print(f"model {args.model.name}; {session.name}: {len(session.body)} keystrokes at "
          f"{'answer pace' if args.cps <= 0 else f'{args.cps:g} chars/s'}; file {len(session.before + session.after)}"
          f" chars; maxTokens {args.max_tokens}; debounce {args.debounce_ms} ms"
          f"{' fixed' if args.fixed_debounce else ' adaptive'}; layout {args.layout or 'auto'}")
    results: dict[str, Result] = {}
    for mode in modes:
        if mode == "llama-server":
            results[mode] = run_llama_server(args, session)
        elif mode in ("remote", "remote-vocab"):
            results[mode] = run_remote(args, session, mode, extra)
        else:
            naive = ["--no-kv-reuse"] if mode == "naive" else []  # infill+context: infill with other files open
            results[mode] = asyncio.run(run_infill(args, session, mode, extra + naive))
    print(HEADER)
    for r in results.values():
        print(r.row())
    for r in results.values():
        for warning in r.warnings:
            print(f"{r.mode} server warning: {warning}")
    for r in results.values():
        if args.cps > 0 and r.keystrokes:
            shown = len(r.latencies) - (r.last_ms == r.last_ms)  # answers before the last keystroke's
            print(f"{r.mode} typing: ghost text while typing for {shown} of {r.keystrokes - 1} keystrokes; answer "
                  f"after the last keystroke {r.last_ms:.0f} ms")
    for r in results.values():
        if r.moves:
            print(f"{r.mode} cursor moves (evaluated tokens, ms): "
                  + "; ".join(f"{what} {ev:g} tok {ms:.0f} ms" for what, ev, ms in r.moves))
    for r in results.values():
        if r.server_eval:
            print(f"{r.mode}: prompt tokens evaluated over {len(r.server_eval)} keystrokes after the first: "
                  f"{sum(r.server_eval):g} counted by the server's /metrics, {sum(r.evaluated):g} in the answers' "
                  f"timings ({len(r.evaluated)} model calls)")
    infill = results.get("infill")
    if infill and infill.ratios:
        print(f"tiny-context cost of the same tokens, after each keystroke: median {statistics.median(infill.tiny):.1f}"
              f" ms; infill latency / tiny per keystroke: median {statistics.median(infill.ratios):.2f}, "
              f"p90 {percentile(infill.ratios, 90):.2f} ({len(infill.ratios)} keystrokes)")
    if infill and infill.latencies:
        p50 = percentile(infill.latencies, 50)
        for other in ("infill+context", "naive", "llama-server", "remote", "remote-vocab"):
            baseline = results.get(other)
            if baseline and baseline.latencies:
                print(f"p50 latency {other} / infill = {percentile(baseline.latencies, 50) / p50:.2f}; "
                      f"evaluated per keystroke {other} / infill = "
                      f"{statistics.median(baseline.evaluated) / max(statistics.median(infill.evaluated), 1):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
