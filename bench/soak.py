"""Soak infill-ls: 10,000 requests over stdio on the tiny model; print memory, tasks and threads; exit 1 on a leak.

An editor session, seeded: three Python files open, and per step one of: type a character (didChange, then
an Automatic inline request at the cursor; past 300 added characters the typing turns into backspaces, so
the files keep their size), move the cursor (an Invoked inline request elsewhere), a completion-menu
request, or an inline request cancelled at once with $/cancelRequest. At most `--window` requests are
outstanding, as in an editor that keeps typing while the model works.

Every `--every` requests (and at request 1,000 and the last one) the soak waits until the server is idle (every
request answered, no generation or speculation running) and asks `infill/diagnostics` for asyncio tasks,
threads, resident memory and the count of Python objects. Printed: that series, the RSS drift from request
1,000 to the last in %, tasks and threads at both points, and requests answered (result / error by code).
Goal: drift <= `--max-drift` % (2), no more tasks or threads at the end than at request 1,000, every request
answered exactly once. Bounded by `--timeout` seconds; the server is shut down at the end.

    python bench/soak.py [--requests 10000] [--seed 1] [--model MODEL.gguf] [--timeout 3600] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rawlsp import RawServer, tiny_model

SOURCES = {
    "file:///soak/shapes.py": (
        "import math\n\n\nclass Circle:\n    def __init__(self, radius):\n        self.radius = radius\n\n"
        "    def area(self):\n        return math.pi * self.radius ** 2\n\n    def scale(self, factor):\n"
        "        return Circle(self.radius * factor)\n\n\ndef total_area(shapes):\n    total = 0\n"
        "    for shape in shapes:\n        total += shape.area()\n    return total\n"
    ),
    "file:///soak/numbers.py": (
        "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\n"
        "def primes(limit):\n    found = []\n    for n in range(2, limit):\n        if all(n % p for p in found):\n"
        "            found.append(n)\n    return found\n\n\nif __name__ == \"__main__\":\n    print(fib(10))\n"
    ),
    "file:///soak/app.js": (
        "const express = require('express');\nconst app = express();\n\napp.get('/', (req, res) => {\n"
        "  res.send('hello world');\n});\n\nfunction add(a, b) {\n  return a + b;\n}\n\n"
        "app.listen(3000, () => console.log('listening'));\n"
    ),
}
TYPED = "result = value + 1\n    for item in items:\n        total += len(item)\n    return total\n"
GROWTH = 300
"""Characters typed into a file before typing turns into backspaces."""


@dataclass
class Doc:
    """The client's copy of one open file, and its cursor (an offset; the text is ASCII)."""

    uri: str
    text: str
    version: int = 1
    cursor: int = 0
    typed: int = 0
    deleting: bool = False

    def position(self, offset: int | None = None) -> dict[str, int]:
        before = self.text[: self.cursor if offset is None else offset]
        return {"line": before.count("\n"), "character": len(before) - before.rfind("\n") - 1}


@dataclass
class Sample:
    request: int
    rss: int
    tasks: int
    threads: int
    groups: dict[str, int]
    objects: int
    futures: int
    """Handler futures pygls still holds (one per running handler; 0 when idle)."""


@dataclass
class Figures:
    requests: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    results: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    unanswered: int = 0
    answered_twice: int = 0
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False
    exit_code: int | None = None

    def at(self, request: int) -> Sample | None:
        return next((s for s in self.samples if s.request == request), None)

    def drift(self, first: int) -> float | None:
        start, end = self.at(first), self.samples[-1] if self.samples else None
        if start is None or end is None or end.request == start.request:
            return None
        return (end.rss - start.rss) / start.rss * 100

    def ok(self, first: int, max_drift: float) -> bool:
        start, end = self.at(first), self.samples[-1] if self.samples else None
        drift = self.drift(first)
        return (start is not None and end is not None and drift is not None and drift <= max_drift
                and end.tasks <= start.tasks and not new_threads(start, end) and end.futures <= start.futures
                and not self.unanswered and not self.answered_twice and not self.stopped_early
                and self.exit_code == 0)


def new_threads(start: Sample, end: Sample) -> dict[str, int]:
    """Threads at `end` beyond `start`, by group, except workers of a pool that was there at `start`.

    A ThreadPoolExecutor starts its workers lazily, up to its max_workers, so a pool may gain a worker during
    the soak (bounded); a thread of a group not seen at `start` (a new pool, a thread per request) is a leak."""
    grown = {g: n - start.groups.get(g, 0) for g, n in end.groups.items() if n > start.groups.get(g, 0)}
    return {g: n for g, n in grown.items() if g not in start.groups or "ThreadPoolExecutor" not in g}


class Soak:
    def __init__(self, server: RawServer, args: argparse.Namespace) -> None:
        self.server = server
        self.args = args
        self.rng = random.Random(args.seed)
        self.docs = [Doc(uri, text, cursor=len(text) // 2) for uri, text in SOURCES.items()]
        self.pending: list[Any] = []
        self.sent: list[Any] = []
        self.figures = Figures()

    async def open_all(self) -> None:
        for doc in self.docs:
            language = "javascript" if doc.uri.endswith(".js") else "python"
            await self.server.send({"method": "textDocument/didOpen", "params": {"textDocument": {
                "uri": doc.uri, "languageId": language, "version": doc.version, "text": doc.text}}})

    async def step(self) -> None:
        doc = self.rng.choice(self.docs)
        kind = self.rng.choices(["type", "move", "menu", "cancel"], [55, 20, 10, 15])[0]
        self.figures.kinds[kind] += 1
        if kind == "type":
            await self.type_one(doc)
            await self.request(doc, "textDocument/inlineCompletion", {"triggerKind": 2})
        elif kind == "move":
            doc.cursor = self.rng.randint(0, len(doc.text))
            await self.request(doc, "textDocument/inlineCompletion", {"triggerKind": 1})
        elif kind == "menu":
            await self.request(doc, "textDocument/completion", {"triggerKind": 1})
        else:
            msg_id = await self.request(doc, "textDocument/inlineCompletion", {"triggerKind": 2})
            await self.server.send({"method": "$/cancelRequest", "params": {"id": msg_id}})

    async def type_one(self, doc: Doc) -> None:
        """One keystroke at the cursor: a character of TYPED, or a backspace while the file shrinks back."""
        if doc.typed >= GROWTH:
            doc.deleting = True
        elif doc.typed <= 0:
            doc.deleting = False
        if doc.deleting and doc.cursor > 0:
            start, end, text = doc.position(doc.cursor - 1), doc.position(), ""
            doc.text = doc.text[: doc.cursor - 1] + doc.text[doc.cursor :]
            doc.cursor -= 1
            doc.typed -= 1
        else:
            text = TYPED[self.rng.randrange(len(TYPED))]
            start = end = doc.position()
            doc.text = doc.text[: doc.cursor] + text + doc.text[doc.cursor :]
            doc.cursor += 1
            doc.typed += 1
        doc.version += 1
        change = {"range": {"start": start, "end": end}, "text": text}
        await self.server.send({"method": "textDocument/didChange", "params": {
            "textDocument": {"uri": doc.uri, "version": doc.version}, "contentChanges": [change]}})

    async def request(self, doc: Doc, method: str, context: dict[str, int]) -> int:
        self.figures.requests += 1
        msg_id = self.figures.requests
        params = {"textDocument": {"uri": doc.uri}, "position": doc.position(), "context": context}
        await self.server.send({"id": msg_id, "method": method, "params": params})
        self.pending.append(msg_id)
        self.sent.append(msg_id)
        return msg_id

    async def window(self, size: int, timeout: float) -> bool:
        """Wait until fewer than `size` requests are unanswered."""
        def free() -> bool:
            self.pending = [i for i in self.pending if i not in self.server.responses]
            return len(self.pending) < size
        return await self.server.wait_for(free, timeout)

    async def sample(self, timeout: float) -> bool:
        """Wait until the server is idle, then record infill/diagnostics."""
        if not await self.window(1, timeout):
            return False
        quiet = 0
        deadline = time.monotonic() + min(timeout, 30)
        while quiet < 3 and time.monotonic() < deadline:  # idle in three looks, 0.1 s apart
            status = self.server.status
            quiet = quiet + 1 if not status.get("generating") and not status.get("speculating") else 0
            await asyncio.sleep(0.1)
        answer = await self.server.call(f"diagnostics-{self.figures.requests}", "infill/diagnostics", None, timeout)
        if answer is None or "result" not in answer:
            return False
        r = answer["result"]
        s = Sample(self.figures.requests, r["rssBytes"] or 0, r["tasks"], r["threads"], r["threadGroups"],
                   r["pythonObjects"], r["handlerFutures"])
        self.figures.samples.append(s)
        print(f"  request {s.request:>6}: rss {s.rss / 2**20:8.2f} MiB  tasks {s.tasks:3}  threads {s.threads:3}"
              f"  python objects {s.objects:8}  handler futures {s.futures:5}", flush=True)
        return True

    def tally(self) -> None:
        for msg_id in self.sent:
            answers = self.server.responses.get(msg_id, [])
            if not answers:
                self.figures.unanswered += 1
                continue
            self.figures.answered_twice += len(answers) > 1
            if "error" in answers[0]:
                self.figures.errors[answers[0]["error"]["code"]] += 1
            else:
                self.figures.results += 1


async def soak(args: argparse.Namespace, model: Path) -> Figures:
    started = time.monotonic()
    deadline = started + args.timeout
    server = await RawServer.start("--model", str(model), stderr=args.stderr)
    options = {"infill": {"model": {"path": str(model), "contextSize": 1024, "threads": args.threads},
                          "completion": {"debounceMs": args.debounce_ms, "maxTokens": args.max_tokens}}}
    await server.initialize(options, timeout=120)
    run = Soak(server, args)
    await run.open_all()
    checkpoints = {args.first, args.requests, *range(args.every, args.requests, args.every)}
    print(f"soak: {args.requests} requests, seed {args.seed}, model {model.name}, {os.cpu_count()} CPUs", flush=True)
    while run.figures.requests < args.requests:
        left = deadline - time.monotonic()
        if left <= 0 or not server.alive or not await run.window(args.window, left):
            run.figures.stopped_early = True
            break
        await run.step()
        if run.figures.requests in checkpoints and not await run.sample(max(1.0, deadline - time.monotonic())):
            run.figures.stopped_early = True
            break
    run.figures.exit_code = await server.stop(timeout=30)
    run.tally()
    run.figures.seconds = time.monotonic() - started
    return run.figures


def report(figures: Figures, args: argparse.Namespace) -> None:
    start, end = figures.at(args.first), figures.samples[-1] if figures.samples else None
    drift = figures.drift(args.first)
    answered = figures.results + sum(figures.errors.values())
    codes = ", ".join(f"{code} {n}" for code, n in sorted(figures.errors.items()))
    print(f"requests sent: {figures.requests} ({', '.join(f'{k} {v}' for k, v in sorted(figures.kinds.items()))}) "
          f"in {figures.seconds:.0f} s{' (stopped early)' if figures.stopped_early else ''}")
    print(f"requests answered: {answered} (result {figures.results}, error {sum(figures.errors.values())}: "
          f"{codes or 'none'}); unanswered {figures.unanswered}; answered twice {figures.answered_twice}")
    if start is not None and end is not None:
        print(f"RSS at request {start.request}: {start.rss / 2**20:.2f} MiB; at request {end.request}: "
              f"{end.rss / 2**20:.2f} MiB; drift {drift:+.2f} % (goal <= {args.max_drift} %)")
        half = next((x for x in figures.samples if x.request >= end.request // 2), None)
        if half is not None and half is not end:
            print(f"RSS over the second half (request {half.request} to {end.request}): "
                  f"{(end.rss - half.rss) / half.rss * 100:+.2f} % (what is left once allocators have warmed up)")
        print(f"tasks: {start.tasks} -> {end.tasks}; threads: {start.threads} -> {end.threads} "
              f"({start.groups} -> {end.groups}; new: {new_threads(start, end) or 'none'})")
        print(f"python objects: {start.objects} -> {end.objects} ({end.objects - start.objects:+}); "
              f"handler futures: {start.futures} -> {end.futures}")
    print(f"exit code after shutdown + exit: {figures.exit_code}")
    print("PASS" if figures.ok(args.first, args.max_drift) else "FAIL")
    if args.json:
        print(json.dumps({
            "requests": figures.requests, "answered": answered, "results": figures.results,
            "errors": {str(k): v for k, v in sorted(figures.errors.items())}, "unanswered": figures.unanswered,
            "answeredTwice": figures.answered_twice, "driftPercent": drift,
            "samples": [vars(s) for s in figures.samples], "exitCode": figures.exit_code,
            "ok": figures.ok(args.first, args.max_drift),
        }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--first", type=int, default=1_000, help="the request the drift is measured from")
    parser.add_argument("--every", type=int, default=1_000, help="sample diagnostics every N requests")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, help="a GGUF model (default: the tiny test model, written to a temp dir)")
    parser.add_argument("--window", type=int, default=4, help="most requests outstanding at once")
    parser.add_argument("--threads", type=int, default=1, help="model threads (infill.model.threads)")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--debounce-ms", type=int, default=0)
    parser.add_argument("--max-drift", type=float, default=2.0, help="RSS drift allowed, in %%")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for the whole run")
    parser.add_argument("--stderr", type=Path, help="write the server's log here (default: discarded)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or tiny_model(Path(tmp) / "tiny.gguf")
        figures = asyncio.run(soak(args, model))
    report(figures, args)
    return 0 if figures.ok(args.first, args.max_drift) else 1


if __name__ == "__main__":
    sys.exit(main())
