"""Stage 2: the context cut to token budgets and laid out as token ids for the model's FIM format.

The windows are a pure function of the context, the budgets and the tokenizer: the same context gives the
same prompt, whatever was asked before. Their edges sit on fixed grids, so that the prompt changes only where
the user edits and the KV cache stays reusable:

- the prefix window starts at the first line start after the earliest point of a grid counted from the
  document's start from which the text up to the cursor fits its budget. Typing leaves it in place until the
  window outgrows its budget; then its start jumps to the next grid point (half a budget further on);
- the suffix window ends at the last line end before the latest point of a grid counted from the document's
  end up to which it fits. Typing leaves it alone; moving the cursor down only drops text at its start (a run
  the KV cache can shift) until a whole step has been freed;
- inside one line longer than a window (a 700 kB minified file), the edge is the grid point itself, mid-line;
- where the window would be empty, or hold far less of its budget than it does in text like SAMPLE (text of
  far fewer characters per token, as CJK or emoji), a grid four times finer is tried, and so on.

Steps are set in tokens (PREFIX_STEP, SUFFIX_STEP) and turned into characters with the characters per token
of typical source text (SAMPLE) in the model's vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from ..engine.base import Heal
from ..models import FimTokens, Layout
from .context import Context
from .crossfile.focus import Focus
from .crossfile.selection import Snippet, comment_for, header_block

SPECIAL_TOKENS = 5
"""BOS + PRE + SUF + MID, and one spare."""
SAMPLE = (
    'class Cache:\n    """A small LRU cache of rendered pages, keyed by their path."""\n\n'
    "    def __init__(self, size: int = 128) -> None:\n        self.size = size\n"
    "        self.pages: dict[str, str] = {}  # insertion order is recency\n\n"
    '    def get(self, path: str) -> str | None:\n        """The page, moved to the end, or None."""\n'
    "        page = self.pages.pop(path, None)\n        if page is not None:\n            self.pages[path] = page\n"
    "        return page\n\n\n"
    "function render(items) {\n  // one <li> per item, in order\n"
    '  return items.map((item) => `<li>${item.name}</li>`).join("");\n}\n'
)
"""Typical source text: its characters per token in the model's vocabulary turn the steps into characters."""
PREFIX_STEP = 0.5
"""The prefix grid's step as a share of the prefix budget. Typing moves the window's start once per step typed,
and the window holds 1 - PREFIX_STEP / 2 of its budget on average."""
SUFFIX_STEP = 1.0
"""The suffix grid's step as a share of the suffix budget. Moving down moves the window's end once per step
moved, and the window holds 1 - SUFFIX_STEP / 2 of its budget on average. Each move of the end re-evaluates
all that follows the suffix (the prefix, in the suffix-first layout), hence the coarser step."""
NEAR_TOKENS = 160
"""Tokens the focus may take near the cursor on the prefix-only path (reserved whenever there is cross-file context
there, so that the focus coming and going leaves the windows in place)."""
MAX_CHARS_PER_TOKEN = 16
"""A window longer than this many characters per token of budget is taken not to fit, without tokenizing it."""


class Tokenizer(Protocol):
    fim: FimTokens
    add_bos: bool
    bos: int | None

    def tokenize(self, text: str) -> list[int]: ...

    def tokenize_infill(self, text: str) -> list[int]: ...


@dataclass(frozen=True)
class Budget:
    prefix_tokens: int = 1536
    suffix_tokens: int = 512
    max_tokens: int = 64
    context_size: int = 4096
    extra_tokens: int = 0
    """Tokens the cross-file block takes (at most half the room; the windows share what is left)."""

    def fitted(self) -> Budget:
        """Shrink prefix and suffix budgets (keeping their ratio) so block + prompt + generation fit the context."""
        room = max(0, self.context_size - self.max_tokens - SPECIAL_TOKENS - self.extra_tokens)
        wanted = self.prefix_tokens + self.suffix_tokens
        if wanted <= room:
            return self
        prefix = self.prefix_tokens * room // wanted if wanted else 0
        return Budget(prefix, room - prefix, self.max_tokens, self.context_size, self.extra_tokens)


@dataclass(frozen=True)
class CrossFileBlock:
    """The cross-file block of a prompt (see completion/crossfile/), and the names the model is shown."""

    snippets: tuple[Snippet, ...] = ()
    path: str = ""
    """The current file's path, relative to its workspace folder."""
    repo: str = ""
    """The workspace folder's name."""
    focus: Focus | None = None
    """What the cursor's line needs now (crossfile/focus.py), for the prefix-only path: comment lines just above
    the cursor's line. (The block itself ranks what the lines around the cursor needed when it was built first.)"""


NO_BLOCK = CrossFileBlock()


def block_ids(extra: CrossFileBlock, tok: Tokenizer, prefix_only: bool = False) -> tuple[list[int], list[int]]:
    """The block as token ids: (ids before the FIM tokens, ids before the prefix text). Families trained on
    repository-level FIM get `<repo_name>name <file_sep>path\ntext ... <file_sep>current\n` first; the others get
    the snippets under path comments, as text before the file's own prefix (`prefix_only`: no FIM tokens)."""
    snippets = extra.snippets
    if not snippets:
        return [], []
    fim = tok.fim
    if fim.has_repo and not prefix_only:
        assert fim.repo_name is not None and fim.file_sep is not None
        ids = [fim.repo_name, *tok.tokenize(extra.repo + "\n")]
        for snippet in snippets:
            ids += [fim.file_sep, *tok.tokenize(f"{snippet.path}\n{snippet.text}")]
        return [*ids, fim.file_sep, *tok.tokenize(extra.path + "\n")], []
    return [], tok.tokenize(header_block(snippets, extra.path or "file"))


def near_ids(extra: CrossFileBlock, tok: Tokenizer) -> list[int]:
    """The focus as comment lines for just above the cursor's line (the prefix-only path), at most NEAR_TOKENS
    tokens (whole lines, the last ones dropped first)."""
    if extra.focus is None or extra.focus.choices:  # names the generation is held to are not shown as well
        return []
    lines = extra.focus.near(comment_for(extra.path or "file")).splitlines(keepends=True)
    while lines:
        ids = tok.tokenize("".join(lines))
        if len(ids) <= NEAR_TOKENS:
            return ids
        lines.pop()
    return []


@dataclass(frozen=True)
class Prompt:
    tokens: tuple[int, ...]
    layout: Layout
    prefix_text: str
    suffix_text: str
    n_prefix: int
    n_suffix: int
    heal: Heal | None = None
    """The prompt's last token, taken back for token healing (see `heal`): the generation must begin with its
    text."""


def grid_step(budget: int, share: float, chars_per_token: float) -> int:
    """Characters between two grid points for a window of `budget` tokens that should jump by `share` of it."""
    return max(1, int(budget * share * chars_per_token))


def min_fill_for(share: float) -> float:
    """Half the share of its budget a window of grid step `share` holds at least in text like SAMPLE: below
    that, the text has far fewer characters per token, and a finer grid is tried."""
    return (1 - share) / 2


def _fits(text: str, budget: int, count: Callable[[str], int]) -> bool:
    return len(text) <= budget * MAX_CHARS_PER_TOKEN and count(text) <= budget


def prefix_window(prefix: str, budget: int, count: Callable[[str], int], step: int, min_fill: float = 0) -> str:
    """The end of `prefix` that fits `budget` tokens, starting on a grid of `step` characters from the
    document's start (see the module docstring); a finer grid while it holds under `min_fill` of the budget."""
    if budget <= 0:
        return ""
    cursor_line = prefix.rfind("\n") + 1

    def start_at(g: int) -> int:
        """The first line start at or after grid point `g`, or `g` itself inside the cursor's line."""
        return g if g == 0 or g > cursor_line else prefix.find("\n", g - 1) + 1

    def before(start: int, step: int) -> int:
        """The grid point before `start` whose window starts earlier."""
        if start > cursor_line:
            return (start - 1) // step * step
        return (prefix.rfind("\n", 0, start - 1) + 1) // step * step  # any later point starts at `start`

    best, floor = len(prefix), -1
    g = len(prefix) // step * step
    while True:
        while g > floor:
            start = start_at(g)
            if not _fits(prefix[start:], budget, count):
                break
            best = start
            if start == 0:
                return prefix
            g = before(start, step)
        if step == 1 or (best < len(prefix) and count(prefix[best:]) >= budget * min_fill):
            return prefix[best:]
        floor, step = max(floor, g), max(1, step // 4)  # go on between `g`, which did not fit, and `best`
        g = before(best, step)


def suffix_window(suffix: str, budget: int, count: Callable[[str], int], step: int, min_fill: float = 0) -> str:
    """The beginning of `suffix` that fits `budget` tokens, ending on a grid of `step` characters counted from
    the document's end; a finer grid while it holds under `min_fill` of the budget."""
    if budget <= 0 or not suffix:
        return ""
    first_break = suffix.find("\n")
    size = len(suffix)

    def end_at(e: int) -> int:
        """The last line end at or before grid point `e`, or `e` itself inside the cursor's line."""
        return e if e == size or first_break < 0 or e <= first_break else suffix.rfind("\n", 0, e + 1)

    def after(end: int, step: int) -> int:
        """The grid point after `end` whose window ends later."""
        if first_break < 0 or end < first_break:
            return size - (size - end - 1) // step * step
        next_break = suffix.find("\n", end + 1)  # any earlier point ends at `end`
        return size - (size - (size if next_break < 0 else next_break)) // step * step

    best, ceiling = 0, size + 1
    e = size % step
    while True:
        while e < ceiling:
            end = end_at(e)
            if not _fits(suffix[:end], budget, count):
                break
            best = end
            if end == size:
                return suffix
            e = after(end, step)
        if step == 1 or (best > 0 and count(suffix[:best]) >= budget * min_fill):
            return suffix[:best]
        ceiling, step = min(ceiling, e), max(1, step // 4)  # go on between `best` and `e`, which did not fit
        e = after(best, step)


def build_prompt(
    ctx: Context, tok: Tokenizer, layout: Layout, budget: Budget, extra: CrossFileBlock = NO_BLOCK
) -> Prompt:
    """Lay out the prompt as token ids. User text is never tokenized as special tokens."""
    fim = tok.fim
    prefix_only = layout is Layout.PREFIX_ONLY or not fim.has_fim
    first, before_prefix = block_ids(extra, tok, prefix_only)
    most = max(0, budget.context_size - budget.max_tokens - SPECIAL_TOKENS) // 2
    while len(first) + len(before_prefix) > most:  # chosen by an estimate: drop the weakest chunks until it fits
        extra = replace(extra, snippets=extra.snippets[1:])
        first, before_prefix = block_ids(extra, tok, prefix_only)
    near = near_ids(extra, tok) if prefix_only else []
    reserve = NEAR_TOKENS if prefix_only and (extra.snippets or extra.focus) else 0
    budget = replace(budget, extra_tokens=len(first) + len(before_prefix) + reserve).fitted()

    tokenized: dict[str, list[int]] = {}

    def tokens_of(text: str) -> list[int]:
        """Tokenize once per text: the window search and the prompt need the same prefix tokens."""
        if text not in tokenized:
            tokenized[text] = tok.tokenize(text)
        return tokenized[text]

    def count(text: str) -> int:
        return len(tokens_of(text))

    chars_per_token = len(SAMPLE) / max(1, count(SAMPLE))
    prefix_step = grid_step(budget.prefix_tokens, PREFIX_STEP, chars_per_token)
    prefix_text = prefix_window(ctx.prefix, budget.prefix_tokens, count, prefix_step, min_fill_for(PREFIX_STEP))
    head = [tok.bos] if tok.add_bos and tok.bos is not None else []
    head += first
    if near:  # the focus just above the cursor's line; the text before that line keeps its tokens
        line_start = prefix_text.rfind("\n") + 1
        prefix_ids = [*before_prefix, *tokens_of(prefix_text[:line_start]), *near,
                      *tokens_of(prefix_text[line_start:])]
    else:
        prefix_ids = before_prefix + tokens_of(prefix_text)
    if prefix_only:
        return Prompt(tuple(head + prefix_ids), Layout.PREFIX_ONLY, prefix_text, "", len(prefix_ids), 0)
    assert fim.prefix is not None and fim.suffix is not None and fim.middle is not None
    suffix_step = grid_step(budget.suffix_tokens, SUFFIX_STEP, chars_per_token)
    suffix_text = suffix_window(ctx.suffix, budget.suffix_tokens, count, suffix_step, min_fill_for(SUFFIX_STEP))
    suffix_ids = tok.tokenize_infill(suffix_text)
    if layout is Layout.SPM:
        ids = [*head, fim.prefix, fim.suffix, *suffix_ids, fim.middle, *prefix_ids]
    else:
        ids = [*head, fim.prefix, *prefix_ids, fim.suffix, *suffix_ids, fim.middle]
    return Prompt(tuple(ids), layout, prefix_text, suffix_text, len(prefix_ids), len(suffix_ids))


def heal(prompt: Prompt, piece: Callable[[int], str]) -> Prompt:
    """Token healing: take back the prompt's last token when it is a fragment the tokenizer would have merged
    with what the user types next, and let the generation begin with its text instead.

    A prompt that ends in `x = ` ends in a lone space token, which a BPE model rarely saw before a name (it
    spells ` Console` with the space): SmolLM2 answers a number there. Healed, the prompt ends in `x =` and the
    first generated token must begin with a space, as ` Console` does. Two kinds of last token are taken back,
    on a line with code before the cursor (an auto-indented empty line is left to the indentation rules):
    - spaces or tabs after code (`x = `, `return `, `, `);
    - the end of a word (`errors.StyleSyn`, `import o`), which the model finishes.

    Punctuation is left alone: healing `print(` lets the model pick `()` and close a call the user is opening.
    The prefix must come last in the prompt (suffix-first or prefix-only layouts)."""
    if prompt.layout is Layout.PSM or prompt.n_prefix < 2 or not prompt.tokens:
        return prompt
    line = prompt.prefix_text[prompt.prefix_text.rfind("\n") + 1:]
    if not line.strip():
        return prompt
    last = prompt.tokens[-1]
    text = piece(last)
    if not text or not prompt.prefix_text.endswith(text) or not _healable(text, line):
        return prompt
    return replace(prompt, tokens=prompt.tokens[:-1], n_prefix=prompt.n_prefix - 1, heal=Heal(last, text))


def _healable(text: str, line: str) -> bool:
    if not text.strip(" \t"):
        return bool(line[: len(line) - len(text)].strip())  # whitespace after code on the line
    word = text.lstrip(" ")
    return word.isidentifier() or (word.replace("_", "a").isalnum() and word.isascii())
