"""The in-process llama.cpp engine: one resident `Llama`, token-by-token generation, KV reuse, cancellation."""

from __future__ import annotations

import bisect
import codecs
import contextlib
import ctypes
import io
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from ..config import ModelSettings
from ..models import NO_FIM, FimTokens, detect_fim
from . import names as names_pieces
from .base import (
    CancelToken,
    Generation,
    GenerationParams,
    GenerationStats,
    InfillError,
    LocalEngineStatus,
    finish,
    first_stop,
)
from .gguf import check_gguf, gpu_offload_supported, llama_log, route_llama_logs, steady_heap
from .reuse import ReusePlan, plan_reuse
from .states import Saved, WarmFigures, WarmStates, budget_bytes, choose
from .vocab import infill_encode, space_prefix

log = logging.getLogger(__name__)

EVAL_CHUNK = 64
"""Prompt tokens evaluated between two cancellation checks (see docs/performance.md)."""
MIN_CHUNK = 32
"""Shortest run of cached tokens moved to a new position rather than evaluated again."""
PARK = 1 << 24
"""Position offset where moved KV runs wait, so that no two cells ever share a position."""
NO_REUSE = ReusePlan(0, ())


@dataclass(frozen=True)
class EngineOptions:
    """How the engine evaluates prompts, fixed when it is built."""

    reuse_kv: bool = True
    """False re-evaluates every prompt from scratch (the naive baseline of the benchmark)."""
    eval_chunk: int = EVAL_CHUNK
    """Prompt tokens evaluated between two cancellation checks."""
    min_chunk: int = MIN_CHUNK
    """Shortest cached run moved to a new position; 0 moves none (common prefix only)."""


@dataclass(frozen=True)
class FileStamp:
    """What `stat` says about a model file; when any field differs, the file is not the one loaded."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    size_bytes: int
    architecture: str
    name: str
    context_size: int
    context_train: int
    gpu_offload: bool
    gpu_layers: int
    threads: int
    load_ms: float
    fim_family: str | None
    stamp: FileStamp
    """The file as it was when loaded (see LlamaEngine.file_changed)."""

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def warnings(self) -> tuple[str, ...]:
        return ()

    def status(self) -> LocalEngineStatus:
        return {"kind": "local"}

    def describe(self) -> str:
        gpu = f"GPU offload on ({self.gpu_layers} layers)" if self.gpu_offload else "CPU only (no GPU offload)"
        return (
            f"loaded {self.path.name} ({self.size_bytes / 2**20:.0f} MiB, {self.architecture}"
            f"{', ' + self.name if self.name else ''}), context {self.context_size} of {self.context_train}, "
            f"{gpu}, {self.threads} threads, FIM {self.fim_family or 'none (prefix-only)'}, "
            f"in {self.load_ms:.0f} ms"
        )


class LlamaEngine:
    """A GGUF model kept resident through llama-cpp-python. Use it from one thread at a time."""

    def __init__(self, llm: Any, info: ModelInfo, fim: FimTokens, options: EngineOptions | None = None) -> None:
        import llama_cpp

        self.llm = llm
        self.info = info
        self.fim = fim
        self.options = options or EngineOptions()
        self.add_bos: bool = bool(llm._model.add_bos_token())
        bos = int(llm.token_bos())
        self.bos: int | None = bos if bos >= 0 else None
        self.context_size: int = int(llm.n_ctx())
        self.can_shift = bool(llama_cpp.llama_memory_can_shift(llama_cpp.llama_get_memory(llm._ctx.ctx)))
        self._exact: int | None = None
        """How many leading cached tokens any request may reuse (None: all of them); see `generate`."""
        self._shifted_for: object | None = None
        """The request that shifted runs of the cache after `_exact`: the only one that may reuse them."""
        self._active: CancelToken | None = None
        """The cancel token of the generation under way, read by llama.cpp's abort callback while it decodes
        generated tokens, and prompt batches only with `abort_prompt`: otherwise an evaluated prompt chunk
        stays in the cache for the next request, so the prompt is cancelled between chunks (aborting it would
        let fast typing starve a cold prompt)."""

        @llama_cpp.ggml_abort_callback  # type: ignore[untyped-decorator]
        def abort(_data: ctypes.c_void_p) -> bool:
            active = self._active
            return active is not None and active.cancelled

        self._abort = abort  # ctypes callbacks must outlive their use
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, abort, None)
        self._strip_space = self._detect_space_prefix()
        self._eog = self._end_tokens()
        self.heals = True
        self._pieces: list[tuple[bytes, int]] | None = None
        """Every token's bytes with its id, sorted by the bytes (see `_piece_index`)."""
        self._masks: LRUCache[bytes, Any] = LRUCache(maxsize=64)
        """Healed texts -> which tokens may come first (a boolean array over the vocabulary)."""
        self._names_index: names_pieces.Pieces | None = None
        """The pieces indexed for `GenerationParams.names` (built by `load`)."""
        self._boundary: Any = None
        """Which tokens may follow a whole name (and end the generation): a boolean array over the vocabulary."""
        self.bytes_per_token = self._kv_bytes_per_token()
        self.states = WarmStates()
        """Other prompts' KV states, saved to host memory (warm files, see states.py); none until `keep_warm`."""
        self.switches = 0
        """Saved states restored so far."""

    @property
    def reuse_kv(self) -> bool:
        return self.options.reuse_kv

    @property
    def eval_chunk(self) -> int:
        return self.options.eval_chunk

    @property
    def min_chunk(self) -> int:
        return self.options.min_chunk

    @classmethod
    def load(cls, path: Path, settings: ModelSettings, options: EngineOptions | None = None) -> LlamaEngine:
        """Load the model at `path`; raise InfillError with one line when the file is not a usable GGUF.

        The weights are read into memory, not mapped: the resident model never reads the file again, so a file
        truncated on disk cannot kill the process (SIGBUS) and one overwritten in place cannot mix two models'
        weights. `file_changed` tells when to load it again."""
        import llama_cpp

        check_gguf(path)
        try:
            stamp = FileStamp.of(path)  # before reading: a change made during the load shows up as a change
        except OSError as exc:
            raise InfillError(f"cannot read model file {path}: {exc.strerror}") from None
        route_llama_logs()
        steady_heap()
        offload = gpu_offload_supported()
        gpu_layers = settings.gpuLayers if offload else 0
        threads = settings.threads or max(1, os.cpu_count() or 1)
        started = time.perf_counter()
        # verbose=True: with verbose=False llama-cpp-python points fd 1 at /dev/null while loading, which would
        # swallow LSP messages written meanwhile. Its own prints go to sys.stderr; capture them into the log.
        chatter = io.StringIO()
        try:
            with contextlib.redirect_stderr(chatter):
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=settings.contextSize,
                    n_batch=512,
                    n_gpu_layers=gpu_layers,
                    n_threads=threads,
                    n_threads_batch=threads,
                    seed=0,
                    use_mmap=False,
                    verbose=True,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            log.debug("llama.cpp could not load %s: %s", path, exc)
            raise InfillError(f"cannot load model {path}: the GGUF file is truncated or corrupt") from None
        finally:
            llama_log.debug("%s", chatter.getvalue().strip())
        load_ms = (time.perf_counter() - started) * 1000
        meta = llm.metadata
        info = ModelInfo(
            path=path,
            size_bytes=stamp.size,
            architecture=meta.get("general.architecture", "unknown"),
            name=meta.get("general.name", ""),
            context_size=int(llm.n_ctx()),
            context_train=int(llm._model.n_ctx_train()),
            gpu_offload=offload and gpu_layers != 0,
            gpu_layers=gpu_layers,
            threads=threads,
            load_ms=load_ms,
            fim_family=None,
            stamp=stamp,
        )
        engine = cls(llm, info, NO_FIM, options)
        engine.fim = engine._detect_fim()
        engine._pieces_of_names()  # builds the piece index too: the first healed or held request waits for neither
        engine.info = replace(info, fim_family=engine.fim.family)
        return engine

    def unconfirmed(self) -> bool:
        return self.file_changed()

    def file_changed(self) -> bool:
        """Whether the model file on disk is no longer the one loaded, or is gone (one `stat`): the model host
        checks it before a job and loads the model again."""
        try:
            return FileStamp.of(self.info.path) != self.info.stamp
        except OSError:
            return True

    # --- tokenizer -----------------------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        if not text:
            return []
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def tokenize_infill(self, text: str) -> list[int]:
        """CodeLlama's `encode_infilling`: tokenize as if `text` continued a sentinel, dropping the sentinel."""
        if not self._strip_space:
            return self.tokenize(text)
        return infill_encode(self.tokenize, self.detokenize, text)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return bytes(self.llm._model.detokenize(list(tokens))).decode("utf-8", errors="replace")

    def piece(self, token: int) -> str:
        return self._piece_bytes(token).decode("utf-8", errors="replace")

    def _piece_bytes(self, token: int) -> bytes:
        return bytes(self.llm._model.detokenize([token]))

    def find_token(self, text: str) -> int | None:
        """The id of the control token whose text is `text`, or None."""
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(ids) == 1 and self.llm._model.token_get_text(ids[0]) == text:
            return int(ids[0])
        return None

    def _detect_space_prefix(self) -> bool:
        return space_prefix(self.tokenize, self.detokenize)

    def _detect_fim(self) -> FimTokens:
        model = self.llm._model

        def reported(value: int) -> int | None:
            return value if value >= 0 else None

        return detect_fim(
            token_text=lambda i: str(model.token_get_text(i)),
            find_token=self.find_token,
            reported=(reported(model.token_prefix()), reported(model.token_suffix()), reported(model.token_middle())),
        )

    def _end_tokens(self) -> frozenset[int]:
        import llama_cpp

        vocab = self.llm._model.vocab
        n_vocab = int(self.llm.n_vocab())
        eog = {t for t in (self.llm.token_eos(), self.llm._model.token_eot()) if t >= 0}
        eog |= {t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)} if n_vocab <= 300_000 else set()
        return frozenset(eog)  # the family's end-of-infill tokens are checked in is_end (FIM is detected later)

    def is_end(self, token: int) -> bool:
        return token in self._eog or token in self.fim.end

    # --- generation ----------------------------------------------------------------------------------------

    @property
    def cached_tokens(self) -> list[int]:
        """The token ids whose KV state is in the cache now."""
        return [int(t) for t in self.llm.input_ids[: self.llm.n_tokens]]

    @property
    def exact_tokens(self) -> int:
        """How many leading cached tokens hold the KV state evaluating them afresh gives (up to llama.cpp's batch
        split): what any request may reuse. The rest was evaluated after a shifted run."""
        cached = int(self.llm.n_tokens)
        return cached if self._exact is None else min(self._exact, cached)

    def generate(self, prompt: Sequence[int], params: GenerationParams, cancel: CancelToken) -> Generation:
        """Generate after `prompt`. A cancel stops the prompt between chunks (what was evaluated stays reusable)
        and generation at once: llama.cpp's abort callback checks the token between graph nodes (the aborted
        batch leaves the KV cache as it was before it). A request cancelled before it starts returns at once and
        leaves the cache alone: it may hold what the next request needs.

        A shifted run (see reuse.py) keeps KV state computed in its old context, and so does every token
        evaluated after it: an approximation that serves the request that shifted it (known by its cancel
        token's owner, which its prefill and its generation share) and no later one. Other requests reuse only the
        first `exact_tokens`."""
        stats = GenerationStats(prompt_tokens=len(prompt))
        started = time.perf_counter()
        if cancel.cancelled:
            return finish("", stats, "cancelled", started)
        try:
            return self._generate(prompt, params, cancel, stats, started)
        except RuntimeError:
            if not cancel.cancelled:
                raise
            self._truncate(self.llm.n_tokens)
            return finish("", stats, "cancelled", started)
        finally:
            self._active = None

    def _generate(
        self, prompt: Sequence[int], params: GenerationParams, cancel: CancelToken, stats: GenerationStats,
        started: float,
    ) -> Generation:
        llm = self.llm
        prompt = list(prompt)
        if not prompt:
            prompt = [self.bos] if self.bos is not None else self.tokenize("\n")
            stats.prompt_tokens = len(prompt)
        if len(prompt) >= self.context_size:
            raise InfillError(f"prompt of {len(prompt)} tokens does not fit the context of {self.context_size}")
        if self.reuse_kv:
            self._switch(prompt, params.keep_saved)
        exact = self.exact_tokens
        usable = self.cached_tokens if cancel.owner is self._shifted_for else self.cached_tokens[:exact]
        min_chunk = self.min_chunk if self.can_shift else 0
        plan = plan_reuse(usable, prompt, min_chunk) if self.reuse_kv else NO_REUSE
        stats.reused_tokens = plan.reused
        stats.shifted_tokens = plan.reused - min(plan.prefix, exact)
        if stats.shifted_tokens:
            self._exact, self._shifted_for = min(plan.prefix, exact), cancel.owner
        else:
            self._exact, self._shifted_for = None, None
        self._keep(plan, prompt)
        if params.abort_prompt:
            self._active = cancel
        step = max(1, min(self.eval_chunk, llm.n_batch))
        for start, end in plan.gaps(len(prompt)):
            for at in range(start, end, step):
                if cancel.cancelled:
                    self._truncate(at)
                    return finish("", stats, "cancelled", started)
                self._decode(prompt[at : min(end, at + step)], at)
                stats.evaluated_tokens += min(end, at + step) - at
                llm.n_tokens = min(end, at + step)
        llm.n_tokens = len(prompt)
        self._active = cancel  # from here on a cancel aborts the decode of a generated token at once

        llm.set_seed(params.seed)
        sampler = llm._init_sampler(temp=params.temperature, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        healed = b"" if params.heal is None else params.heal.text.encode("utf-8")
        names = [n for n in (name.encode("utf-8") for name in params.names) if n.startswith(healed)]
        raw = b""  # the generated bytes, the healed text included: what `names` constrains
        wanted = params.max_tokens + bool(healed)  # the healed token was typed: it does not count
        budget = min(wanted, self.context_size - len(prompt) - 1)
        reason = "max_tokens" if budget == wanted else "context"
        for _ in range(budget):
            if cancel.cancelled:
                reason = "cancelled"
                break
            first = stats.generated_tokens == 0
            held = self._held_mask(raw, names, healed if first else b"") if names else None
            if held is not None:
                self._allow_only(held)
            else:
                names = []  # a name has ended (or none can be reached): the rest is free
                if healed and first:
                    self._allow_only(self._healing_mask(healed))
            token = int(sampler.sample(llm._ctx, -1))
            if stats.generated_tokens == 0:
                stats.ttft_ms = (time.perf_counter() - started) * 1000
            if self.is_end(token):
                reason = "eos"
                break
            piece = self._piece_bytes(token)
            raw += piece
            if healed and stats.generated_tokens == 0:
                piece = piece[len(healed):]  # the mask let only tokens that begin with it through
            stats.generated_tokens += 1
            text += decoder.decode(piece)
            stats.scored(token_logprob(llm, token), len(text))
            hit = first_stop(text, params.stop)
            if hit is not None:
                text, reason = text[:hit], "stop"
                break
            if params.should_stop is not None and params.should_stop(text):
                reason = "block"
                break
            if cancel.cancelled:
                reason = "cancelled"
                break
            llm.eval([token])
        else:
            text += decoder.decode(b"", final=True)
        return finish(text, stats, reason, started)

    def _healing_mask(self, healed: bytes) -> Any:
        """Which tokens begin with `healed`: a boolean array over the vocabulary."""
        import numpy as np

        mask = self._masks.get(healed)
        if mask is None:
            pieces = self._piece_index()
            mask = np.zeros(int(self.llm.n_vocab()), dtype=bool)
            at = bisect.bisect_left(pieces, (healed, -1))
            while at < len(pieces) and pieces[at][0].startswith(healed):
                mask[pieces[at][1]] = True
                at += 1
            self._masks[healed] = mask
        return mask

    def _pieces_of_names(self) -> names_pieces.Pieces:
        if self._names_index is None:
            self._names_index = names_pieces.Pieces(self._piece_index())
        return self._names_index

    def _held_mask(self, done: bytes, names: Sequence[bytes], healed: bytes) -> Any:
        """Which tokens may come next after the generated bytes `done` so that they stay on one of `names`, those
        that begin with `healed` too (the first token covers the healed text whole); None once a name has ended or
        when no token fits (the rest is free)."""
        allowed = names_pieces.next_tokens(done, names, self._pieces_of_names())
        if allowed is None:
            return None
        mask = self._names_mask(allowed)
        if healed:
            mask &= self._healing_mask(healed)
        return mask if mask.any() else None

    def _names_mask(self, allowed: names_pieces.Allowed) -> Any:
        """`allowed` as a boolean array over the vocabulary (the ends of generation too after a whole name)."""
        import numpy as np

        mask = np.zeros(int(self.llm.n_vocab()), dtype=bool)
        mask[list(allowed.tokens)] = True
        if allowed.whole:
            if self._boundary is None:
                self._boundary = np.zeros_like(mask)
                self._boundary[list(self._pieces_of_names().boundary)] = True
                self._boundary[list(self._eog | set(self.fim.end))] = True
            mask |= self._boundary
        return mask

    def _piece_index(self) -> list[tuple[bytes, int]]:
        """Every token's bytes with its id, sorted: built once (~0.3 s for a 49k vocabulary on this machine's
        CPU), by `load`, so that the first healed request does not wait for it."""
        if self._pieces is None:
            self._pieces = sorted((self._piece_bytes(t), t) for t in range(int(self.llm.n_vocab())))
        return self._pieces

    def _allow_only(self, mask: Any) -> None:
        """Make the next sampled token one of `mask`'s: the others' logits become -inf."""
        import llama_cpp
        import numpy as np

        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1), shape=mask.shape)
        logits[~mask] = -np.inf

    # --- warm files: other prompts' KV states (states.py) -------------------------------------------------

    def _kv_bytes_per_token(self) -> int:
        """KV bytes one token costs in the context: K and V, every layer, the KV heads' width, F16."""
        import llama_cpp

        model = self.llm._model.model
        heads = max(1, int(llama_cpp.llama_model_n_head(model)))
        width = int(llama_cpp.llama_model_n_embd(model)) * int(llama_cpp.llama_model_n_head_kv(model)) // heads
        return 2 * int(llama_cpp.llama_model_n_layer(model)) * width * 2

    def keep_warm(self, memory_mb: int) -> None:
        """Keep other prompts' KV states within `memory_mb` MiB (`infill.completion.warmMemoryMb`: -1 automatic,
        0 none). Any thread may call it: the least recently used states beyond it are dropped at once."""
        self.states.set_budget(budget_bytes(memory_mb, self.bytes_per_token, self.context_size))

    def warm(self) -> WarmFigures:
        """The warm files' figures for `infill/status` (any thread)."""
        live = int(self.llm.n_tokens) if self.reuse_kv else 0
        return self.states.figures(live, self.bytes_per_token)

    def _switch(self, prompt: list[int], keep_saved: bool = False) -> None:
        """Restore the saved state that leaves `prompt` far less to evaluate than the live one, and save the live
        one's exact part when the prompt is another file's (states.choose). With `keep_saved` (a prefill) the saved
        state restored stays saved too."""
        if self.states.budget <= 0 and not self.states.tokens():
            return
        min_chunk = self.min_chunk if self.can_shift else 0
        saved = self.states.tokens()
        switch = choose(prompt, self.cached_tokens[: self.exact_tokens], saved, min_chunk)
        if switch.restore is None:
            chosen = None
        elif switch.keep_saved or keep_saved:
            chosen = self.states.get(saved[switch.restore])
        else:
            chosen = self.states.take(saved[switch.restore])
        if switch.save_live:
            self._save_live()
        if chosen is not None:
            self._restore(chosen)

    def _save_live(self) -> None:
        """Copy the live sequence's exact part into the saved states (unless it is empty or over the budget)."""
        import llama_cpp

        exact = self.exact_tokens
        self._truncate(exact)
        self._exact, self._shifted_for = None, None
        ctx = self.llm._ctx.ctx
        size = int(llama_cpp.llama_state_seq_get_size(ctx, 0)) if exact else 0
        if not self.states.fits(size):
            return
        data = (ctypes.c_uint8 * size)()
        written = int(llama_cpp.llama_state_seq_get_data(ctx, data, size, 0))
        if written:
            self.states.keep(Saved(tuple(self.cached_tokens), data, written))

    def _restore(self, state: Saved) -> None:
        """Make `state` the live sequence (an empty one if llama.cpp refuses it)."""
        import llama_cpp

        self._truncate(0)
        if not int(llama_cpp.llama_state_seq_set_data(self.llm._ctx.ctx, state.data, state.nbytes, 0)):
            log.warning("could not restore a saved KV state of %d tokens", len(state.tokens))
            self._truncate(0)
            return
        n = len(state.tokens)
        self.llm.input_ids[:n] = state.tokens
        self.llm.n_tokens = n
        self.switches += 1

    def _keep(self, plan: ReusePlan, prompt: list[int]) -> None:
        """Drop the KV cells the plan does not keep and move its chunks to their new positions."""
        ctx = self.llm._ctx
        if not plan.chunks:
            ctx.kv_cache_seq_rm(-1, plan.prefix, -1)
            self.llm.n_tokens = plan.prefix
            return
        at = plan.prefix
        for c in plan.chunks:  # remove what lies between kept runs (cache coordinates)
            if c.cache_start > at:
                ctx.kv_cache_seq_rm(-1, at, c.cache_start)
            at = c.cache_start + c.length
        ctx.kv_cache_seq_rm(-1, at, -1)
        for c in plan.chunks:  # park every run far away so that no two cells ever share a position
            ctx.kv_cache_seq_shift(0, c.cache_start, c.cache_start + c.length, PARK)
        for c in plan.chunks:
            ctx.kv_cache_seq_shift(0, c.cache_start + PARK, c.cache_start + PARK + c.length,
                                   c.prompt_start - c.cache_start - PARK)
            self.llm.input_ids[c.prompt_start : c.prompt_start + c.length] = prompt[
                c.prompt_start : c.prompt_start + c.length]
        self.llm.n_tokens = plan.reused  # runs are contiguous: the cache now holds prompt[:reused]

    def _decode(self, tokens: list[int], pos: int) -> None:
        """Evaluate `tokens` at positions pos.. without touching KV cells elsewhere (unlike Llama.eval)."""
        llm = self.llm
        llm._batch.set_batch(batch=tokens, n_past=pos, logits_all=False)
        llm._ctx.decode(llm._batch)
        llm.input_ids[pos : pos + len(tokens)] = tokens

    def _truncate(self, pos: int) -> None:
        """Keep the cache consistent after a cancel: the prompt's first `pos` tokens, nothing after."""
        self.llm._ctx.kv_cache_seq_rm(-1, pos, -1)
        self.llm.n_tokens = pos

    def close(self) -> None:
        self.states.clear()  # the saved states' memory is returned with the model's
        with contextlib.suppress(Exception):
            self.llm.close()


def token_logprob(llm: Any, token: int) -> float:
    """The log-probability of `token` under the last position's logits (log-softmax of the whole vocabulary: the
    model's own distribution, before sampling's top-k/top-p cuts and temperature). One pass over the vocabulary,
    about 0.1 ms for 49k entries."""
    import llama_cpp
    import numpy as np

    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(int(llm.n_vocab()),))
    top = float(logits.max())
    return float(logits[token]) - top - float(np.log(np.exp(logits - top).sum()))
