"""Time the indentation-style guess (`Context.style`, completion/context.py) per request on a large file while
typing: a scripted session of keystrokes in the middle of a 1.5 MiB Python file (characters of a word, a line
break with its indentation, a backspace, a move to another line), each one a new document state.

    python bench/style.py [--mib 1.5] [--keystrokes 200] [--repeat 5]

Prints, per request, the milliseconds of `.style` (what one completion pays for it; `extract`, which splits the
document at the cursor, is timed apart), median and mean, for the whole session and per kind of keystroke.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from infill_ls.completion.context import extract

FUNCTION = '''def handler_{n}(request, options=None):
    """Handle request {n}."""
    if options is None:
        options = {{}}
    for key, value in request.items():
        if key.startswith("_"):
            continue
        options[key] = value
    return options


'''


def document(mib: float) -> str:
    parts, size, n = [], 0, 0
    while size < mib * 1024 * 1024:
        parts.append(FUNCTION.format(n=n))
        size += len(parts[-1])
        n += 1
    return "".join(parts)


def session(text: str, keystrokes: int) -> list[tuple[str, str, int]]:
    """(kind, text, offset) after each keystroke, typing in the middle of `text`."""
    offset = text.index("\n\n\n", len(text) // 2) + 2
    steps: list[tuple[str, str, int]] = []
    word = "value = compute(request)"
    k = 0
    while len(steps) < keystrokes:
        phase = k % (len(word) + 4)
        if phase < len(word):
            kind, insert = "char", word[phase]
        elif phase == len(word):
            kind, insert = "enter+indent", "\n    "
        elif phase == len(word) + 1:
            kind = "backspace"
            text, offset = text[: offset - 1] + text[offset:], offset - 1
            steps.append((kind, text, offset))
            k += 1
            continue
        elif phase == len(word) + 2:
            kind, insert = "char", " "
        else:  # a move to another line: nothing typed
            kind, insert = "move", ""
            offset = text.index("\n", offset + 200) + 1
            steps.append((kind, text, offset))
            k += 1
            continue
        text, offset = text[:offset] + insert + text[offset:], offset + len(insert)
        steps.append((kind, text, offset))
        k += 1
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=float, default=1.5)
    parser.add_argument("--keystrokes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="sessions timed (the figures are over all)")
    args = parser.parse_args()
    text = document(args.mib)
    steps = session(text, args.keystrokes)
    print(f"document {len(text) / 1024 / 1024:.2f} MiB, {text.count(chr(10))} lines, {len(steps)} keystrokes")
    per_kind: dict[str, list[float]] = defaultdict(list)
    every: list[float] = []
    split: list[float] = []
    for _ in range(args.repeat):
        for kind, state, offset in steps:
            t0 = time.perf_counter()
            ctx = extract(state, offset)
            t1 = time.perf_counter()
            ctx.style  # noqa: B018 (timed)
            ms = (time.perf_counter() - t1) * 1000
            split.append((t1 - t0) * 1000)
            per_kind[kind].append(ms)
            every.append(ms)
    print(f"extract per request: median {statistics.median(split):.3f} ms (not cached; for scale)")
    print(f"style per request: median {statistics.median(every):.3f} ms, mean {statistics.mean(every):.3f} ms")
    for kind, times in sorted(per_kind.items()):
        print(f"  {kind:13} {len(times) // args.repeat:4} a session: median {statistics.median(times):.3f} ms, "
              f"mean {statistics.mean(times):.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
