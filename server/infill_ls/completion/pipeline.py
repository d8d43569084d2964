"""The pipeline stages wired in order. `plan` needs no model; `infer` runs on the model's worker thread."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from ..config import CompletionSettings
from ..engine.base import CancelToken, Engine, Generation, GenerationParams, GenerationStats
from ..models import Layout, choose_layout
from . import policy, postprocess
from .context import Context, extract
from .crossfile.focus import held_to
from .prompt import NO_BLOCK, Budget, CrossFileBlock, Prompt, build_prompt, heal

SAMPLE_TEMPERATURE = 0.8
"""Temperature of the sampled alternatives (at least; a higher `completion.temperature` stays)."""


@dataclass(frozen=True)
class Plan:
    """What to complete: the context, whether lines may follow, or why not to run at all."""

    ctx: Context
    multiline: bool
    skip: str | None
    extra: CrossFileBlock = NO_BLOCK
    """Other files' snippets shown before this one (cross-file context)."""
    language: str | None = None
    """The document's language (`syntax.language_for`): post-processing parses the completion in it."""


def plan(
    text: str,
    offset: int,
    settings: CompletionSettings,
    automatic: bool,
    replace: tuple[int, int, str] | None = None,
    extra: CrossFileBlock = NO_BLOCK,
    language: str | None = None,
    language_id: str = "",
) -> Plan:
    """`language_id` is the document's LSP languageId (for `completion.trigger`)."""
    ctx = extract(text, offset, replace)
    if not settings.enable:
        return Plan(ctx, False, "completions disabled", language=language)
    multiline = policy.allows_multiline(ctx, settings.multiline)
    skip = trigger_skip(settings, language_id, automatic) or policy.skip_reason(ctx, automatic)
    return Plan(ctx, multiline, skip, extra, language)


@dataclass
class Outcome:
    text: str
    prompt: Prompt
    stats: GenerationStats
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds per stage: prompt, generate, postprocess."""
    confidence: float | None = None
    """The mean log-probability of the tokens `text` is made of (`confidence`)."""


@dataclass(frozen=True)
class Call:
    """One model call's parameters: what to complete, under which settings, and how."""

    plan: Plan
    settings: CompletionSettings
    cancel: CancelToken
    layout: Layout | None = None
    """Prompt layout override; None picks per model family."""
    speculative: bool = False
    """A speculative call can be aborted inside a prompt batch (see GenerationParams.abort_prompt)."""
    seed: int | None = None
    """Sample an alternative (at SAMPLE_TEMPERATURE at least) from the same prompt, whose KV state the previous
    call left: only the generation costs."""


def prefill(engine: Engine, call: Call) -> int:
    """Evaluate the prompt `infer` will build, without generating: work that is never wasted, since what is
    evaluated stays in the KV cache for the next request of the document. Returns the tokens evaluated."""
    prompt = make_prompt(engine, call)
    params = GenerationParams(max_tokens=0, keep_saved=True)
    return engine.generate(prompt.tokens, params, call.cancel).stats.evaluated_tokens


def make_prompt(engine: Engine, call: Call) -> Prompt:
    settings = call.settings
    budget = Budget(settings.prefixTokens, settings.suffixTokens, settings.maxTokens, engine.context_size)
    prompt = build_prompt(call.plan.ctx, engine, choose_layout(engine.fim, call.layout), budget, call.plan.extra)
    return heal(prompt, engine.piece) if engine.heals else prompt


def infer(engine: Engine, call: Call) -> Outcome:
    """Build the prompt, generate, post-process. Runs on the thread that owns the engine."""
    p, settings, cancel = call.plan, call.settings, call.cancel
    t0 = time.perf_counter()
    prompt = make_prompt(engine, call)
    t1 = time.perf_counter()
    stop, should_stop = policy.stop_rules(p.ctx, p.multiline)
    names = held_to(p.extra.focus, p.ctx.line_prefix, prompt.heal.text if prompt.heal else "")
    params = GenerationParams(settings.maxTokens, settings.temperature, stop, should_stop,
                              abort_prompt=call.speculative, heal=prompt.heal, names=names)
    if call.seed is not None:
        params = dataclasses.replace(params, temperature=max(settings.temperature, SAMPLE_TEMPERATURE),
                                     seed=call.seed)
    generation = engine.generate(prompt.tokens, params, cancel)
    t2 = time.perf_counter()
    cut = generation.stats.stop_reason in ("max_tokens", "context")
    text = "" if cancel.cancelled else postprocess.finalize(generation.text, p.ctx, p.multiline, cut, p.language)
    t3 = time.perf_counter()
    timings = {"prompt": (t1 - t0) * 1000, "generate": (t2 - t1) * 1000, "postprocess": (t3 - t2) * 1000}
    return Outcome(text, prompt, generation.stats, timings, confidence(generation, text))


def confidence(generation: Generation, text: str) -> float | None:
    """The suggestion's confidence: the mean log-probability of the generated tokens that `text` (the
    post-processed completion) keeps: those that begin inside it when it is a prefix of the generated text (the
    usual cut: a line, a block, trailing space), else all. None for an empty suggestion or without
    log-probabilities."""
    if not text:
        return None
    kept = len(text) if generation.text.startswith(text) else None
    return generation.stats.confidence(kept)


def trigger_skip(settings: CompletionSettings, language_id: str, automatic: bool) -> str | None:
    """Why an automatic request in `language_id` is not answered (its trigger is manual), or None."""
    if automatic and settings.trigger_for(language_id) == "manual":
        return f"trigger is manual in {language_id or 'this language'}"
    return None


def hidden(settings: CompletionSettings, confidence: float | None, automatic: bool) -> bool:
    """Whether a suggestion of `confidence` is hidden: automatic requests below `minConfidence` (never an Invoked
    request, never a suggestion without a confidence)."""
    floor = settings.minConfidence
    return automatic and floor is not None and confidence is not None and confidence < floor
