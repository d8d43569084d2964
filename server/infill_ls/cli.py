"""`infill-ls` / `python -m infill_ls`: serve (default), complete, download, stats."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from . import __version__, logs
from .config import DEFAULT_FILE, DEFAULT_REPO, CompletionSettings, EngineSettings, ModelSettings, Settings, url_problem
from .engine.base import CancelToken, InfillError
from .models import Layout

log = logging.getLogger("infill_ls")


class UsageError(InfillError):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="infill-ls", description="Fill-in-the-middle code completions from a local GGUF model.")
    parser.add_argument("--version", action="version", version=f"infill-ls {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", metavar="PATH", help="a local GGUF file (default: the Hugging Face model)")
        p.add_argument("--repo", default=DEFAULT_REPO, help=f"Hugging Face repo (default {DEFAULT_REPO})")
        p.add_argument("--file", default=DEFAULT_FILE, help=f"file in the repo (default {DEFAULT_FILE})")
        p.add_argument("--gpu-layers", type=int, default=-1, help="layers on the GPU; -1 = all, 0 = CPU only")
        p.add_argument("--threads", type=int, default=0, help="CPU threads; 0 = automatic")
        p.add_argument("--context-size", type=int, default=4096)
        p.add_argument("--layout", choices=[Layout.PSM.value, Layout.SPM.value], help="force a FIM prompt layout")
        p.add_argument("--engine-url", metavar="URL", default="",
                       help="a shared inference server (llama-server, vLLM, OpenAI-style) instead of the local model; "
                            "the API key comes from INFILL_API_KEY")
        p.add_argument("--engine-api", choices=["auto", "llama.cpp", "openai"], default="auto",
                       help="the server's API (default: ask the server)")
        p.add_argument("--engine-model", metavar="NAME", default="", help="the model name an OpenAI-style server wants")
        p.add_argument("--engine-ca-file", metavar="PEM", default="",
                       help="a PEM file of the private CA that signed an https server's certificate")

    serve = sub.add_parser("serve", help="speak LSP over stdio (the default)")
    model_options(serve)
    serve.add_argument("--tcp", action="store_true", help="serve TCP instead of stdio (for debugging)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=2087)
    serve.add_argument("--stdio", action="store_true", help="accepted for clients that add it; stdio is the default")
    bench = serve.add_argument_group("benchmark switches")
    bench.add_argument("--no-kv-reuse", action="store_true", help="naive mode: re-evaluate every prompt")
    bench.add_argument("--eval-chunk", type=int, help="prompt tokens between cancellation checks")
    bench.add_argument("--no-speculation", action="store_true", help="do not precompute the next completion")

    complete = sub.add_parser("complete", help="print one completion at FILE:LINE:COL (1-based)")
    complete.add_argument("where", metavar="FILE:LINE:COL")
    model_options(complete)
    complete.add_argument("--max-tokens", type=int, default=CompletionSettings.maxTokens)
    complete.add_argument("--temperature", type=float, default=CompletionSettings.temperature)
    complete.add_argument("--multiline", choices=["auto", "always", "never"], default="auto")
    complete.add_argument("--stats", action="store_true", help="print token counts and timings to stderr")

    download = sub.add_parser("download", help="download a model into the Hugging Face cache")
    download.add_argument("repo", nargs="?", default=DEFAULT_REPO)
    download.add_argument("file", nargs="?", default=DEFAULT_FILE)

    stats = sub.add_parser("stats", help="acceptance rate and accepted characters per language and model, "
                                         "kept on this machine (the last 7 and 30 days)")
    stats.add_argument("--days", type=int, metavar="N", help="one table over the last N days (1..3650) instead")
    stats.add_argument("--json", action="store_true", help="print the infill/stats JSON (7 days unless --days)")
    return parser


def model_settings(args: argparse.Namespace) -> ModelSettings:
    return ModelSettings(
        path=args.model or "", repo=args.repo, file=args.file, gpuLayers=args.gpu_layers, threads=args.threads,
        contextSize=args.context_size,
    )


def engine_settings(args: argparse.Namespace) -> EngineSettings:
    problem = url_problem(args.engine_url)
    if problem:
        raise UsageError(f"--engine-url {args.engine_url!r} {problem}")
    return EngineSettings(url=args.engine_url, api=args.engine_api, model=args.engine_model, caFile=args.engine_ca_file)


def parse_where(where: str) -> tuple[Path, int, int]:
    """FILE:LINE:COL with 1-based LINE and COL (COL counts characters)."""
    parts = where.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise UsageError(f"expected FILE:LINE:COL, got {where!r}")
    line, col = int(parts[1]), int(parts[2])
    if line < 1 or col < 1:
        raise UsageError(f"LINE and COL start at 1, got {line}:{col}")
    return Path(parts[0]), line, col


def offset_of(text: str, line: int, col: int, name: str) -> int:
    lines = text.split("\n")
    if line > len(lines):
        raise InfillError(f"{name}: line {line} is past the end of the file ({len(lines)} lines)")
    row = lines[line - 1].rstrip("\r")
    if col > len(row) + 1:
        raise InfillError(f"{name}:{line}: column {col} is past the end of the line ({len(row)} characters)")
    return sum(len(x) + 1 for x in lines[: line - 1]) + col - 1


def run_complete(args: argparse.Namespace) -> int:
    from .completion import pipeline
    from .completion.syntax import language_for
    from .engine.source import open_engine, source_of

    path, line, col = parse_where(args.where)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise InfillError(f"cannot read {path}: {reason}") from None
    offset = offset_of(text, line, col, str(path))
    settings = CompletionSettings(
        maxTokens=args.max_tokens, temperature=args.temperature, multiline=args.multiline
    )
    ms = model_settings(args)
    source = source_of(Settings(model=ms, engine=engine_settings(args)), ms)
    engine = open_engine(source)
    log.info("%s", engine.info.describe())
    if not engine.fim.has_fim:
        log.warning("the model has no FIM tokens: completing from the prefix only")
    plan = pipeline.plan(text, offset, settings, automatic=False, language=language_for(str(path)))
    layout = Layout(args.layout) if args.layout else None
    try:
        outcome = pipeline.infer(engine, pipeline.Call(plan, settings, CancelToken(), layout))
    finally:
        engine.close()
    sys.stdout.write(outcome.text)
    sys.stdout.flush()
    if args.stats:
        stats = dataclasses.asdict(outcome.stats)
        server = stats.pop("server")
        print(f"stats: {stats} timings: {outcome.timings}", file=sys.stderr)
        if server:
            print(f"server timings: {server}", file=sys.stderr)
    return 0


def run_download(args: argparse.Namespace) -> int:
    from .engine.loader import cached_model, download_model

    found = cached_model(args.repo, args.file)
    if found is None:
        found = download_model(args.repo, args.file)
    print(found)
    return 0


def run_stats(args: argparse.Namespace, today: datetime.date | None = None) -> int:
    import sqlite3

    from .feedback import MAX_DAYS, read_report, stats_path

    if args.days is not None and not 1 <= args.days <= MAX_DAYS:
        raise UsageError(f"--days must be from 1 to {MAX_DAYS}, got {args.days}")
    path = stats_path()
    today = today or datetime.date.today()
    spans = [args.days] if args.days is not None else [7] if args.json else [7, 30]
    try:
        reports = [read_report(path, days, today, path.is_file()) for days in spans]
    except sqlite3.Error as exc:
        raise InfillError(f"cannot read {path}: {exc}") from None
    if args.json:
        print(json.dumps(reports[0], indent=2))
        return 0
    print(f"acceptance statistics of this machine: {path}" + ("" if path.is_file() else " (none yet)"))
    for report in reports:
        print()
        print(stats_table(report))
    return 0


def stats_table(report: Any) -> str:
    """The text tables of one report: per language, then per model."""
    from .feedback import COUNTS, rate

    heads = ("answered", "shown", "accepted", "part", "dismissed", "typed over", "rate", "accepted chars")
    lines = [f"last {report['days']} days (since {report['since']})"]
    for by in ("language", "model"):
        groups: dict[str, dict[str, int]] = {}
        for row in report["rows"]:
            group = groups.setdefault(row[by], dict.fromkeys(COUNTS, 0))
            for name in COUNTS:
                group[name] += row[name]
        width = max([len(by), *map(len, groups)])
        lines.append(f"  {by:<{width}}  " + "  ".join(f"{h:>{max(len(h), 8)}}" for h in heads))
        if not groups:
            lines.append("  (nothing counted)")
        for name, c in sorted(groups.items()):
            share = rate(c)
            values = (c["answered"], c["shown"], c["accepted"], c["acceptedPart"], c["dismissed"], c["typedOver"],
                      "-" if share is None else f"{share:.1%}", c["acceptedChars"])
            lines.append(f"  {name:<{width}}  " + "  ".join(f"{v!s:>{max(len(h), 8)}}" for h, v in zip(heads, values,
                                                                                                        strict=True)))
    return "\n".join(lines)


def run_serve(args: argparse.Namespace) -> int:
    from .engine.llama import EVAL_CHUNK, EngineOptions
    from .handlers import register
    from .server import InfillServer, ServerOptions

    options = ServerOptions(
        cli_model=args.model, layout=Layout(args.layout) if args.layout else None,
        engine=EngineOptions(reuse_kv=not args.no_kv_reuse, eval_chunk=args.eval_chunk or EVAL_CHUNK),
        speculate=not args.no_speculation,
    )
    # The client's tree is laid over the command line's; --model itself yields to a model the client names.
    base = Settings(model=dataclasses.replace(model_settings(args), path=""), engine=engine_settings(args))
    server = InfillServer(options, base)
    register(server)
    if args.tcp:
        server.start_tcp(args.host, args.port)
        return 0
    # The LSP stream gets its own copy of fd 1; fd 1 itself then points at stderr, so nothing else
    # (a stray print, a C library) can write into the protocol stream.
    lsp_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    server.start_io(sys.stdin.buffer, lsp_out)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser().parse_args(argv)
        logs.setup(args.log_level if args.command != "complete" or args.log_level == "debug" else "warning")
        if args.command == "complete" and args.log_level != "debug":  # keep stderr to our own one-liners
            logging.getLogger("infill_ls.llama_cpp").setLevel(logging.CRITICAL)
        if args.command in (None, "serve"):
            if args.command is None:
                args = build_parser().parse_args([*argv, "serve"])
            return run_serve(args)
        if args.command == "complete":
            return run_complete(args)
        if args.command == "stats":
            return run_stats(args)
        return run_download(args)
    except InfillError as exc:
        print(f"infill-ls: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
