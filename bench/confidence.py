"""What `infill.completion.minConfidence` would hide (issue 25): the quality benchmark's cases (bench/quality.py)
asked over LSP with SmolLM2-135M, each suggestion's confidence (the mean log-probability of its tokens, from the
item's `infill.accepted` command) recorded with whether it was right, and, for a range of thresholds, the share of
the wrong suggestions that a threshold hides and the share of the right ones it hides.

Right and wrong, per subset (the cases are bench/quality.py's, built the same way, same seed):
- single: HumanEval, one line of the canonical solution cut; right = the problem's tests pass on the file with the
  suggestion accepted (also recorded: the exact line match).
- accept: one argument of a one-line call cut out of rich (Python), express (JavaScript), simplejson (C); right =
  the suggestion is that argument, exactly (stripped).
- cross: rich, the next identifier after a cut at a name another module defines, the current file only (scenario
  c); right = the suggestion's first identifier is that name.
Empty suggestions have no confidence and are left out (nothing would be shown to hide).

    python bench/confidence.py [--subsets single,accept,cross] [--limit N] [--accept-cases 40] [--cases 40]
        [--threads N] [--prefix-tokens N] [--json OUT.json] [--from RECORDED.json] [--model SmolLM2.gguf]

`--from` prints the table from a recorded run without asking the model again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

sys.path.insert(0, str(Path(__file__).parent))
import quality  # the quality benchmark's cases, fetched and built as it builds them

CHECKPOINT: list[Any] = []
"""Called with each new suggestion (main writes the --json file as the run goes: a run cut short keeps its part)."""

THRESHOLDS = (-0.05, -0.1, -0.15, -0.2, -0.25, -0.3, -0.35, -0.4, -0.5, -0.6, -0.75, -1.0, -1.5, -2.0)
MAX_TOKENS = 32
"""As bench/quality.py's `--line-max-tokens` default."""


@dataclass
class Scored:
    subset: str
    case: str
    expected: str
    got: str
    confidence: float | None
    right: bool
    line_match: bool = False


async def ask(editor: quality.Editor, uri: str, line: int, character: int) -> tuple[str, float | None]:
    """An Invoked inlineCompletion: the first item's text and its confidence (None without an item)."""
    answer = await editor.client.text_document_inline_completion_async(types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(line, character)))
    items = answer.items if isinstance(answer, types.InlineCompletionList) else answer or []
    if not items:
        return "", None
    item = items[0]
    text = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    arguments = item.command.arguments if item.command is not None else None
    argument: Any = arguments[0] if arguments else None
    confidence = getattr(argument, "confidence", None) if not isinstance(argument, dict) else argument.get(
        "confidence")
    return text, confidence


def keep(scored: list[Scored], one: Scored) -> None:
    scored.append(one)
    for hook in CHECKPOINT:
        hook(one)


def editor(args: argparse.Namespace, folder: Path | None = None) -> quality.Editor:
    made = quality.Editor(args.model, MAX_TOKENS, folder, args.threads, args.prefix_tokens)
    made.settings["completion"]["alternatives"] = 1  # one greedy item, as an automatic request gets
    return made


async def run_single(args: argparse.Namespace) -> list[Scored]:
    cases = quality.line_cases(quality.fetch(quality.HUMAN_EVAL), args.seed)[: args.limit or None]
    scored = []
    async with editor(args) as ed:
        for case in cases:
            path = Path(tempfile.gettempdir()) / "infill-confidence" / (case.task.replace("/", "_") + ".py")
            uri = ed.open(path, case.before + case.after)
            column = quality.utf16(case.before[case.before.rfind("\n") + 1:])
            got, confidence = await ask(ed, uri, case.before.count("\n"), column)
            ed.close(uri)
            if got:
                keep(scored, Scored("single", case.task, case.expected, got, confidence,
                                    quality.passes(quality.tested(case, got)),
                                    got.split("\n")[0].strip() == case.expected))
    return scored


async def run_accept(args: argparse.Namespace) -> list[Scored]:
    scored = []
    for language in args.languages.split(","):
        how, spec, pattern, suffix = quality.ACCEPT_SOURCES[language]
        root = quality.fetch(spec) if how == "wheel" else quality.fetch_archive(how, spec)
        cases = quality.accept_cases(language, root, pattern, args.limit or args.accept_cases, args.seed)
        async with editor(args) as ed:
            for n, case in enumerate(cases):
                path = Path(tempfile.gettempdir()) / "infill-confidence" / f"accept-{n}{suffix}"
                uri = ed.open(path, case.before + case.after, language)
                line_prefix = case.before[case.before.rfind("\n") + 1:]
                got, confidence = await ask(ed, uri, case.before.count("\n"), quality.utf16(line_prefix))
                ed.close(uri)
                if got:
                    right = got.strip() == case.expected.strip()
                    keep(scored, Scored(f"accept-{language}", f"{case.path}:{case.before.count(chr(10)) + 1}",
                                        case.expected, got, confidence, right, right))
    return scored


async def run_cross(args: argparse.Namespace) -> list[Scored]:
    package = args.package.partition("==")[0]
    root = quality.fetch(args.package)
    cases = quality.pick(quality.cross_cases(root, package), args.limit or args.cases, args.seed)
    scored = []
    with tempfile.TemporaryDirectory(prefix="infill-confidence-") as scratch:
        work = Path(scratch) / "workspace"
        shutil.copytree(root / package, work / package)
        async with editor(args) as ed:
            for case in cases:
                path = work / case.path
                lines = path.read_text(encoding="utf-8").split("\n")
                text = "\n".join([*lines[: case.line], case.prefix, *lines[case.line + 1:]])
                uri = ed.open(path, text)
                got, confidence = await ask(ed, uri, case.line, quality.utf16(case.prefix))
                ed.close(uri)
                if got:
                    right = quality.first_identifier(got) == case.expected
                    keep(scored, Scored("cross", f"{case.path}:{case.line + 1}", case.expected, got, confidence,
                                        right, right))
    return scored


def table(scored: list[Scored]) -> str:
    """For each threshold: the share of wrong suggestions hidden, of right ones hidden, and of all."""
    with_confidence = [s for s in scored if s.confidence is not None]
    right = [s for s in with_confidence if s.right]
    wrong = [s for s in with_confidence if not s.right]

    def share(part: list[Scored], floor: float) -> str:
        hidden = sum(1 for s in part if s.confidence is not None and s.confidence < floor)
        return f"{100 * hidden / len(part):5.1f}% ({hidden}/{len(part)})" if part else "-"

    lines = [f"suggestions {len(with_confidence)} (right {len(right)}, wrong {len(wrong)}); "
             f"hidden = confidence below the threshold",
             "| minConfidence | wrong hidden | right hidden | all hidden |", "|---:|---:|---:|---:|"]
    for floor in THRESHOLDS:
        lines.append(f"| {floor:g} | {share(wrong, floor)} | {share(right, floor)} | {share(with_confidence, floor)} |")
    return "\n".join(lines)


def quantiles(scored: list[Scored]) -> str:
    """The median confidence of the right and of the wrong suggestions."""
    import statistics

    def median(part: list[float]) -> str:
        return f"{statistics.median(part):.3f}" if part else "-"

    right = [s.confidence for s in scored if s.confidence is not None and s.right]
    wrong = [s.confidence for s in scored if s.confidence is not None and not s.right]
    return f"median confidence: right {median(right)}, wrong {median(wrong)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subsets", default="single,accept,cross")
    parser.add_argument("--limit", type=int, default=0, help="at most N cases a subset (a language for accept)")
    parser.add_argument("--accept-cases", type=int, default=40)
    parser.add_argument("--languages", default=",".join(quality.ACCEPT_SOURCES))
    parser.add_argument("--cases", type=int, default=40, help="cross-file cases")
    parser.add_argument("--package", default="rich==13.9.4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--prefix-tokens", type=int, default=0, help="completion.prefixTokens (0: the default)")
    parser.add_argument("--json", type=Path, help="write every suggestion with its confidence and verdict")
    parser.add_argument("--from", dest="recorded", type=Path, help="print the table of a recorded --json run")
    args = parser.parse_args()
    if args.recorded:
        scored = [Scored(**row) for row in json.loads(args.recorded.read_text(encoding="utf-8"))]
    else:
        args.model = args.model or quality.smollm2()
        runs = {"single": run_single, "accept": run_accept, "cross": run_cross}
        scored = []
        so_far: list[Scored] = []

        def save(one: Scored) -> None:
            so_far.append(one)
            print(f"{len(so_far)}: {one.subset} {one.case} confidence {one.confidence} right {one.right}",
                  file=sys.stderr)
            if args.json:  # as the run goes: a run cut short keeps what it did
                args.json.write_text(json.dumps([asdict(s) for s in so_far], indent=1), encoding="utf-8")

        CHECKPOINT.append(save)
        for subset in args.subsets.split(","):
            started = time.perf_counter()
            done = asyncio.run(runs[subset](args))
            print(f"{subset}: {len(done)} suggestions in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            scored += done
    for subset in sorted({s.subset for s in scored}):
        part = [s for s in scored if s.subset == subset]
        print(f"\n### {subset}\n{quantiles(part)}\n{table(part)}")
    print(f"\n### all subsets\n{quantiles(scored)}\n{table(scored)}")


if __name__ == "__main__":
    main()
