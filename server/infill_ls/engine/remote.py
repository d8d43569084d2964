"""The remote engine: the same `Engine` interface, served by a shared inference server.

The prompt is built here exactly as for the in-process model and sent as token ids, so user text is never
parsed as special tokens and the server's prompt cache sees the suffix-first prompt only grow while the user
types (llama-server's `cache_prompt`, vLLM's automatic prefix caching). Generation is streamed; a cancel, a
stop rule or a block end closes the request, and closing it is what makes the server stop generating.

Two APIs: llama.cpp's own (`/completion`, which reports the prompt tokens it evaluated), and the OpenAI-style
`/v1/completions` (vLLM, llama-server, others). Tokenizing uses a local GGUF of the served model when one is
named and its vocabulary matches the server's, else the server's `/tokenize`, behind an LRU cache.

`GenerationParams.names` reaches llama-server (either API) as a GBNF grammar (engine/gbnf.py), combined with token
healing (see RemoteEngine._fits); other OpenAI-style servers (vLLM) are sent none and ignore the names.

HTTP runs on an event loop of its own (one thread): the model thread waits on it and a cancel is seen within
`POLL_S`, even while the server is still evaluating the prompt.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import math
import random
import ssl
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from cachetools import LRUCache

from ..models import FimTokens
from . import gbnf
from .base import (
    CancelToken,
    Generation,
    GenerationParams,
    GenerationStats,
    Heal,
    InfillError,
    RemoteEngineStatus,
    finish,
    first_stop,
)
from .gguf import steady_heap
from .states import NO_FIGURES, WarmFigures
from .transport import (
    BODY_LIMIT,
    ERROR_LIMIT,
    EVENT_LIMIT,
    BadAnswer,
    Redact,
    auth_headers,
    capped,
    connect_problem,
    key_note,
    lines,
    proxy_of,
    redirect_problem,
    ssl_context,
)
from .vocab import detect, infill_encode, space_prefix

log = logging.getLogger(__name__)

T = TypeVar("T")
Api = Literal["llama.cpp", "openai"]
POLL_S = 0.01
"""How often a request waiting on the server checks its cancel token."""
TOKENIZE_CACHE = 256
"""Texts whose token ids are kept (the windows of the last keystrokes, the suffix)."""
PROBE = "def area(r):\n    return 3.14159 * r ** 2  # 面積 ✓\n"
"""Text tokenized by both the local tokenizer and the server: they must agree on it."""
HEAL_CANDIDATES = 100
"""First-token candidates asked of llama-server to heal a prompt (see RemoteEngine._healed)."""
ASCII_ONLY = "root ::= [ -~]"
"""A grammar that makes llama-server sample a token that is a whole character (see RemoteEngine._healed)."""
MODEL_CHECK_S = 60.0
"""While an engine is in use, its server is asked again which model it serves at least this often (seconds), and
whenever a new connection to it is made: a server restarted with another model is another engine (see
RemoteEngine._verdict)."""
RECONNECT_CHECK_S = 2.0
"""A new connection has the model checked unless the last check is younger than this (seconds): llama-server closes
the connection after each streamed answer (and a request cancelled mid-answer closes its own), so a check per new
connection would be a check per keystroke."""
PROMPT_TOKENS_PER_WAIT = 512
"""Before the first piece of an answer the server evaluates the prompt: the wait for that piece is `timeoutMs` for
every started 512 prompt tokens (see RemoteEngine._first_piece_s); between two pieces it is `timeoutMs`."""


class Unavailable(InfillError):
    """The server cannot serve now (unreachable, refused, failing): the engine is reconnected with backoff."""


class Cancelled(Exception):
    """The request's cancel token was set while it waited on the server."""


class ModelChanged(InfillError):
    """The server now serves another model than the one the engine was made for (it was restarted with another
    model): the engine must be made again, its FIM tokens, context size and cached answers with it."""


@dataclass(frozen=True)
class Remote:
    """What to connect to: the host's key for a remote engine (a change reconnects)."""

    url: str
    api: Literal["auto", "llama.cpp", "openai"] = "auto"
    model: str = ""
    timeout_s: float = 30.0
    api_key: str = field(default="", repr=False)
    tokenizer: str = ""
    """A local GGUF of the served model to tokenize with (its vocabulary only), or "" for the server's."""
    ca_file: str = ""
    """A PEM file of certificates to trust besides the usual ones (infill.engine.caFile)."""

    @property
    def host(self) -> str:
        parts = urlsplit(self.url)
        return parts.netloc.rsplit("@", 1)[-1] or self.url

    def describe(self) -> str:
        return f"the inference server at {self.host}"

    def status(self, api: str | None = None, model: str | None = None) -> RemoteEngineStatus:
        """Where the model runs; the API and the served model's name are None until connected."""
        return {"kind": "remote", "url": self.url, "host": self.host, "api": api, "model": model}


@dataclass(frozen=True)
class RemoteInfo:
    remote: Remote
    api: Api
    model: str
    context_size: int
    fim_family: str | None
    tokenizer: str
    """"server" or the local GGUF's path."""
    connect_ms: float
    llama_cpp: bool = False
    """The server is llama.cpp's (whichever API is used): its OpenAI-style stream names token ids in `logprobs`."""
    warnings: tuple[str, ...] = ()
    """What the user should know about the connection (one message each), such as a local tokenizer set aside."""
    identity: tuple[str, ...] = ()
    """What names the served model (see `identity`): a server that answers another one serves another model."""

    @property
    def label(self) -> str:
        return f"the model {self.model} at {self.remote.host}"

    def status(self) -> RemoteEngineStatus:
        return self.remote.status(self.api, self.model)

    def describe(self) -> str:
        return (
            f"connected to {self.remote.host} ({self.api} API, model {self.model}), context {self.context_size}, "
            f"FIM {self.fim_family or 'none (prefix-only)'}, tokenizer {self.tokenizer}, in {self.connect_ms:.0f} ms"
        )


class Http:
    """One connection pool to the server, on an event loop thread of its own. Errors become one-line
    `Unavailable` (the server as a whole) or `InfillError` (this request), with no secret in them. No redirect is
    followed, and what is read of an answer is bounded (engine/transport.py)."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.redact = Redact(remote.api_key, urlsplit(remote.url).password or "")
        # What can fail without the server is checked before the thread starts: a failed connect leaves nothing.
        headers = auth_headers(remote.api_key)
        if (note := key_note(remote.api_key)) is not None:
            log.info("%s", note)
        verify = ssl_context(remote.ca_file)
        steady_heap()  # an answer's buffer (up to BODY_LIMIT) goes back to the OS when freed, in every thread's arena
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="infill-http", daemon=True)
        self._thread.start()
        try:
            self.client: httpx.AsyncClient = self.call(self._client(headers, verify))
            self.proxy = proxy_of(self.client, remote.url)
        except BaseException:
            self.close()  # the client too, where it was made
            raise
        if self.proxy is not None:
            log.info("reaching %s through the proxy at %s", remote.host, self.proxy)

    async def _client(self, headers: dict[str, str], verify: ssl.SSLContext) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.remote.url.rstrip("/"), headers=headers, verify=verify,
                                 trust_env=True, follow_redirects=False, timeout=httpx.Timeout(self.remote.timeout_s))

    def call(self, work: Awaitable[T], cancel: CancelToken | None = None) -> T:
        """Run `work` on the HTTP loop and wait for it; a cancel abandons it (closing its request) within POLL_S
        and raises Cancelled."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(self._watched(work, cancel), self.loop)
        return future.result()

    async def _watched(self, work: Awaitable[T], cancel: CancelToken | None) -> T:
        task = asyncio.ensure_future(work)
        while True:
            done, _ = await asyncio.wait({task}, timeout=POLL_S if cancel is not None else None)
            if done:
                return self._translate(task)
            if cancel is not None and cancel.cancelled:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise Cancelled

    def _translate(self, task: asyncio.Future[T]) -> T:
        where = self.remote.describe()
        try:
            return task.result()
        except httpx.ConnectError as exc:
            raise Unavailable(self.redact(connect_problem(self.remote.host, where, exc, self.proxy))) from None
        except httpx.ProxyError as exc:
            raise Unavailable(self.redact(connect_problem(self.remote.host, where, exc, self.proxy))) from None
        except (httpx.TimeoutException, TimeoutError):
            raise Unavailable(f"{where} did not answer within {self.remote.timeout_s:g} s") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            raise Unavailable(f"{where} closed the connection") from None
        except httpx.HTTPStatusError as exc:
            raise status_error(where, exc.response, self.redact) from None
        except httpx.HTTPError as exc:
            raise Unavailable(self.redact(f"cannot talk to {where}: {exc.__class__.__name__}: {exc}")) from None
        except json.JSONDecodeError:
            raise Unavailable(f"{where} answered something that is not JSON") from None
        except BadAnswer as exc:
            raise Unavailable(f"{where} {exc}") from None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            # JSON of another shape than the API's (a wrong type, a missing field): not this server's API
            log.debug("%s answered JSON of another shape: %s", where, self.redact(repr(exc)))
            raise Unavailable(f"{where} answered JSON this client does not understand") from None

    async def get(self, path: str) -> Any:
        return await self._json("GET", path)

    async def post(self, path: str, body: dict[str, Any], timeout: float | None = None) -> Any:
        """POST `body` as JSON; `timeout`: this request's read timeout (seconds), if not `timeoutMs`."""
        return await self._json("POST", path, body, timeout)

    async def _json(self, method: str, path: str, body: dict[str, Any] | None = None,
                    timeout: float | None = None) -> Any:
        """A whole answer, as JSON: at most BODY_LIMIT bytes, read within the request's read timeout (a server
        dripping bytes does not hold it longer)."""
        async with self.client.stream(method, path, json=body, timeout=self._timeout(timeout)) as response:
            await _checked(response)
            async with asyncio.timeout(_read_timeout(response)):
                return json.loads(await capped(response, BODY_LIMIT))

    async def events(self, path: str, body: dict[str, Any],
                     timeout: float | None = None) -> AsyncGenerator[dict[str, Any], None]:
        """The server-sent events of a streamed answer, as JSON objects: the first within `timeout` (when given:
        the wait for a long prompt's first piece), each later one within `timeoutMs` of the one before (a server
        dripping bytes or comments does not hold the request longer). Leaving the loop closes the request."""
        async with self.client.stream("POST", path, json=body, timeout=self._timeout(timeout)) as response:
            await _checked(response)
            wait = _read_timeout(response)
            async with contextlib.aclosing(lines(response)) as read:
                for _ in range(EVENT_LIMIT):
                    async with asyncio.timeout(wait):
                        data = await _next_data(read)
                    if data is None or data == "[DONE]":
                        return
                    wait = self.remote.timeout_s
                    yield json.loads(data)
            raise BadAnswer(f"streamed more than {EVENT_LIMIT} events in one answer")

    def _timeout(self, read: float | None) -> httpx.Timeout | Any:
        return httpx.USE_CLIENT_DEFAULT if read is None else httpx.Timeout(self.remote.timeout_s, read=read)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.client.aclose())
        self._stop()

    def _stop(self) -> None:
        """Stop and close the loop and its thread."""
        with contextlib.suppress(Exception):
            self.call(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


async def _checked(response: httpx.Response) -> None:
    """Raise HTTPStatusError for an answer that is not a success (a redirect included), with at most ERROR_LIMIT
    bytes of its body read."""
    if response.is_success:
        return
    body = await capped(response, ERROR_LIMIT, cut=True)
    kept = {k: v for k, v in response.headers.items() if k.lower() == "location"}
    copy = httpx.Response(response.status_code, headers=kept, content=bytes(body), request=response.request)
    raise httpx.HTTPStatusError(f"HTTP {response.status_code}", request=response.request, response=copy)


def _read_timeout(response: httpx.Response) -> float | None:
    timeout = response.request.extensions.get("timeout", {})
    read = timeout.get("read") if isinstance(timeout, dict) else None
    return float(read) if read is not None else None


async def _next_data(read: AsyncIterator[str]) -> str | None:
    """The next `data:` of a server-sent event stream, or None at its end."""
    async for line in read:
        if line.startswith("data:"):
            return line[5:].strip()
    return None


def status_error(where: str, response: httpx.Response, redact: Callable[[str], str] = str) -> InfillError:
    """One line for an HTTP error status; the server as a whole is unavailable unless the request was bad. What
    the server wrote goes through `redact` (it could echo the key)."""
    code = response.status_code
    if response.is_redirect or 300 <= code < 400:
        return Unavailable(redact(redirect_problem(where, response)))
    try:
        body = response.json()
        error = body.get("error", body) if isinstance(body, dict) else body
        detail = (error.get("message") or error.get("detail") or "") if isinstance(error, dict) else str(error)
    except (ValueError, json.JSONDecodeError, httpx.ResponseNotRead):
        detail = ""
    detail = redact(" ".join(str(detail).split()))[:200]
    if code in (401, 403):
        return Unavailable(f"{where} refused the request (HTTP {code}): set INFILL_API_KEY in the language "
                           "server's environment to the server's API key")
    text = f"{where} answered HTTP {code}" + (f": {detail}" if detail else "")
    return Unavailable(text) if code >= 500 or code in (408, 429) else InfillError(text)


class ServerVocab:
    """The server's tokenizer: llama-server's `/tokenize` + `/detokenize`, or vLLM's."""

    def __init__(self, http: Http, style: Literal["llama.cpp", "vllm"], model: str) -> None:
        self.http = http
        self.style = style
        self.model = model
        self._cache: LRUCache[tuple[str, bool], list[int]] = LRUCache(TOKENIZE_CACHE)
        self._texts: dict[int, str] = {}

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        key = (text, special)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self.http.call(self._tokenize(text, special))
        return list(found)

    async def _tokenize(self, text: str, special: bool, bos: bool = False) -> list[int]:
        if self.style == "llama.cpp":
            body = {"content": text, "add_special": bos, "parse_special": special}
            return [int(t) for t in (await self.http.post("/tokenize", body))["tokens"]]
        body = {"model": self.model, "prompt": text, "add_special_tokens": bos}
        return [int(t) for t in (await self.http.post("/tokenize", body))["tokens"]]

    def with_bos(self, text: str) -> list[int]:
        return self.http.call(self._tokenize(text, False, bos=True))

    def detokenize(self, ids: Sequence[int]) -> str:
        if not ids:
            return ""
        if self.style == "llama.cpp":
            return str(self.http.call(self.http.post("/detokenize", {"tokens": list(ids)}))["content"])
        return str(self.http.call(self.http.post("/detokenize", {"model": self.model, "tokens": list(ids)}))["prompt"])

    def token_text(self, token: int) -> str:
        if token not in self._texts:
            self._texts[token] = self.detokenize([token])
        return self._texts[token]


class LocalVocab:
    """The vocabulary of a local GGUF file (no weights are read), to tokenize without a round trip."""

    def __init__(self, path: Path) -> None:
        import llama_cpp
        from llama_cpp._internals import LlamaModel

        from .gguf import check_gguf, route_llama_logs

        check_gguf(path)
        route_llama_logs()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        try:
            self.model = LlamaModel(path_model=str(path), params=params, verbose=False)
        except (ValueError, RuntimeError, OSError):
            raise InfillError(f"cannot read the vocabulary of {path}: the GGUF file is truncated or corrupt") from None
        self.path = path

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        if not text:
            return []
        return [int(t) for t in self.model.tokenize(text.encode("utf-8"), add_bos=False, special=special)]

    def with_bos(self, text: str) -> list[int]:
        return [int(t) for t in self.model.tokenize(text.encode("utf-8"), add_bos=True, special=False)]

    def detokenize(self, ids: Sequence[int]) -> str:
        return bytes(self.model.detokenize(list(ids))).decode("utf-8", errors="replace")

    def token_text(self, token: int) -> str:
        return str(self.model.token_get_text(token))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.model.close()  # type: ignore[no-untyped-call]


class RemoteEngine:
    """A model served by an inference server. Like every engine, called from one thread at a time."""

    def __init__(self, http: Http, vocab: ServerVocab | LocalVocab, info: RemoteInfo, fim: FimTokens,
                 bos: int | None) -> None:
        self.http = http
        self.vocab = vocab
        self.info = info
        self.fim = fim
        self.add_bos = bos is not None
        self.bos = bos
        self.context_size = info.context_size
        self._strip_space = space_prefix(self.tokenize, self.vocab.detokenize)
        self.heals = info.llama_cpp
        """llama-server names the first token's candidates by id and bytes (`n_probs` on its own `/completion`,
        whichever API the stream uses); other OpenAI-style servers name them by text only, so prompts sent there
        are not healed."""
        self._pieces: LRUCache[int, str] = LRUCache(TOKENIZE_CACHE)
        self._grammars = info.llama_cpp
        """Whether `GenerationParams.names` is sent as a GBNF grammar (engine/gbnf.py): llama-server takes one on both
        its APIs. Other OpenAI-style servers (vLLM) are sent none, so names are ignored there: vLLM's structured
        outputs could express the constraint, but no vLLM runs here to test it. False too once the server refused
        one of our grammars (see `_refused`)."""
        self.clock: Callable[[], float] = time.monotonic
        """The clock of the model check (MODEL_CHECK_S); tests script it."""
        self._checked: float | None = None
        """When the server last said which model it serves (None: not yet timed; connecting just asked)."""
        self._model_check: asyncio.Future[tuple[str, ...]] | None = None
        """The model check under way or not yet looked at, on the HTTP loop."""
        self._changed = ""
        """Why this engine no longer matches its server (a model check found another model), once it does."""
        hooks = http.client.event_hooks
        http.client.event_hooks = {**hooks, "request": [*hooks["request"], self._watch_connections]}

    @classmethod
    def connect(cls, remote: Remote) -> RemoteEngine:
        """Ask the server what it is and serves, and check the tokenizer against it; raise `Unavailable` with
        one line when it cannot serve."""
        started = time.perf_counter()
        http = Http(remote)  # a failure here has left nothing running
        try:
            props = http.call(_props(http))
            api: Api = remote.api if remote.api != "auto" else ("llama.cpp" if props is not None else "openai")
            model, context, entry = remote.model, 0, None
            if props is not None:
                context = int(props.get("default_generation_settings", {}).get("n_ctx", 0))
            if api == "openai" or not model:
                listed = http.call(http.get("/v1/models")).get("data", [])
                names = [str(m.get("id", "")) for m in listed if isinstance(m, dict)]
                if not names:
                    raise Unavailable(f"{remote.describe()} lists no model at /v1/models")
                if model and model not in names:
                    raise Unavailable(f"{remote.describe()} does not serve {model!r} (it serves {', '.join(names)})")
                model = model or names[0]
                entry = listed[names.index(model)]
                context = context or int(entry.get("max_model_len") or entry.get("meta", {}).get("n_ctx") or 0)
            server_vocab = ServerVocab(http, "llama.cpp" if props is not None else "vllm", model)
            vocab: ServerVocab | LocalVocab = server_vocab
            warnings: tuple[str, ...] = ()
            if remote.tokenizer:
                vocab, warning = _local_if_same(Path(remote.tokenizer), server_vocab, f"the model {model} at "
                                                f"{remote.host}")
                warnings = (warning,) if warning else ()
            try:
                fim = detect(vocab)
            except Unavailable:
                raise
            except InfillError:
                raise Unavailable(f"{remote.describe()} cannot tokenize (no /tokenize): set infill.model.path to a "
                                  "local GGUF of the served model to tokenize with") from None
            plain, with_bos = vocab.tokenize("a"), vocab.with_bos("a")
            bos = with_bos[0] if len(with_bos) > len(plain) else None
            info = RemoteInfo(remote, api, model, context or 4096, fim.family,
                              str(vocab.path) if isinstance(vocab, LocalVocab) else "server",
                              (time.perf_counter() - started) * 1000, props is not None, warnings,
                              identity(props, entry))
            return cls(http, vocab, info, fim, bos)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:  # answers of another shape
            http.close()
            log.debug("%s answered JSON of another shape: %s", remote.describe(), http.redact(repr(exc)))
            raise Unavailable(f"{remote.describe()} answered JSON this client does not understand") from None
        except BaseException:
            http.close()
            raise

    def keep_warm(self, memory_mb: int) -> None:
        """Warm files are the in-process engine's: the server's own slots keep what they keep (docs/team.md)."""

    def warm(self) -> WarmFigures:
        return NO_FIGURES

    def file_changed(self) -> bool:
        return False

    def unconfirmed(self) -> bool:
        """The served model is to be checked again (MODEL_CHECK_S of use since the last check, or a check under way):
        the next request reaches the server and the check goes with it."""
        return self._model_check is not None or self._changed != "" or self._due()

    # --- tokenizer -----------------------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        return self.vocab.tokenize(text) if text else []

    def tokenize_infill(self, text: str) -> list[int]:
        if not self._strip_space:
            return self.tokenize(text)
        return infill_encode(self.tokenize, self.vocab.detokenize, text)

    def piece(self, token: int) -> str:
        found = self._pieces.get(token)
        if found is None:
            found = self._pieces[token] = self.vocab.detokenize([token])
        return found

    # --- generation ----------------------------------------------------------------------------------------

    def generate(self, prompt: Sequence[int], params: GenerationParams, cancel: CancelToken) -> Generation:
        """Stream a generation after `prompt`; a cancel or a stop rule closes the request (the server stops)."""
        stats = GenerationStats(prompt_tokens=len(prompt))
        started = time.perf_counter()
        if cancel.cancelled:
            return finish("", stats, "cancelled", started)
        if self._changed:
            raise ModelChanged(self._changed)
        prompt = list(prompt) or ([self.bos] if self.bos is not None else self.tokenize("\n"))
        stats.prompt_tokens = len(prompt)
        if len(prompt) >= self.context_size:
            raise InfillError(f"prompt of {len(prompt)} tokens does not fit the server's context of "
                              f"{self.context_size}")
        state = _Stream(started)
        try:
            self.http.call(self._stream(prompt, params, stats, state), cancel)
            if self._model_check is not None:
                self.http.call(self._verdict(), cancel)
        except Cancelled:
            state.reason = "cancelled"
        stats.generated_tokens = max(stats.generated_tokens, state.tokens)
        return finish(state.text, stats, state.reason, started)

    async def _stream(self, prompt: list[int], params: GenerationParams, stats: GenerationStats,
                      state: _Stream) -> None:
        if self._model_check is None and self._due():
            self._start_check()
        budget = min(params.max_tokens, self.context_size - len(prompt) - 1)
        state.reason = "max_tokens" if budget == params.max_tokens else "context"
        first = self._first_piece_s(len(prompt))
        if budget <= 0:  # a prefill: evaluate the prompt (the server generates one token it must generate)
            with self._waiting(first, len(prompt)):
                answer = await self.http.post(*self._request(prompt, params, 0, stream=False), timeout=first)
            _read_usage(answer, stats)
            state.reason = "max_tokens"
            return
        evaluated, typed = 0, ""
        if params.heal is not None and self.heals:
            prompt, rest = await self._healed(prompt, params, params.heal, stats)
            state.text = state.decoder.decode(rest)
            typed = params.heal.text + state.text
            state.raw = state.decoder.getstate()[0] != b""  # the healed token ends inside a character
            stats.ttft_ms = (time.perf_counter() - state.started) * 1000
            state.tokens, evaluated = 1, stats.evaluated_tokens  # the healed token was typed: it does not count
            budget = min(budget, self.context_size - len(prompt) - 1)
            if budget <= 0 or self._check(params, state):
                state.reason = state.reason if state.done else "context"
                return
        grammar = None if state.raw else self._grammar(params.names, typed)
        path, body = self._request(prompt, params, budget, stream=True, raw=state.raw, grammar=grammar)
        try:
            try:
                await self._events(path, body, params, stats, state, first)
            except httpx.HTTPStatusError as exc:  # before the first event: nothing of the answer was taken
                if "grammar" not in body or exc.response.status_code != 400:
                    raise
                del body["grammar"]
                await self._events(path, body, params, stats, state, first)
                self._refused(exc.response)  # the same request without the grammar was served
        finally:
            stats.evaluated_tokens += evaluated  # the healing request's prompt, then the stream's

    def _grammar(self, names: Sequence[str], typed: str) -> str | None:
        """The GBNF grammar that makes the rest of a generation whose text so far is `typed` (a healed token's) honour
        `names` (engine/gbnf.py); None where nothing is to be constrained: no names, a server not sent grammars, a
        name already ended in `typed`, or `typed` that fits no name (the pipeline's names did not match its own
        healed text: the answer is then the model's own)."""
        if not names or not self._grammars:
            return None
        left = gbnf.rests(names, typed)
        if left == ():
            log.debug("the healed text %r begins none of the %d names: generating without them", typed, len(names))
        return gbnf.grammar(left) if left else None

    def _fits(self, params: GenerationParams, piece: bytes) -> bool:
        """Whether a healing candidate's text `piece` (the healed text and what it adds) may begin a generation that
        honours `params.names`: a prefix of a name, or a name and a character that cannot continue it. Where names
        are constrained, a candidate that ends inside a character does not fit: the grammar of the stream after it
        would start in the middle of a character, which GBNF cannot express."""
        if not params.names or not self._grammars:
            return True
        try:
            text = piece.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return gbnf.rests(params.names, text) != ()

    def _refused(self, answer: httpx.Response) -> None:
        """The server refused a request for its grammar (HTTP 400) and served it without one: names are not sent as
        grammars again by this engine (said once; a reconnect makes a new engine, which tries again)."""
        self._grammars = False
        where = self.http.remote.describe()
        log.warning("%s refused a grammar (%s): completing without infill's name constraint from now on", where,
                    status_error(where, answer, self.http.redact))

    async def _healed(self, prompt: list[int], params: GenerationParams, heal: Heal,
                      stats: GenerationStats) -> tuple[list[int], bytes]:
        """Token healing on llama-server: ask for the first token's most likely candidates (`n_probs`, before
        sampling), take the best one whose bytes begin with the healed text (or draw one, for a sampled
        alternative), and return the prompt that continues after it with the bytes it adds, which may end inside a
        character (` \xf0\x9f`, the start of an emoji after a space). When no candidate begins with the text, the
        healed token itself comes back: the prompt as it was.

        llama-server leaves the candidates out when the token it samples ends inside a character; it is then asked
        again with a grammar that makes it sample a whole one. The candidates are the same (they are read before
        sampling), and the prompt is cached: the second request evaluates one token.

        With `params.names`, a candidate must also fit them (`_fits`: the healed text counts as generated text); the
        stream after it is then constrained by what is left of the names (`_grammar`)."""
        body = {"prompt": prompt, "n_predict": 1, "n_probs": HEAL_CANDIDATES, "temperature": params.temperature,
                "seed": params.seed, "stream": False, "cache_prompt": True}
        first = self._first_piece_s(len(prompt))
        with self._waiting(first, len(prompt)):
            answer = await self.http.post("/completion", body, timeout=first)
            _read_usage(answer, stats)
            if not answer.get("completion_probabilities"):
                answer = await self.http.post("/completion", {**body, "grammar": ASCII_ONLY}, timeout=first)
                again = GenerationStats()
                _read_usage(answer, again)
                stats.evaluated_tokens += again.evaluated_tokens
        probs = answer.get("completion_probabilities") or [{}]
        want = heal.text.encode("utf-8")
        fits = [(int(c["id"]), bytes(c["bytes"]), float(c["logprob"])) for c in probs[0].get("top_logprobs") or ()
                if bytes(c.get("bytes") or b"").startswith(want) and self._fits(params, bytes(c["bytes"]))]
        if not fits:
            return [*prompt, heal.token], b""
        if params.temperature <= 0:
            token, piece, _ = max(fits, key=lambda c: c[2])
        else:
            weights = [math.exp((c[2] - fits[0][2]) / params.temperature) for c in fits]
            token, piece, _ = random.Random(params.seed).choices(fits, weights)[0]
        return [*prompt, token], piece[len(want):]

    async def _events(self, path: str, body: dict[str, Any], params: GenerationParams, stats: GenerationStats,
                      state: _Stream, first: float) -> None:
        """Take the streamed events until generation is over; the first may take `first` seconds (the server
        evaluates the prompt before it), each later one `timeoutMs`. A stream that ends before its last event (a
        connection closed mid-answer) is an error, never a complete answer."""
        timeout = self.http.remote.timeout_s
        async with contextlib.aclosing(self.http.events(path, body, timeout=first)) as events:  # leaving closes it
            with self._waiting(first, len(body["prompt"])):
                event = await anext(events, None)
            while event is not None:
                self._take(event, params, stats, state)
                if state.done:
                    return
                try:
                    async with asyncio.timeout(timeout):
                        event = await anext(events, None)
                except TimeoutError:
                    raise Unavailable(f"{self.http.remote.describe()} did not answer within {timeout:g} s") from None
        raise Unavailable(f"{self.http.remote.describe()} closed the connection before the end of the answer")

    def _first_piece_s(self, prompt_tokens: int) -> float:
        return first_piece_s(self.http.remote.timeout_s, prompt_tokens)

    @contextlib.contextmanager
    def _waiting(self, limit: float, prompt_tokens: int) -> Iterator[None]:
        """A read timeout while the server evaluates a prompt, as one line that names the wait."""
        try:
            yield
        except httpx.ReadTimeout:
            raise Unavailable(f"{self.http.remote.describe()} did not answer within {limit:g} s (a prompt of "
                              f"{prompt_tokens} tokens)") from None

    # --- model check ---------------------------------------------------------------------------------------

    def _due(self, after: float = MODEL_CHECK_S) -> bool:
        """Whether the served model is to be checked again: `after` seconds of use since the last check."""
        now = self.clock()
        if self._checked is None:
            self._checked = now
        return now - self._checked >= after

    async def _watch_connections(self, request: httpx.Request) -> None:
        """An httpx request hook: every new connection made to the server (a restart, a dropped keep-alive) starts a
        model check, but not the check's own requests."""
        if not request.url.path.endswith(("/props", "/models")):
            request.extensions["trace"] = self._on_trace

    async def _on_trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete" and self._model_check is None and self._due(RECONNECT_CHECK_S):
            self._start_check()

    def _start_check(self) -> None:
        """Ask the server which model it serves, alongside the work under way (on the HTTP loop); `_verdict` reads the
        answer after the generation, so the check costs no time of its own."""
        self._model_check = asyncio.ensure_future(self._served())
        self._model_check.add_done_callback(lambda f: f.cancelled() or f.exception())  # read later, or dropped at close

    async def _served(self) -> tuple[str, ...]:
        """The identity of the model the server serves now (an empty one when it no longer names it)."""
        if self.info.llama_cpp:
            try:
                props = await self.http.get("/props")
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code >= 500 or exc.response.status_code in (401, 403, 408, 429):
                    raise
                return ()
            return identity(props, None) if isinstance(props, dict) else ()
        listed = (await self.http.get("/v1/models")).get("data", [])
        entry = next((m for m in listed if isinstance(m, dict) and str(m.get("id", "")) == self.info.model), None)
        return identity(None, entry) if entry is not None else ()

    async def _verdict(self) -> None:
        """Read the model check under way (waiting for it if need be): another model raises ModelChanged, and so
        does every later call (the host makes a new engine)."""
        check = self._model_check
        if check is None:
            return
        try:
            served = await asyncio.shield(check)  # a cancelled request leaves the check to the next one
        finally:
            if check.done():  # read once, whatever it found (a failed check is not raised again and again)
                self._model_check, self._checked = None, self.clock()
        if served != self.info.identity:
            self._changed = (f"{self.http.remote.describe()} now serves {_name(served) or 'another model'}, not "
                             f"{_name(self.info.identity) or self.info.model}")
            raise ModelChanged(self._changed)

    def _take(self, event: dict[str, Any], params: GenerationParams, stats: GenerationStats, state: _Stream) -> None:
        """One streamed event: its text, and whether generation is over (`state.done`)."""
        if state.tokens == 0:
            stats.ttft_ms = (time.perf_counter() - state.started) * 1000
        piece, tokens, finish = self._piece(event)
        if state.raw:  # the text ends inside a character: the pieces are read as bytes
            raw = _piece_bytes(event)
            piece = state.decoder.decode(raw) if raw is not None else piece
        _read_usage(event, stats)
        if any(t in self.fim.end for t in tokens):
            state.reason, state.done = "eos", True
            return
        state.tokens += len(tokens) if tokens else int(bool(piece))
        state.text += piece
        for logprob in _logprobs(event):
            stats.scored(logprob, len(state.text))
        if not self._check(params, state, bool(piece)) and finish:
            state.reason, state.done = finish, True

    @staticmethod
    def _check(params: GenerationParams, state: _Stream, grew: bool = True) -> bool:
        """Apply the stop rules to the text so far; True when they end the generation."""
        hit = first_stop(state.text, params.stop)
        if hit is not None:
            state.text, state.reason, state.done = state.text[:hit], "stop", True
        elif grew and params.should_stop is not None and params.should_stop(state.text):
            state.reason, state.done = "block", True
        return state.done

    def _request(self, prompt: list[int], params: GenerationParams, budget: int, stream: bool, raw: bool = False,
                 grammar: str | None = None) -> tuple[str, dict[str, Any]]:
        """The request for a generation; `raw`: with each piece's bytes (llama-server: the top candidate of each
        token, which carries the bytes of the text sent with it), for a text that ends inside a character;
        `grammar`: GBNF the text must match (llama-server takes it on both APIs; see `_grammar`)."""
        stop = [s for s in params.stop if s]
        extra = {"grammar": grammar} if grammar is not None else {}
        if self.info.api == "llama.cpp":
            return "/completion", {
                "prompt": prompt, "n_predict": budget, "temperature": params.temperature, "top_k": 40,
                "top_p": 0.95, "min_p": 0.05, "seed": params.seed, "stop": stop, "stream": stream,
                "cache_prompt": True, "timings_per_token": True,  # figures even when the stream is closed early
                "n_probs": 1,  # each token's log-probability (the confidence) and bytes (`raw`)
                **extra,
            }
        body: dict[str, Any] = {
            "model": self.info.model, "prompt": prompt, "max_tokens": max(1, budget),
            "temperature": params.temperature, "top_p": 0.95, "seed": params.seed, "stream": stream, **extra,
        }
        if stop:
            body["stop"] = stop
        if stream:  # the server's figures with every piece, not only at the end (llama-server; vLLM)
            if self.info.llama_cpp:
                body["timings_per_token"] = True
            else:
                body["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
        if stream:  # each token's log-probability (the confidence); llama-server names its id and bytes there
            body["logprobs"] = 1
        if self.fim.end and stream and not self.info.llama_cpp:
            # The family's end of infill is not always an end-of-generation token for the server, and its text
            # never reaches the stream: vLLM stops on it itself; llama-server names each token's id in logprobs.
            body["stop_token_ids"] = sorted(self.fim.end)
        return "/v1/completions", body

    def _piece(self, event: dict[str, Any]) -> tuple[str, list[int], str | None]:
        """The text, token ids (where the API gives them) and finish reason of one streamed event."""
        if self.info.api == "llama.cpp":
            finish = None
            if event.get("stop"):
                finish = {"eos": "eos", "word": "stop", "limit": "max_tokens"}.get(str(event.get("stop_type")),
                                                                                   "eos")
            return str(event.get("content", "")), [int(t) for t in event.get("tokens") or ()], finish
        choices = event.get("choices") or [{}]
        reason = choices[0].get("finish_reason")
        finish = None if reason is None else ("max_tokens" if reason == "length" else "eos")
        logprobs = choices[0].get("logprobs") or {}
        ids = [int(c["id"]) for c in logprobs.get("content") or () if isinstance(c, dict) and "id" in c]
        return str(choices[0].get("text") or ""), ids, finish

    def close(self) -> None:
        if self._model_check is not None:
            self.http.loop.call_soon_threadsafe(self._model_check.cancel)
        if isinstance(self.vocab, LocalVocab):
            self.vocab.close()
        self.http.close()


@dataclass
class _Stream:
    started: float
    text: str = ""
    tokens: int = 0
    reason: str = "eos"
    done: bool = False
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    raw: bool = False
    """The text began inside a character (a healed token's bytes): the stream's pieces are decoded from their bytes
    (`decoder`), which llama-server names with each piece when asked (`n_probs`, `logprobs`)."""


async def _props(http: Http) -> dict[str, Any] | None:
    """llama-server's /props, or None for a server that is not llama.cpp's."""
    try:
        props = await http.get("/props")
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code in (401, 403) or 300 <= exc.response.status_code < 400:
            raise
        return None
    return props if isinstance(props, dict) and "default_generation_settings" in props else None


def first_piece_s(timeout_s: float, prompt_tokens: int) -> float:
    """How long to wait for the first piece of an answer: `timeoutMs` for every started PROMPT_TOKENS_PER_WAIT
    prompt tokens, since the server evaluates the prompt before it (which of them it has cached is not known
    beforehand). Between two pieces the wait is `timeoutMs`."""
    return timeout_s * max(1, math.ceil(prompt_tokens / PROMPT_TOKENS_PER_WAIT))


def identity(props: dict[str, Any] | None, entry: dict[str, Any] | None) -> tuple[str, ...]:
    """What names the served model, cheap to ask again: llama-server's model file, alias and slot context (its
    `/props`), else the OpenAI-style model entry's id, root and context (`/v1/models`)."""
    if props is not None:
        context = (props.get("default_generation_settings") or {}).get("n_ctx", "")
        return ("llama.cpp", str(props.get("model_path", "")), str(props.get("model_alias", "")), str(context))
    entry = entry or {}
    meta = entry.get("meta") or {}
    context = entry.get("max_model_len") or (meta.get("n_ctx") if isinstance(meta, dict) else "") or ""
    return ("openai", str(entry.get("id", "")), str(entry.get("root", "")), str(context))


def _name(identity: tuple[str, ...]) -> str:
    """The model an identity names, for a message."""
    if len(identity) < 3:
        return ""
    return (identity[2] or Path(identity[1]).name) if identity[0] == "llama.cpp" else identity[1]


def _local_if_same(path: Path, server: ServerVocab, served: str) -> tuple[ServerVocab | LocalVocab, str]:
    """The local GGUF's tokenizer when it tokenizes like the server's (or the server cannot tokenize), else the
    server's, with the warning that says why. With a remote engine the local file is only a hint: one that is
    missing or unreadable (a stale `infill.model.path`) is set aside, never a reason not to connect."""
    try:
        local = LocalVocab(path)
    except InfillError as exc:
        return server, f"the local tokenizer (infill.model.path) is set aside: {exc}; tokenizing on the server instead"
    try:
        same = local.tokenize(PROBE) == server.tokenize(PROBE) and detect(local) == detect(server)
    except Unavailable:
        local.close()
        raise
    except InfillError:  # no /tokenize here (an OpenAI-style server): the local copy is all there is
        return local, ""
    if same:
        return local, ""
    local.close()
    return server, (f"the local tokenizer {path} (infill.model.path) does not match the vocabulary of {served}: "
                    "tokenizing on the server instead")


def _piece_bytes(event: dict[str, Any]) -> bytes | None:
    """The bytes of one streamed piece, where llama-server names them (its candidates' `bytes`), else None."""
    probs = event.get("completion_probabilities")
    if probs is None:
        choices = event.get("choices") or [{}]
        probs = (choices[0].get("logprobs") or {}).get("content") if isinstance(choices[0], dict) else None
    if not isinstance(probs, list):
        return None
    return b"".join(bytes(p.get("bytes") or b"") for p in probs if isinstance(p, dict))


def _logprobs(event: dict[str, Any]) -> list[float]:
    """The log-probability of each token of one streamed piece: llama-server's `completion_probabilities` (its
    own API) or `logprobs.content` (its OpenAI-style one), or the OpenAI `logprobs.token_logprobs` (vLLM); none
    where the server gives none (llama-server leaves out a token that ends inside a UTF-8 character)."""
    probs = event.get("completion_probabilities")
    if probs is None:
        choices = event.get("choices") or [{}]
        logprobs = choices[0].get("logprobs") if isinstance(choices[0], dict) else None
        if not isinstance(logprobs, dict):
            return []
        probs = logprobs.get("content")
        if probs is None:
            values = logprobs.get("token_logprobs")
            return [float(v) for v in values if _number(v)] if isinstance(values, list) else []
    if not isinstance(probs, list):
        return []
    return [float(p["logprob"]) for p in probs if isinstance(p, dict) and _number(p.get("logprob"))]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_usage(event: dict[str, Any], stats: GenerationStats) -> None:
    """The prompt tokens the server evaluated and reused, from llama-server's `timings` or OpenAI's `usage`."""
    timings = event.get("timings")
    if isinstance(timings, dict) and "prompt_n" in timings:
        stats.evaluated_tokens = int(timings["prompt_n"])
        stats.reused_tokens = int(timings.get("cache_n", 0))
        stats.server = {k: round(float(v), 3) for k, v in timings.items() if isinstance(v, int | float)}
        return
    usage = event.get("usage")
    if isinstance(usage, dict) and "prompt_tokens" in usage:
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        stats.evaluated_tokens = int(usage["prompt_tokens"]) - cached
        stats.reused_tokens = cached
        stats.generated_tokens = int(usage.get("completion_tokens", stats.generated_tokens))
