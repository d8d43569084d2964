"""What post-processing costs per completion: `finalize` timed on the cases of `quality.py --only accept`
(one-line calls of rich, express and simplejson's C, cursor in an argument) and on HumanEval's cut lines, each
with a completion that overruns the line (the argument, the rest of the line again, and a comment) and, for the
multi-line stage, a block of four lines. No model runs: this is the stage's own time, printed as the median and
the 99th percentile in milliseconds.

    python bench/postprocess_cost.py [--repeat 5]

Run it with `PYTHONPATH=<a checkout>/server` to time that checkout's post-processing (one without the
`language` argument is timed as it is: its rules do not read the language).
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from quality import ACCEPT_SOURCES, HUMAN_EVAL, accept_cases, fetch, fetch_archive, line_cases

from infill_ls.completion.context import Context
from infill_ls.completion.postprocess import finalize

COMMENT = {"python": "  # the answer", "javascript": " // the answer", "c": " /* the answer */"}


def timed(call: Callable[[], str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per case (the fastest is kept)")
    parser.add_argument("--cases", type=int, default=200, help="cases per language")
    args = parser.parse_args()
    reads_language = "language" in inspect.signature(finalize).parameters
    print(f"finalize from {sys.modules[finalize.__module__].__file__}; language-aware: {reads_language}")
    print(f"{'cases':<40} {'n':>5} {'median ms':>10} {'p99 ms':>8} {'max ms':>8}")
    rows: list[tuple[str, list[float]]] = []
    for language, (how, spec, pattern, _) in ACCEPT_SOURCES.items():
        root = fetch(spec) if how == "wheel" else fetch_archive(how, spec)
        times = []
        for case in accept_cases(language, root, pattern, args.cases, 0):
            rest = case.after.split("\n", 1)[0]
            raw = case.expected + rest + COMMENT[language]
            ctx = Context(case.before, case.after)
            extra = {"language": language} if reads_language else {}
            times.append(timed(partial(finalize, raw, ctx, False, **extra), args.repeat))
        rows.append((f"{language}: one line, overrun", times))
    times = []
    for line in line_cases(fetch(HUMAN_EVAL), 0):
        indent = line.before[line.before.rfind("\n") + 1:]
        raw = "\n".join([line.expected, *(indent + line.expected for _ in range(3))])
        ctx = Context(line.before, line.after)
        extra = {"language": "python"} if reads_language else {}
        times.append(timed(partial(finalize, raw, ctx, True, **extra), args.repeat))
    rows.append(("python (HumanEval): four lines", times))
    for name, values in rows:
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(f"{name:<40} {len(values):>5} {statistics.median(values):>10.3f} {p99:>8.3f} {values[-1]:>8.3f}")


if __name__ == "__main__":
    main()
