"""The llama.cpp engine against real (tiny) GGUF models: FIM detection, layouts, stops, cancel, KV reuse, errors."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from infill_ls.completion import pipeline
from infill_ls.completion.context import Context
from infill_ls.completion.prompt import Budget, Prompt, build_prompt
from infill_ls.config import CompletionSettings, ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams, InfillError
from infill_ls.engine.llama import EngineOptions, LlamaEngine
from infill_ls.models import Layout
from tests.fixtures.tinymodel import write_tiny_model

SETTINGS = ModelSettings(contextSize=1024, threads=1)


@pytest.fixture(scope="module")
def tiny(tiny_model: Path) -> LlamaEngine:
    return LlamaEngine.load(tiny_model, SETTINGS)


@pytest.fixture(scope="module")
def endless(endless_model: Path) -> LlamaEngine:
    return LlamaEngine.load(endless_model, SETTINGS)


@pytest.fixture(scope="module")
def one_batch(tiny_model: Path) -> LlamaEngine:
    """Evaluates a prompt of up to 512 tokens in one batch: only llama.cpp's abort callback can stop it."""
    return LlamaEngine.load(tiny_model, SETTINGS, EngineOptions(eval_chunk=512))


def texts(engine: LlamaEngine, ids: list[int] | tuple[int, ...]) -> list[str]:
    return [engine.llm._model.token_get_text(i) for i in ids]


def test_codellama_fim_tokens_are_found_by_their_text(tiny: LlamaEngine) -> None:
    fim = tiny.fim
    assert fim.family == "codellama"
    assert texts(tiny, [fim.prefix, fim.suffix, fim.middle]) == ["▁<PRE>", "▁<SUF>", "▁<MID>"]
    assert [tiny.llm._model.token_get_text(i) for i in fim.end] == ["▁<EOT>"]
    assert fim.suffix_first


def test_model_without_fim_tokens_falls_back_to_prefix_only(models_dir: Path) -> None:
    engine = LlamaEngine.load(write_tiny_model(models_dir / "nofim.gguf", fim_tokens=False), SETTINGS)
    assert not engine.fim.has_fim
    prompt = build_prompt(Context("x = 1\n", "y"), engine, Layout.SPM, Budget())
    assert prompt.layout is Layout.PREFIX_ONLY
    assert texts(engine, prompt.tokens) == ["<s>", "▁x", "▁=", "▁1", "<0x0A>"]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        pytest.param(Layout.PSM, ["<s>", "▁<PRE>", "▁def", "▁f", "(", ")", ":", "▁<SUF>", "return", "▁x", "▁<MID>"],
                     id="psm"),
        pytest.param(Layout.SPM, ["<s>", "▁<PRE>", "▁<SUF>", "return", "▁x", "▁<MID>", "▁def", "▁f", "(", ")", ":"],
                     id="spm"),
    ],
)
def test_prompt_layouts_token_by_token(tiny: LlamaEngine, layout: Layout, expected: list[str]) -> None:
    # CodeLlama: `<PRE> {pre}` gets SentencePiece's leading space, the suffix does not (encode_infilling).
    prompt = build_prompt(Context("def f():", "return x"), tiny, layout, Budget())
    assert texts(tiny, prompt.tokens) == expected


def test_user_text_never_becomes_special_tokens(tiny: LlamaEngine) -> None:
    prompt = build_prompt(Context("a ▁<EOT> <s>", "▁<PRE>"), tiny, Layout.SPM, Budget())
    specials = {tiny.fim.prefix, tiny.fim.suffix, tiny.fim.middle, *tiny.fim.end, 1}
    assert [t for t in prompt.tokens if t in specials] == [1, tiny.fim.prefix, tiny.fim.suffix, tiny.fim.middle]


def test_answer_model_completes_and_stops_at_end_of_infill(answer_model: Path) -> None:
    engine = LlamaEngine.load(answer_model, SETTINGS)
    prompt = build_prompt(Context("x =", ""), engine, Layout.SPM, Budget())
    generation = engine.generate(prompt.tokens, GenerationParams(max_tokens=16), CancelToken())
    assert (generation.text, generation.stats.stop_reason, generation.stats.generated_tokens) == (" 42", "eos", 1)


@pytest.mark.parametrize(
    ("params", "text", "reason"),
    [
        pytest.param(GenerationParams(max_tokens=5), " x x x x x", "max_tokens", id="max-tokens"),
        pytest.param(GenerationParams(max_tokens=50, stop=("x x",)), " ", "stop", id="stop-sequence"),
        pytest.param(GenerationParams(max_tokens=50, should_stop=lambda t: t.count("x") == 3), " x x x", "block",
                     id="block-end"),
    ],
)
def test_stop_conditions(endless: LlamaEngine, params: GenerationParams, text: str, reason: str) -> None:
    generation = endless.generate(endless.tokenize("a"), params, CancelToken())
    assert (generation.text, generation.stats.stop_reason) == (text, reason)


def test_cancel_stops_within_one_token(endless: LlamaEngine) -> None:
    cancel = CancelToken()
    seen: list[str] = []

    def stop_after_three(text: str) -> bool:
        seen.append(text)
        if len(seen) == 3:
            cancel.cancel("test")
        return False

    generation = endless.generate(
        endless.tokenize("a"), GenerationParams(max_tokens=60, should_stop=stop_after_three), cancel
    )
    assert generation.stats.stop_reason == "cancelled"
    assert generation.stats.generated_tokens == 3


def test_cancel_before_start_evaluates_nothing(endless: LlamaEngine) -> None:
    cancel = CancelToken()
    cancel.cancel()
    endless.llm.reset()
    generation = endless.generate(endless.tokenize("a b c"), GenerationParams(), cancel)
    assert (generation.stats.evaluated_tokens, generation.stats.generated_tokens) == (0, 0)


@pytest.mark.parametrize(
    "away",
    [
        pytest.param(lambda e, first: prompt_at_line(e, 41).tokens, id="cursor-one-line-down"),
        pytest.param(lambda e, first: e.tokenize("print(len(data))"), id="another-file"),
        pytest.param(lambda e, first: first.tokens[:-1], id="backspace"),
    ],
)
def test_a_request_cancelled_before_it_starts_leaves_the_cache_alone(tiny: LlamaEngine, away) -> None:  # type: ignore[no-untyped-def]
    # Moving away and back within the debounce: the request for "away" is superseded before the model thread
    # takes it up, and the request after it comes back to where the cache is.
    first = prompt_at_line(tiny, 40)
    tiny.generate(first.tokens, GenerationParams(max_tokens=2), CancelToken())
    cached = tiny.cached_tokens
    cancel = CancelToken()
    cancel.cancel("superseded")
    stats = tiny.generate(away(tiny, first), GenerationParams(), cancel).stats
    assert (stats.stop_reason, stats.evaluated_tokens, stats.reused_tokens) == ("cancelled", 0, 0)
    assert tiny.cached_tokens == cached
    back = tiny.generate(first.tokens, GenerationParams(max_tokens=2), CancelToken()).stats
    assert (back.reused_tokens, back.evaluated_tokens) == (len(first.tokens) - 1, 1)


def test_cancel_from_another_thread_while_generating(endless: LlamaEngine) -> None:
    cancel = CancelToken()
    started = threading.Event()

    def watch(text: str) -> bool:
        started.set()
        return False

    timer = threading.Thread(target=lambda: (started.wait(10), cancel.cancel("typed")))
    timer.start()
    generation = endless.generate(endless.tokenize("a"), GenerationParams(max_tokens=4000, should_stop=watch), cancel)
    timer.join()
    assert generation.stats.stop_reason in ("cancelled", "context")
    assert generation.stats.generated_tokens < 1000


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        pytest.param(Layout.SPM, lambda first, second: 1, id="suffix-first-evaluates-the-new-token"),
        # Why suffix-first is the default: with PSM the typed character lands before <SUF> suffix <MID>.
        pytest.param(Layout.PSM, lambda first, second: second.n_suffix + 3, id="psm-reevaluates-the-suffix"),
    ],
)
def test_kv_cache_reuse_while_typing(tiny: LlamaEngine, layout: Layout, expected) -> None:  # type: ignore[no-untyped-def]
    suffix = "\n    return total\n\nprint(add(1, 2))\n"
    prefix = "def add(a, b):\n    total = a + b\n    if total > 1"
    first = build_prompt(Context(prefix, suffix), tiny, layout, Budget())
    tiny.generate(first.tokens, GenerationParams(max_tokens=4), CancelToken())
    second = build_prompt(Context(prefix + "0", suffix), tiny, layout, Budget())
    stats = tiny.generate(second.tokens, GenerationParams(max_tokens=4), CancelToken()).stats
    assert stats.prompt_tokens == len(first.tokens) + 1
    assert stats.evaluated_tokens == expected(first, second)
    assert stats.reused_tokens + stats.evaluated_tokens == stats.prompt_tokens


def test_same_prompt_twice_replays_one_token(tiny: LlamaEngine) -> None:
    prompt = tiny.tokenize("x = 1")
    tiny.generate(prompt, GenerationParams(max_tokens=2), CancelToken())
    stats = tiny.generate(prompt, GenerationParams(max_tokens=2), CancelToken()).stats
    assert (stats.reused_tokens, stats.evaluated_tokens) == (len(prompt) - 1, 1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda d: d / "missing.gguf", "model file not found", id="missing"),
        pytest.param(lambda d: d, "not a file", id="directory"),
        pytest.param(lambda d: (d / "notes.gguf").write_text("hello") and d / "notes.gguf", "not a GGUF model file",
                     id="not-gguf"),
        pytest.param(lambda d: (d / "empty.gguf").write_bytes(b"") or d / "empty.gguf", "not a GGUF model file",
                     id="empty"),
    ],
)
def test_bad_model_files_raise_one_clear_line(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InfillError, match=message) as info:
        LlamaEngine.load(make(tmp_path), SETTINGS)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("keep", [0.5, 0.95], ids=["half", "almost-whole"])
def test_truncated_gguf_is_reported_as_corrupt(tmp_path: Path, tiny_model: Path, keep: float) -> None:
    data = tiny_model.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InfillError, match="truncated or corrupt"):
        LlamaEngine.load(cut, SETTINGS)


def test_gpu_offload_is_detected_and_reported(tiny: LlamaEngine) -> None:
    import llama_cpp

    from infill_ls.engine.gguf import gpu_offload_supported

    supported = bool(llama_cpp.llama_supports_gpu_offload())
    assert gpu_offload_supported() is supported
    assert tiny.info.gpu_offload is (supported and SETTINGS.gpuLayers != 0)
    assert ("GPU offload on" in tiny.info.describe()) is tiny.info.gpu_offload
    if not supported:  # a CPU build offloads nothing, whatever gpuLayers says
        assert tiny.info.gpu_layers == 0


def test_download_progress_reaches_the_callback() -> None:
    from infill_ls.engine.loader import _progress_class

    seen: list[tuple[int, int]] = []
    bar = _progress_class(lambda done, total: seen.append((done, total)))(total=100)
    bar.update(30)
    bar.update(70)
    bar.close()
    assert seen == [(30, 100), (100, 100)]


MODULE = "\n".join(f"def helper_{i}(value):\n    return value + {i}\n" for i in range(40))


@pytest.mark.parametrize("suffix_tokens", [4000, 200], ids=["suffix-whole-file", "suffix-window-moves"])
def test_moving_the_cursor_reuses_shifted_chunks(tiny: LlamaEngine, suffix_tokens: int) -> None:
    lines = MODULE.split("\n")

    def at_line(row: int) -> Context:
        return Context("\n".join(lines[:row]) + "\n", "\n".join(lines[row:]))

    budget = Budget(prefix_tokens=4000, suffix_tokens=suffix_tokens, max_tokens=4, context_size=8192)
    first = build_prompt(at_line(40), tiny, Layout.SPM, budget)
    tiny.generate(first.tokens, GenerationParams(max_tokens=4), CancelToken())
    moved = build_prompt(at_line(41), tiny, Layout.SPM, budget)  # the cursor goes one line down
    stats = tiny.generate(moved.tokens, GenerationParams(max_tokens=4), CancelToken()).stats
    line_tokens = len(tiny.tokenize(lines[40] + "\n"))
    assert stats.prompt_tokens > 300
    assert stats.evaluated_tokens <= line_tokens + 2  # the line the cursor moved past, not the whole prompt
    assert stats.reused_tokens + stats.evaluated_tokens == stats.prompt_tokens
    assert tiny.cached_tokens[: len(moved.tokens)] == list(moved.tokens)


class CancelOnceCached(CancelToken):
    """A token that turns cancelled once the engine's cache holds `tokens` tokens."""

    def __init__(self, engine: LlamaEngine, tokens: int) -> None:
        super().__init__()
        self.engine, self.tokens = engine, tokens

    @property
    def cancelled(self) -> bool:
        if self.engine.llm.n_tokens >= self.tokens:
            self.cancel("test")
        return super().cancelled


def prompt_at_line(engine: LlamaEngine, row: int) -> Prompt:
    lines = MODULE.split("\n")
    ctx = Context("\n".join(lines[:row]) + "\n", "\n".join(lines[row:]))
    return build_prompt(ctx, engine, Layout.SPM, Budget(4000, 4000, 4, 8192))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # (evaluated for the same prompt again, range evaluated after the cursor moved one line down)
        pytest.param(EngineOptions(), lambda again, moved, line: (1, range(1, line + 3)), id="defaults-shift"),
        pytest.param(EngineOptions(reuse_kv=False), lambda again, moved, line: (again, range(moved, moved + 1)),
                     id="no-kv-reuse"),
        pytest.param(EngineOptions(min_chunk=0), lambda again, moved, line: (1, range(moved - 3, moved - 2)),
                     id="no-shifting-keeps-only-bos-pre-suf"),
    ],
)
def test_options_are_fixed_when_the_engine_is_built(tiny_model: Path, options: EngineOptions, expected) -> None:  # type: ignore[no-untyped-def]
    engine = LlamaEngine.load(tiny_model, SETTINGS, options)
    first = prompt_at_line(engine, 40)
    engine.generate(first.tokens, GenerationParams(max_tokens=2), CancelToken())
    again = engine.generate(first.tokens, GenerationParams(max_tokens=2), CancelToken()).stats
    moved = prompt_at_line(engine, 41)  # the cursor goes one line down
    after_move = engine.generate(moved.tokens, GenerationParams(max_tokens=2), CancelToken()).stats
    line = len(engine.tokenize(MODULE.split("\n")[40] + "\n"))
    want_again, want_moved = expected(len(first.tokens), len(moved.tokens), line)
    assert again.evaluated_tokens == want_again
    assert after_move.evaluated_tokens in want_moved
    assert (engine.reuse_kv, engine.eval_chunk, engine.min_chunk) == (options.reuse_kv, options.eval_chunk,
                                                                      options.min_chunk)
    with pytest.raises(AttributeError):
        engine.reuse_kv = not options.reuse_kv  # type: ignore[misc]


@pytest.mark.parametrize(
    ("same_request", "expected"),
    [
        # (tokens evaluated, of the reused ones those approximate), from the prompt's length and the exact part
        pytest.param(True, lambda n, exact: (1, n - 1 - exact), id="its-own-prefill-serves-the-request"),
        pytest.param(False, lambda n, exact: (n - exact, 0), id="a-later-request-reevaluates"),
    ],
)
def test_shifted_runs_serve_only_the_request_that_shifted_them(tiny_model: Path, same_request: bool,
                                                               expected) -> None:  # type: ignore[no-untyped-def]
    engine = LlamaEngine.load(tiny_model, SETTINGS)
    first = prompt_at_line(engine, 40)
    engine.generate(first.tokens, GenerationParams(max_tokens=2), CancelToken())
    moved = prompt_at_line(engine, 41)
    cancel = CancelToken()
    prefill = engine.generate(moved.tokens, GenerationParams(max_tokens=0), cancel).stats  # while debouncing
    exact = engine.exact_tokens
    assert prefill.shifted_tokens > 300 and exact < 10  # the suffix moved; only <s> <PRE> <SUF> stayed put
    later = cancel if same_request else CancelToken()
    stats = engine.generate(moved.tokens, GenerationParams(max_tokens=2), later).stats
    assert (stats.evaluated_tokens, stats.shifted_tokens) == expected(len(moved.tokens), exact)


def test_cancel_during_the_prompt_leaves_a_consistent_cache(tiny_model: Path) -> None:
    engine = LlamaEngine.load(tiny_model, SETTINGS, EngineOptions(eval_chunk=8))
    prompt = engine.tokenize(MODULE)
    stats = engine.generate(prompt, GenerationParams(), CancelOnceCached(engine, 20)).stats
    assert (stats.stop_reason, stats.evaluated_tokens) == ("cancelled", 24)  # cancelled between chunks of 8
    assert engine.cached_tokens == prompt[:24]
    again = engine.generate(prompt, GenerationParams(max_tokens=1), CancelToken()).stats
    assert (again.reused_tokens, again.evaluated_tokens) == (24, len(prompt) - 24)


def test_an_aborted_batch_leaves_the_cache_consistent(models_dir: Path) -> None:
    """When llama.cpp's abort callback stops a batch mid-computation, the cache keeps only what was finished."""
    # one batch for the whole prompt: only the abort callback can stop it
    engine = LlamaEngine.load(write_tiny_model(models_dir / "abort.gguf", seed=3), SETTINGS,
                              EngineOptions(eval_chunk=512))
    cancel = CancelToken()
    calls = 0

    import llama_cpp

    @llama_cpp.ggml_abort_callback  # type: ignore[misc]
    def abort_after_a_few_nodes(_data: object) -> bool:
        nonlocal calls
        calls += 1
        if calls == 5:
            cancel.cancel("test")
        return cancel.cancelled

    llama_cpp.llama_set_abort_callback(engine.llm._ctx.ctx, abort_after_a_few_nodes, None)
    prompt = engine.tokenize(MODULE)[:500]
    generation = engine.generate(prompt, GenerationParams(), cancel)
    assert generation.stats.stop_reason == "cancelled" and calls >= 5
    assert engine.cached_tokens == []  # the aborted batch left nothing behind
    llama_cpp.llama_set_abort_callback(engine.llm._ctx.ctx, engine._abort, None)
    again = engine.generate(prompt, GenerationParams(max_tokens=2), CancelToken()).stats
    assert (again.evaluated_tokens, again.generated_tokens) == (len(prompt), 2)


class CancelOnRead(CancelToken):
    """A token that turns cancelled at its `at`-th read: the engine's checks and llama.cpp's abort callback
    (once per graph node while it is active) all read it, so the cancel lands at a reproducible point."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.reads, self.at = 0, at

    @property
    def cancelled(self) -> bool:
        self.reads += 1
        if self.reads == self.at:
            self.cancel("test")
        return super().cancelled


@pytest.mark.parametrize(
    ("abort_prompt", "evaluated"),
    [
        pytest.param(True, 0, id="speculation-aborts-inside-the-prompt-batch"),
        pytest.param(False, 300, id="request-finishes-the-batch-and-keeps-it"),
    ],
)
def test_a_cancel_inside_a_prompt_batch(one_batch: LlamaEngine, abort_prompt: bool, evaluated: int) -> None:
    one_batch.llm.reset()
    prompt = one_batch.tokenize(MODULE)[:300]
    stats = one_batch.generate(prompt, GenerationParams(abort_prompt=abort_prompt), CancelOnRead(at=3)).stats
    assert (stats.stop_reason, stats.evaluated_tokens) == ("cancelled", evaluated)
    assert one_batch.cached_tokens == prompt[:evaluated]


def test_an_aborted_batch_is_not_reported_as_a_warning(one_batch: LlamaEngine,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    one_batch.llm.reset()
    with caplog.at_level(logging.DEBUG, logger="infill_ls.llama_cpp"):
        stats = one_batch.generate(one_batch.tokenize(MODULE)[:300], GenerationParams(abort_prompt=True),
                                   CancelOnRead(at=3)).stats
    assert stats.stop_reason == "cancelled"
    llama = [r for r in caplog.records if r.name == "infill_ls.llama_cpp"]
    assert any("compute" in r.getMessage() for r in llama)  # llama.cpp did report the abort ...
    assert not [r.getMessage() for r in llama if r.levelno >= logging.WARNING]  # ... not as a warning


@pytest.mark.parametrize(
    ("temperature", "seeds"),
    [pytest.param(0.0, (1, 2, 3), id="greedy-settings"), pytest.param(1.2, (7, 8, 9), id="hotter-settings-kept")],
)
def test_infer_with_a_seed_samples_an_alternative(
    tiny: LlamaEngine, temperature: float, seeds: tuple[int, ...]
) -> None:
    """pipeline.infer without a seed is the settings' generation; with one it samples (issue 14's
    alternatives): reproducible per seed, and different from the greedy text for some seed."""
    settings = CompletionSettings(maxTokens=8, temperature=temperature, multiline="never")
    source = "def add(a, b):\n    return "
    plan = pipeline.plan(source, len(source), settings, automatic=False)

    def run(seed: int | None) -> str:
        return pipeline.infer(tiny, pipeline.Call(plan, settings, CancelToken(), seed=seed)).text

    sampled = [run(seed) for seed in seeds]
    assert [run(seed) for seed in seeds] == sampled  # the same seed gives the same text
    if temperature == 0.0:
        assert run(None) == run(None)
        assert any(text != run(None) for text in sampled), sampled
    else:
        assert len(set(sampled)) > 1, sampled  # a hotter setting is not cooled to SAMPLE_TEMPERATURE
