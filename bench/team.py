"""Three people, one inference server: simulated users type at once against one llama-server, and print figures.

Each user is an editor of its own: an infill-ls process (`serve --engine-url`) over LSP on stdio, replaying a
typing session (as bench/keystrokes.py does) in a different module of Python's standard library, all at the
same time, against one llama-server started here with the same model. Run once with a slot per user
(`-np 3`: each keeps its own cached prompt) and once with one slot for all (`-np 1`, for contrast). Printed per
user: latency per keystroke (p50/p90) and the prompt tokens the server evaluated per keystroke (what infill-ls
reports from the server's timings, after each user's first request); per run: the prompt tokens the server's
/metrics counted (`llamacpp:prompt_tokens_total`), the cross-check of the users' sum.

    python bench/team.py --model MODEL.gguf [--keystrokes 60] [--slots 3,1] [--cps 0] [--llama-server PATH]

Options are bench/keystrokes.py's (`--cps`, `--max-tokens`, `--threads`: the server's, ...); `--sources` takes
the users' files, comma-separated (default: textwrap.py, shlex.py, calendar.py of the standard library);
`--local-vocab` gives each infill-ls `--model` too, to tokenize with a local copy of the vocabulary;
`--server-args '--cache-ram 0'` turns off llama-server's prompt cache in RAM (by default it saves a slot's prompt
when another user takes the slot, and restores it when that user comes back: one slot then still evaluates few
tokens per keystroke, but the users wait for each other).
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import inspect
import shlex
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures
from keystrokes import PROMPT_TOKENS, Result, Session, llama_server, make_session, parser, percentile, run_infill
from tests.fixtures.llamaserver import LlamaServer

DEFAULT_SOURCES = ",".join(inspect.getfile(m) for m in (textwrap, shlex, calendar))


async def users_typing(args: argparse.Namespace, sessions: list[Session], server: LlamaServer) -> list[Result]:
    """Every user's typing session at once, each through an infill-ls of its own."""
    extra = ["--no-speculation"] if args.no_speculation else []
    if args.local_vocab:
        extra += ["--model", str(args.model)]
    return list(await asyncio.gather(*(
        run_infill(args, session, f"user{i}", extra, server, count_per_key=False)
        for i, session in enumerate(sessions, start=1)
    )))


def run(args: argparse.Namespace, slots: int, sessions: list[Session]) -> None:
    with llama_server(args, slots=slots, extra=tuple(shlex.split(args.server_args))) as server:
        before = server.metrics()[PROMPT_TOKENS]
        results = asyncio.run(users_typing(args, sessions, server))
        counted = server.metrics()[PROMPT_TOKENS] - before
    med = statistics.median
    for session, r in zip(sessions, results, strict=True):
        print(f"{slots:5d} {r.mode:<6} {session.name:<34} "
              f"{percentile(r.latencies, 50):8.1f} {percentile(r.latencies, 90):8.1f} "
              f"{med(r.evaluated) if r.evaluated else float('nan'):8.1f} "
              f"{med(r.reused) if r.reused else float('nan'):9.1f} {len(r.latencies):5d}/{r.keystrokes:<5d}")
        for warning in r.warnings:
            print(f"      {r.mode} server warning: {warning}")
    reported = sum(sum(r.evaluated) + r.cold_evaluated for r in results)
    print(f"      -np {slots}: the server's /metrics counted {counted:g} prompt tokens; the users' answers reported "
          f"{reported:g} (first requests included: "
          f"{', '.join(f'{r.cold_evaluated:g}' for r in results)})")


def main() -> int:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--sources", default=DEFAULT_SOURCES, help="the users' files, comma-separated")
    options.add_argument("--slots", default="3,1", help="llama-server slots of each run, comma-separated")
    options.add_argument("--local-vocab", action="store_true",
                         help="each infill-ls tokenizes with the local model's vocabulary, not the server's /tokenize")
    options.set_defaults(keystrokes=60, ratio=False, moves=False)
    args = options.parse_args()
    sessions = [make_session(Path(s), args.keystrokes) for s in args.sources.split(",") if s]
    print(f"model {args.model.name}; {len(sessions)} users typing {args.keystrokes} keystrokes each at "
          f"{'answer pace' if args.cps <= 0 else f'{args.cps:g} chars/s'} at the same time; maxTokens "
          f"{args.max_tokens}; context {args.context_size} per slot; tokenizer "
          f"{'local' if args.local_vocab else 'the server'}; more llama-server arguments: {args.server_args or 'none'}")
    print(f"{'slots':>5} {'user':<6} {'file:function':<34} {'p50 ms':>8} {'p90 ms':>8} {'eval/key':>8} "
          f"{'reuse/key':>9} {'answered':>11}")
    with tempfile.TemporaryDirectory(prefix="team-") as log_dir:
        args.log_dir = Path(log_dir)
        for slots in (int(n) for n in args.slots.split(",") if n):
            run(args, slots, sessions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
