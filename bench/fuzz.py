"""Fuzz infill-ls over stdio with malformed LSP messages; print what was answered; exit 1 on any failure.

One server with the tiny random-weight model (tests/fixtures/tinymodel.py, or `--model`) gets `--messages`
messages drawn with a fixed `--seed`: valid LSP messages (inline and menu completions, hover, the
diagnostics request, didOpen/didChange/didClose, $/cancelRequest), most of them mutated: a field of the
wrong type, an out-of-range number, a missing field, a wrong method, an invalid id, a request turned into
a notification or back, bad JSON, a huge value, bad UTF-8. Every body is framed correctly (a wrong
Content-Length cannot be answered: it desynchronizes the stream).

What each message must get follows from JSON-RPC alone, computed here from the bytes sent:
- a request whose id can be read (a method and an integer or string id, or an id and no method): exactly
  one response with that id, a result or an error;
- a body that is not JSON, not an object, or a request whose id cannot be read: one error with id null
  (-32700 for what does not parse, -32600 for the rest);
- a notification, or a response to no request: nothing.

Afterwards the server must be alive, answer a valid inline request, and exit with 0 on shutdown + exit.
Printed: messages by mutation, requests, answered (result / error by code), unanswered, answered twice,
id-null errors expected and received, answers to notifications, alive, the valid request afterwards.
Bounded: at most `--window` requests outstanding, and `--timeout` seconds in all.

    python bench/fuzz.py [--messages 5000] [--seed 1] [--model MODEL.gguf] [--timeout 900] [--json]
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rawlsp import NULL_ID, RawServer, tiny_model

DOCS = {
    f"file:///fuzz/{name}.py": text for name, text in {
        "a": "def add(a, b):\n    return a + b\n\n\nx = \n",
        "b": "import os\n\nclass Point:\n    def __init__(self, x, y):\n        self.x = \n",
        "c": "for i in range(10):\n    print(i)\n# é ü 😀 tail\n",
    }.items()
}
EXCLUDED = {"initialize", "shutdown", "exit"}
"""Methods a fuzz message never carries: they end or restart the session by design."""
METHODS = [
    "textDocument/inlineCompletion", "textDocument/completion", "textDocument/hover", "textDocument/didOpen",
    "textDocument/didChange", "textDocument/didClose", "textDocument/didSave", "$/cancelRequest",
    "infill/diagnostics", "infill/status", "completionItem/resolve", "workspace/executeCommand",
    "textDocument/definition", "$/setTrace", "", "textDocument/", "TEXTDOCUMENT/INLINECOMPLETION", "ünïcode/😀",
    "x" * 5000, 42, None, ["textDocument/completion"], {"method": "x"},
]
WRONG_VALUES: list[Any] = [None, True, False, 1.5, -7, "str", "", [], [1, "a"], {}, {"line": 0}]
BAD_IDS: list[Any] = [None, True, 1.5, [], {}, [1], {"id": 1}]
OUT_OF_RANGE: list[Any] = [-1, -2**31, 2**31, 2**32, 2**53 + 1, 2**63, -2**63 - 1, 10**30, 1e300, -0.0,
                           float("nan"), float("inf")]
BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28", b"\x80", b"\xe2\x82"]
MUTATIONS = ["valid", "wrong-type", "out-of-range", "missing-field", "wrong-method", "bad-id", "toggle-id",
             "bad-json", "huge", "bad-utf8"]
WEIGHTS = [10, 14, 12, 12, 10, 6, 6, 12, 6, 12]


def valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


@dataclass
class Expected:
    """What the bytes sent call for, by JSON-RPC."""

    requests: dict[Any, str] = field(default_factory=dict)
    """id -> method (as sent) of every request that must be answered with its id."""
    null_id: Counter[int] = field(default_factory=Counter)
    """Errors with id null, by code."""
    silent: list[Any] = field(default_factory=list)
    """Ids of responses to nothing (must not be answered); notifications are counted apart."""
    notifications: int = 0


def expect(body: bytes, expected: Expected) -> None:
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        expected.null_id[-32700] += 1
        return
    if not isinstance(message, dict):
        expected.null_id[-32600] += 1
    elif "method" in message:
        if "id" not in message:
            expected.notifications += 1
        elif valid_id(message["id"]):
            expected.requests[message["id"]] = str(message["method"])[:60]
        else:
            expected.null_id[-32600] += 1
    elif "id" in message and ("result" in message or "error" in message):
        expected.silent.append(message["id"])
    elif valid_id(message.get("id")):
        expected.requests[message["id"]] = "(no method)"
    else:
        expected.null_id[-32600] += 1


class Generator:
    """Valid messages from the open documents, and their mutations, from one seeded random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counter = 0
        self.recent: list[Any] = []

    def next_id(self) -> Any:
        self.counter += 1
        return self.counter if self.counter % 3 else f"fuzz-{self.counter}"

    def position(self) -> dict[str, int]:
        r = self.rng
        line, character = r.choice([0, 1, 2, 3, 4, r.randint(0, 40)]), r.choice([0, 1, 4, 8, r.randint(0, 200)])
        return {"line": line, "character": character}

    def valid(self) -> dict[str, Any]:
        r = self.rng
        uri = r.choice(list(DOCS))
        doc = {"uri": uri}
        kind = r.choices(["inline", "completion", "hover", "diagnostics", "change", "open", "close", "cancel"],
                         [30, 15, 5, 3, 25, 7, 3, 12])[0]
        if kind == "inline":
            context: dict[str, Any] = {"triggerKind": r.choice([1, 2])}
            if r.random() < 0.2:
                pos = self.position()
                context["selectedCompletionInfo"] = {"range": {"start": pos, "end": pos}, "text": "ret"}
            params = {"textDocument": doc, "position": self.position(), "context": context}
            return self.request("textDocument/inlineCompletion", params)
        if kind == "completion":
            context = {"triggerKind": r.choice([1, 2, 3]), "triggerCharacter": "."}
            params = {"textDocument": doc, "position": self.position(), "context": context}
            return self.request("textDocument/completion", params)
        if kind == "hover":
            return self.request("textDocument/hover", {"textDocument": doc, "position": self.position()})
        if kind == "diagnostics":
            return self.request("infill/diagnostics", None)
        if kind == "change":
            start = self.position()
            text = r.choice(["x", " ", "\n", "(", "é"])
            change: dict[str, Any] = {"range": {"start": start, "end": start}, "text": text}
            if r.random() < 0.1:
                change = {"text": DOCS[uri]}
            return {"method": "textDocument/didChange",
                    "params": {"textDocument": {**doc, "version": self.counter}, "contentChanges": [change]}}
        if kind == "open":
            item = {**doc, "languageId": "python", "version": self.counter, "text": DOCS[uri]}
            return {"method": "textDocument/didOpen", "params": {"textDocument": item}}
        if kind == "close":
            return {"method": "textDocument/didClose", "params": {"textDocument": doc}}
        target = r.choice(self.recent) if self.recent else 0
        return {"method": "$/cancelRequest", "params": {"id": target}}

    def request(self, method: str, params: Any) -> dict[str, Any]:
        msg_id = self.next_id()
        self.recent = [*self.recent[-15:], msg_id]
        return {"id": msg_id, "method": method, "params": params}

    def paths(self, value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Every path (keys and indexes) to a value inside `value`."""
        found = [prefix] if prefix else []
        if isinstance(value, dict):
            for key, item in value.items():
                found += self.paths(item, (*prefix, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found += self.paths(item, (*prefix, index))
        return found

    def replace(self, message: dict[str, Any], pick: Callable[[tuple[Any, ...], Any], Any],
                where: Callable[[Any], bool] = lambda v: True) -> None:
        paths = [p for p in self.paths(message) if where(get(message, p))]
        if paths:
            path = self.rng.choice(paths)
            put(message, path, pick(path, get(message, path)))

    def mutate(self, mutation: str) -> bytes:
        r = self.rng
        message: dict[str, Any] = {"jsonrpc": "2.0", **self.valid()}
        if mutation == "wrong-type":
            def wrong(path: tuple[Any, ...], old: Any) -> Any:
                pool = BAD_IDS if path == ("id",) else WRONG_VALUES
                return r.choice([v for v in pool if type(v) is not type(old)])
            self.replace(message, wrong)
        elif mutation == "out-of-range":
            numbers = [p for p in self.paths(message) if type(get(message, p)) is int and p != ("id",)]
            if numbers:
                put(message, r.choice(numbers), r.choice(OUT_OF_RANGE))
        elif mutation == "missing-field":
            path = r.choice(self.paths(message))
            parent = get(message, path[:-1]) if len(path) > 1 else message
            del parent[path[-1]]
        elif mutation == "wrong-method":
            message["method"] = r.choice([m for m in METHODS if m != message["method"]])
        elif mutation == "bad-id":
            message["id"] = r.choice(BAD_IDS)
        elif mutation == "toggle-id":
            if "id" in message:
                del message["id"]
            else:
                message["id"] = self.next_id()
        elif mutation == "huge":
            return self.huge(message)
        body = json.dumps(message).encode()
        if mutation == "bad-json":
            return self.break_json(body)
        if mutation == "bad-utf8":
            quote = [i for i, b in enumerate(body) if b == ord('"')]
            at = r.choice(quote) + 1
            return body[:at] + r.choice(BAD_UTF8) + body[at:]
        return body

    def huge(self, message: dict[str, Any]) -> bytes:
        r = self.rng
        size = int(10 ** r.uniform(4, 6))  # 10k to 1M
        kind = r.choice(["string", "list", "nested", "digits", "keys"])
        if kind == "nested":  # too deep to parse
            return b'{"jsonrpc": "2.0", "id": 1, "params": ' + b"[" * size
        if kind == "digits":  # more digits than Python converts
            return json.dumps(message).encode()[:-1] + b', "n": ' + b"9" * max(size, 5000) + b"}"
        value: Any = {
            "string": "x" * size,
            "list": list(range(size // 8)),
            "keys": {f"k{i}": i for i in range(size // 16)},
        }[kind]
        self.replace(message, lambda path, old: value, where=lambda v: not isinstance(v, dict | list))
        return json.dumps(message).encode()

    def break_json(self, body: bytes) -> bytes:
        r = self.rng
        how = r.choice(["cut", "insert", "trailing-comma", "single-quotes", "empty", "garbage"])
        if how == "cut":
            return body[: r.randrange(1, len(body))]
        if how == "insert":
            at = r.randrange(len(body))
            return body[:at] + r.choice([b"{", b"}", b"[", b",", b":", b'"', b"\\", b"\x00"]) + body[at:]
        if how == "trailing-comma":
            return body[:-1] + b",}"
        if how == "single-quotes":
            return body.replace(b'"', b"'")
        if how == "empty":
            return b" "
        return bytes(r.randrange(256) for _ in range(r.randint(1, 64)))


def get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def put(value: Any, path: tuple[Any, ...], new: Any) -> None:
    get(value, path[:-1])[path[-1]] = new


@dataclass
class Figures:
    messages: int = 0
    mutations: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    results: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    unanswered: list[str] = field(default_factory=list)
    answered_twice: int = 0
    null_id_expected: Counter[int] = field(default_factory=Counter)
    null_id_received: Counter[int] = field(default_factory=Counter)
    notifications: int = 0
    silent_answered: int = 0
    alive: bool = False
    after: str = "not sent"
    exit_code: int | None = None
    seconds: float = 0.0
    stopped_early: bool = False

    def ok(self) -> bool:
        return (not self.unanswered and not self.answered_twice and self.null_id_expected == self.null_id_received
                and not self.silent_answered and self.alive and self.after == "result" and self.exit_code == 0
                and not self.stopped_early)

    def print(self, seed: int, model: Path) -> None:
        codes = ", ".join(f"{code} {n}" for code, n in sorted(self.errors.items()))
        print(f"fuzz: {self.messages} messages, seed {seed}, model {model.name}, {os.cpu_count()} CPUs, "
              f"{self.seconds:.1f} s{' (stopped early: time limit)' if self.stopped_early else ''}")
        print("messages by mutation: " + ", ".join(f"{m} {self.mutations[m]}" for m in MUTATIONS))
        print(f"requests (an id to answer): {self.requests}")
        print(f"  answered: {self.results + sum(self.errors.values())} (result {self.results}, error "
              f"{sum(self.errors.values())}: {codes or 'none'})")
        print(f"  unanswered: {len(self.unanswered)}" + (f" ({Counter(self.unanswered).most_common(5)})"
                                                         if self.unanswered else ""))
        print(f"  answered twice: {self.answered_twice}")
        print(f"errors with id null: expected {dict(sorted(self.null_id_expected.items()))}, "
              f"received {dict(sorted(self.null_id_received.items()))}")
        print(f"notifications sent: {self.notifications}; responses to nothing answered: {self.silent_answered}")
        print(f"server alive after the fuzz: {'yes' if self.alive else 'NO'}")
        print(f"valid inline request afterwards: {self.after}")
        print(f"exit code after shutdown + exit: {self.exit_code}")
        print("PASS" if self.ok() else "FAIL")


async def fuzz(args: argparse.Namespace, model: Path) -> Figures:
    started = time.monotonic()
    deadline = started + args.timeout
    rng = random.Random(args.seed)
    gen = Generator(rng)
    expected = Expected()
    figures = Figures()
    server = await RawServer.start("--model", str(model), stderr=args.stderr)
    # One model thread and short completions: the fuzz is about the protocol, on a machine it shares.
    options = {"infill": {"model": {"path": str(model), "contextSize": 1024, "threads": 1},
                          "completion": {"debounceMs": 0, "maxTokens": 16}}}
    await server.initialize(options, timeout=120)
    for uri, text in DOCS.items():
        await server.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 0, "text": text}}})

    pending: set[Any] = set()

    def outstanding() -> int:
        pending.difference_update([i for i in pending if i in server.responses])
        return len(pending)

    for _ in range(args.messages):
        if time.monotonic() > deadline or not server.alive:
            figures.stopped_early = True
            break
        # A soft window: a request the server never answers must not stop the fuzz.
        await server.wait_for(lambda: outstanding() < args.window, timeout=2)
        mutation = rng.choices(MUTATIONS, WEIGHTS)[0]
        body = gen.mutate(mutation)
        before = len(expected.requests)
        expect(body, expected)
        if len(expected.requests) > before:
            pending.add(next(reversed(expected.requests)))
        figures.mutations[mutation] += 1
        figures.messages += 1
        try:
            await server.send_body(body)
        except (BrokenPipeError, ConnectionResetError):
            break

    def settled() -> bool:
        return (outstanding() == 0 and sum(len(v) for k, v in server.responses.items() if k == NULL_ID)
                >= sum(expected.null_id.values()))

    await server.wait_for(settled, timeout=max(1.0, deadline - time.monotonic()))
    figures.alive = server.alive
    if server.alive:
        uri = "file:///fuzz/after.py"
        await server.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": "def add(a, b):\n    return "}}})
        params = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11},
                  "context": {"triggerKind": 1}}
        answer = await server.call("after", "textDocument/inlineCompletion", params, timeout=60)
        figures.after = "no answer" if answer is None else ("result" if "result" in answer else f"error {answer}")
    figures.exit_code = await server.stop(timeout=30)
    figures.seconds = time.monotonic() - started

    figures.requests = len(expected.requests)
    for msg_id, method in expected.requests.items():
        answers = server.responses.get(msg_id, [])
        if not answers:
            figures.unanswered.append(method)
            continue
        figures.answered_twice += len(answers) > 1
        if "error" in answers[0]:
            figures.errors[answers[0]["error"]["code"]] += 1
        else:
            figures.results += 1
    figures.null_id_expected = expected.null_id
    # (0 counts results with id null: an answer to a request whose id could not be read, which is wrong)
    figures.null_id_received = Counter(m.get("error", {}).get("code", 0) for m in server.responses.get(NULL_ID, []))
    figures.notifications = expected.notifications
    figures.silent_answered = sum(1 for i in expected.silent if i in server.responses)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, help="a GGUF model (default: the tiny test model, written to a temp dir)")
    parser.add_argument("--window", type=int, default=32, help="most requests outstanding at once")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the whole run")
    parser.add_argument("--stderr", type=Path, help="write the server's log here (default: discarded)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or tiny_model(Path(tmp) / "tiny.gguf")
        figures = asyncio.run(fuzz(args, model))
    figures.print(args.seed, model)
    if args.json:
        print(json.dumps({
            "messages": figures.messages, "requests": figures.requests, "results": figures.results,
            "errors": {str(k): v for k, v in sorted(figures.errors.items())}, "unanswered": len(figures.unanswered),
            "answeredTwice": figures.answered_twice, "nullIdExpected": sum(figures.null_id_expected.values()),
            "nullIdReceived": sum(figures.null_id_received.values()), "silentAnswered": figures.silent_answered,
            "alive": figures.alive, "after": figures.after, "exitCode": figures.exit_code, "ok": figures.ok(),
        }))
    return 0 if figures.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
