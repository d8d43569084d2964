"""The small interfaces the rest of the server talks to: `Engine` (the completion pipeline) and `EngineInfo` (what
every engine says about itself). The in-process llama.cpp engine and the remote one implement both."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypedDict

from ..models import FimTokens


class InfillError(Exception):
    """An error whose message is fit to show the user as one line (the CLI exits 2 with it)."""


class CancelToken:
    """Set once to stop a generation; the engine checks it between tokens (and between prompt batches)."""

    def __init__(self, owner: object | None = None) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.owner: object = self if owner is None else owner
        """The request this token belongs to: a request's prefill and its generation carry the same owner, so
        the engine knows them for one request (see LlamaEngine.generate)."""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def why(self) -> str:
        """Why the token was cancelled (for the log)."""
        return self.reason


@dataclass(frozen=True)
class Heal:
    """Token healing (see completion/prompt.py `heal`): the prompt's last token, taken back. The first generated
    token must begin with its text, which is already in the document and so is not part of the answer."""

    token: int
    text: str


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 64
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    """Stop sequences: generation ends when the text contains one (the text is cut before it)."""
    should_stop: Callable[[str], bool] | None = None
    """Called with the text so far after each token; True ends generation (used for block ends)."""
    seed: int = 0
    abort_prompt: bool = False
    """Let a cancel abort a prompt batch midway, losing it. For speculation, which must never hold up a real
    request; a real request's prompt is cancelled between batches instead and keeps the finished ones."""
    heal: Heal | None = None
    """The first generated token must begin with `heal.text`; the text returned starts after it."""
    names: tuple[str, ...] = ()
    """When not empty, the identifier the generation begins with is one of these (monitor-guided decoding, see
    completion/crossfile/focus.py `choices`): the generated text, the healed text included, is a prefix of one of
    them, or one of them followed by a character that cannot continue an identifier (not a letter, digit, `_` or
    `$`); from there on it is free. An end of generation is allowed only after a whole name. A name may be empty
    (the user typed it whole: any non-identifier character may come next). Engines that cannot constrain
    generation ignore it (the answer is then the model's own)."""
    keep_saved: bool = False
    """Restore a copy of a saved KV state rather than take it (warm files, engine/states.py): for a prefill, which
    a request may cut short, so that a state it started from is still there for the request."""


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    reused_tokens: int = 0
    """Prompt tokens whose KV state was kept from the previous call."""
    shifted_tokens: int = 0
    """Of the reused tokens, those whose KV state is approximate: moved to a new position by this request (in
    this call or in its prefill), or evaluated after such a run."""
    evaluated_tokens: int = 0
    """Prompt tokens actually evaluated (prompt - reused, plus at most one replayed for fresh logits)."""
    generated_tokens: int = 0
    ttft_ms: float = 0.0
    total_ms: float = 0.0
    stop_reason: str = ""
    """eos, stop, block, max_tokens, cancelled or context."""
    server: dict[str, float] = field(default_factory=dict)
    """A remote engine's own figures for the call (llama-server's `timings`: prompt_n, prompt_ms, cache_n, ...)."""
    logprobs: list[float] = field(default_factory=list)
    """Natural-log probability of each generated token under the model's full distribution (before sampling's
    cuts and temperature); empty where the engine gives none."""
    ends: list[int] = field(default_factory=list)
    """Where each token of `logprobs` ends in the generated text (characters), for `confidence`."""

    def scored(self, logprob: float, end: int) -> None:
        """One generated token's log-probability, the text so far being `end` characters long."""
        self.logprobs.append(logprob)
        self.ends.append(end)

    def confidence(self, kept: int | None = None) -> float | None:
        """The mean log-probability of the tokens that make the first `kept` characters of the text (all of them
        when None); None without log-probabilities or without a kept token."""
        starts = [0, *self.ends][: len(self.ends)]
        chosen = [lp for lp, start in zip(self.logprobs, starts, strict=True) if kept is None or start < kept]
        return sum(chosen) / len(chosen) if chosen else None


@dataclass
class Generation:
    text: str
    stats: GenerationStats = field(default_factory=GenerationStats)


class LocalEngineStatus(TypedDict):
    kind: Literal["local"]


class RemoteEngineStatus(TypedDict):
    kind: Literal["remote"]
    url: str
    host: str
    """`host:port` of `url`, for display."""
    api: str | None
    """llama.cpp or openai; None while the server has not said."""
    model: str | None
    """The served model's name; None while it is unknown."""


EngineStatus = LocalEngineStatus | RemoteEngineStatus
"""Where the model runs, as `infill/status` shows it (`engine`, docs/protocol.md)."""


class EngineInfo(Protocol):
    """What every engine says about itself, whatever its kind: nobody outside `engine/` asks which it is."""

    @property
    def label(self) -> str:
        """The model as a message names it (the file, or the served model and its host)."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the user should know about the engine (one message each)."""
        ...

    def describe(self) -> str:
        """One line for the log and the status message."""
        ...

    def status(self) -> EngineStatus:
        """Where the model runs, for `infill/status`."""
        ...


class Engine(Protocol):
    """A resident model. Not thread-safe: call it from one worker thread."""

    fim: FimTokens
    add_bos: bool
    bos: int | None
    context_size: int
    heals: bool
    """Whether `generate` honours `GenerationParams.heal` (the pipeline heals prompts only then)."""

    def piece(self, token: int) -> str:
        """The text of one token as generation spells it (with its leading space)."""
        ...

    def tokenize(self, text: str) -> list[int]:
        """Tokenize user text as the model's tokenizer does at the start of a text (never special tokens)."""
        ...

    def tokenize_infill(self, text: str) -> list[int]:
        """Tokenize text that follows a special token without the SentencePiece implicit leading space."""
        ...

    def generate(self, prompt: Sequence[int], params: GenerationParams, cancel: CancelToken) -> Generation:
        """Generate after `prompt`, reusing the KV cache for the longest common prefix with the last call."""
        ...


def finish(text: str, stats: GenerationStats, reason: str, started: float) -> Generation:
    """The generation of a call that began at `started` (perf_counter) and ended for `reason`."""
    stats.stop_reason = reason
    stats.total_ms = (time.perf_counter() - started) * 1000
    return Generation(text=text, stats=stats)


def first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index of the earliest stop sequence in `text`, or None."""
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None
