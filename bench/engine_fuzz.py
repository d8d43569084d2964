"""Fuzz the engine side of infill-ls: a hostile inference server; print what happened; exit 1 on any failure.

One infill-ls over stdio (log level debug) uses a fake llama-server on 127.0.0.1 (tests/fixtures/hostile.py) as
its remote engine, with INFILL_API_KEY set to a key ending in `\\r\\n` (sent without it). `--steps` steps drawn
with a fixed `--seed` each pick a fault of the server (truncated or wrong-typed JSON, huge bodies, a huge line, a
slow drip, endless empty events, a redirect to another host or to file://, 401 and 500 answers that echo the key,
503, resets, a closed or silent connection) and when it strikes: at a connect (new settings) or during a
completion. Each step asks for one inline completion, then the server is healed and infill-ls must reconnect.

Must hold: every request answered; infill-ls alive and answering afterwards, exiting 0; its threads (thread pools
aside, which grow to their bound) as before the fuzz; the key in no message it sent (showMessage, infill/status,
logMessage, any response) nor in its stderr; no request made to the host a redirect names.
Printed: steps by fault and phase, requests, answered, unanswered, the slowest answer, outages reported,
threads before and after, resident memory before and after, the key seen, requests the other host got.
Bounded: each wait by `--wait` seconds, the whole run by `--timeout`; loopback only.

    python bench/engine_fuzz.py [--steps 200] [--seed 1] [--wait 30] [--timeout 900] [--json]
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
from pathlib import Path
from typing import Any

from rawlsp import ROOT, RawServer

sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from hostile import FAULTS, HostileServer

KEY = "team-secret-4f9a"
URI = "file:///fuzz/engine.py"
DOC = "def total(items):\n    return sum(items)\n\nx ="
PHASES = ("connect", "generate")


class Recording(RawServer):
    """A RawServer at log level debug that also keeps every message it got, as text (to look for the key in)."""

    texts: list[str]

    @classmethod
    async def debug(cls, stderr: Path) -> Recording:
        with stderr.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "infill_ls", "--log-level", "debug", "serve", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=err, limit=1 << 26)
        return cls(proc)

    def _take(self, message: dict[str, Any]) -> None:
        self.texts.append(json.dumps(message, ensure_ascii=False))
        super()._take(message)


def outside_pools(groups: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in groups.items() if not name.startswith("ThreadPoolExecutor")}


async def fuzz(steps: int, seed: int, wait: float, stderr: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    os.environ["INFILL_API_KEY"] = KEY + "\r\n"
    figures: dict[str, Any] = {"steps": steps, "seed": seed}
    with HostileServer() as elsewhere, HostileServer(key=KEY, elsewhere=elsewhere.url) as hostile:
        Recording.texts = []
        server = await Recording.debug(stderr)
        timeout_ms = 1000
        engine = {"url": hostile.url, "timeoutMs": timeout_ms}
        await server.initialize({"infill": {"engine": engine, "completion": {"debounceMs": 0, "alternatives": 1}}},
                                wait)
        await server.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": URI, "languageId": "python", "version": 1, "text": DOC}}})
        ids = iter(range(1, 1_000_000))
        answered, unanswered, slowest = 0, 0, 0.0

        async def ask(version: int) -> str:
            nonlocal answered, unanswered, slowest
            await server.send({"method": "textDocument/didChange", "params": {
                "textDocument": {"uri": URI, "version": version},
                "contentChanges": [{"text": DOC + " " * (version % 50)}]}})
            started = time.perf_counter()
            msg_id = next(ids)
            answer = await server.call(msg_id, "textDocument/inlineCompletion", {
                "textDocument": {"uri": URI}, "position": {"line": 3, "character": 3 + version % 50},
                "context": {"triggerKind": 1}}, wait)
            slowest = max(slowest, time.perf_counter() - started)
            if answer is None:
                unanswered += 1
                return "unanswered"
            answered += 1
            return "result" if "result" in answer else "error"

        async def diagnostics() -> dict[str, Any]:
            answer = await server.call(next(ids), "infill/diagnostics", None, wait)
            assert answer is not None and "result" in answer, answer
            result: dict[str, Any] = answer["result"]
            return result

        async def ready() -> bool:
            return await server.wait_for(lambda: server.status.get("state") == "ready", wait)

        version = 1
        for _ in range(3):  # warm: thread pools start their workers as work comes
            version += 1
            await ask(version)
        before = await diagnostics()
        chosen: Counter[str] = Counter()
        rss: list[float] = []
        for step in range(steps):
            if step % 50 == 0:
                rss.append(round(((await diagnostics())["rssBytes"] or 0) / 2**20, 1))
            fault, phase = rng.choice(FAULTS), rng.choice(PHASES)
            chosen[f"{fault} at {phase}"] += 1
            hostile.mode = fault
            if phase == "connect":
                timeout_ms += 1
                mark = server.notifications["infill/status"]
                await server.send({"method": "workspace/didChangeConfiguration", "params": {"settings": {"infill": {
                    "engine": {**engine, "timeoutMs": timeout_ms}}}}})
                await server.wait_for(lambda: server.notifications["infill/status"] > mark  # noqa: B023
                                      and server.status.get("state") in ("ready", "error"), wait)
            version += 1
            await ask(version)
            hostile.mode = "ok"
            if not await ready():
                break
        figures["faults"] = dict(sorted(chosen.items()))
        version += 1
        await ready()
        figures["after"] = await ask(version)
        deadline = time.monotonic() + wait  # a retired engine is closed once its last request is done
        after = await diagnostics()
        while outside_pools(after["threadGroups"]) != outside_pools(before["threadGroups"]) and (
                time.monotonic() < deadline):
            await asyncio.sleep(0.2)
            after = await diagnostics()
        figures["alive"] = server.alive
        figures["statusErrors"] = sum('"state": "error"' in t for t in server.texts)
        figures["messagesShown"] = server.notifications["window/showMessage"]
        figures["exitCode"] = await server.stop(wait)
        figures.update({
            "requests": answered + unanswered, "answered": answered, "unanswered": unanswered,
            "slowestAnswerS": round(slowest, 2),
            "threadsBefore": sum(outside_pools(before["threadGroups"]).values()),
            "threadsAfter": sum(outside_pools(after["threadGroups"]).values()),
            "threadGroupsBefore": before["threadGroups"], "threadGroupsAfter": after["threadGroups"],
            "rssMbBefore": round((before["rssBytes"] or 0) / 2**20, 1),
            "rssMbAfter": round((after["rssBytes"] or 0) / 2**20, 1), "rssMbEvery50Steps": rss,
            "pythonObjectsBefore": before["pythonObjects"], "pythonObjectsAfter": after["pythonObjects"],
            "engineRequests": len(hostile.seen), "redirectsFollowed": len(elsewhere.seen),
        })
        written = [*server.texts, *stderr.read_text(errors="replace").splitlines()]
        figures["keySeen"] = sum(1 for t in written if "team-secret" in t or "4f9a" in t)
    return figures


def failed(figures: dict[str, Any]) -> list[str]:
    checks = {
        "every request answered": figures["unanswered"] == 0,
        "alive and answering afterwards": figures["alive"] and figures["after"] == "result",
        "exit code 0": figures["exitCode"] == 0,
        "threads as before": figures["threadsAfter"] == figures["threadsBefore"],
        "the key nowhere": figures["keySeen"] == 0,
        "no redirect followed": figures["redirectsFollowed"] == 0,
    }
    return [name for name, ok in checks.items() if not ok]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wait", type=float, default=30.0, help="longest wait for one answer or state, seconds")
    parser.add_argument("--timeout", type=float, default=900.0, help="longest run, seconds")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(asyncio.wait_for(fuzz(args.steps, args.seed, args.wait, Path(tmp) / "stderr.txt"),
                                               args.timeout))
    figures["wallS"] = round(time.perf_counter() - started, 1)
    problems = failed(figures)
    print(f"engine fuzz: {figures['steps']} steps, seed {figures['seed']}, {os.cpu_count()} CPUs, {figures['wallS']} s")
    for name, count in figures["faults"].items():
        print(f"  {name:32} {count}")
    print(f"requests {figures['requests']}, answered {figures['answered']}, unanswered {figures['unanswered']}, "
          f"slowest answer {figures['slowestAnswerS']} s")
    print(f"outages reported in the status {figures['statusErrors']}, messages shown {figures['messagesShown']}")
    print(f"threads (pools aside) before {figures['threadsBefore']}, after {figures['threadsAfter']}; "
          f"RSS {figures['rssMbBefore']} MB before, {figures['rssMbAfter']} MB after "
          f"(every 50 steps: {figures['rssMbEvery50Steps']}); Python objects {figures['pythonObjectsBefore']} "
          f"before, {figures['pythonObjectsAfter']} after")
    print(f"requests the engine got {figures['engineRequests']}, the other host {figures['redirectsFollowed']}; "
          f"the key seen {figures['keySeen']} times")
    print(f"alive afterwards: {'yes' if figures['alive'] else 'no'}, next request: {figures['after']}, "
          f"exit code {figures['exitCode']}")
    print("OK" if not problems else "FAILED: " + ", ".join(problems))
    if args.json:
        print(json.dumps(figures))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
