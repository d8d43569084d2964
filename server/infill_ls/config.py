"""The settings tree `infill.*`: one fully defaulted, typed dataclass tree, parsed in one place.

The wire keys are the camelCase field names below; VS Code's package.json, Neovim's setup table and Helix's
`[language-server.infill.config]` use the same keys. A bad value falls back to its default and is reported by
its dotted key (for example `infill.completion.debounceMs`).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin, get_type_hints

from .exclusion import compiles

DEFAULT_REPO = "TheBloke/CodeLlama-7B-GGUF"
DEFAULT_FILE = "codellama-7b.Q4_K_M.gguf"

DEFAULT_EXCLUDE: tuple[str, ...] = (
    # environment files (Zed's private_files `**/.env*`, cursortab's `.env` and `.env.*`, Continue's `.env*`)
    "*.env", ".env", ".env.*", ".envrc",
    # private keys, certificates and key stores
    "*.pem", "*.key", "*.p12", "*.pfx", "*.crt", "*.cert", "*.cer", "*.jks", "*.keystore", "*.ppk", "*.kdbx",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    # credential folders and files of common tools
    ".ssh/", ".gnupg/", ".aws/", ".azure/", ".kube/", "**/.docker/config.json",
    ".netrc", "_netrc", ".npmrc", ".pypirc", ".git-credentials", ".pgpass", ".htpasswd",
    # files named for what they hold
    "secrets.*", "secrets/", ".secrets/", "credentials", "credentials.*", "*.tfvars", "*.tfstate", "*.tfstate.*",
)
"""Files never completed in nor used as context (gitignore patterns). The user's `infill.exclude` and each workspace
folder's `.infillignore` extend this list; a `!pattern` there re-includes (see docs/context.md)."""

Multiline = Literal["auto", "always", "never"]
Menu = Literal["auto", "always", "never"]
EngineApi = Literal["auto", "llama.cpp", "openai"]
Trigger = Literal["auto", "manual"]

DEFAULT_TRIGGER_LANGUAGES: dict[str, Trigger] = {"markdown": "manual", "plaintext": "manual"}
"""Prose is completed on the trigger key only (as Copilot leaves prose out by default)."""


@dataclass(frozen=True)
class ModelSettings:
    path: str = ""
    """Local GGUF file; when set it wins over repo/file."""
    repo: str = DEFAULT_REPO
    """Hugging Face repo that holds the model."""
    file: str = DEFAULT_FILE
    """File inside `repo`."""
    gpuLayers: int = -1
    """Layers offloaded to the GPU: -1 = all (when llama.cpp has GPU offload), 0 = CPU only."""
    threads: int = 0
    """CPU threads for generation; 0 = automatic."""
    contextSize: int = 4096
    """Model context in tokens."""


@dataclass(frozen=True)
class CompletionSettings:
    enable: bool = True
    """Serve completions at all."""
    debounceMs: int = 150
    """Milliseconds an automatic request waits; a newer request for the document drops it."""
    adaptiveDebounce: bool = True
    """Wait 0 instead of debounceMs while the model answers faster than the user types (never longer)."""
    maxTokens: int = 64
    """Most tokens generated per completion."""
    temperature: float = 0.0
    """0 = greedy: deterministic, so the cache and typing-through give the same answer the model would."""
    prefixTokens: int = 1536
    """Token budget for the text before the cursor."""
    suffixTokens: int = 512
    """Token budget for the text after the cursor."""
    multiline: Multiline = "auto"
    """auto: one line when code stands right of the cursor, else a block; always; never."""
    menu: Menu = "auto"
    """Answer textDocument/completion with one item from the model. auto: only for clients that cannot show
    inline completions (no `textDocument.inlineCompletion` capability, e.g. Helix); always; never."""
    alternatives: int = 3
    """Most items for an Invoked inline request: the greedy completion first, then sampled ones (distinct,
    non-empty). Automatic requests and menu requests get one item from one generation."""
    warmMemoryMb: int = -1
    """MiB of host memory for other files' KV states (warm files: a file the user comes back to resumes without
    evaluating its prompt again). -1 = automatic (sized from the model, see the README), 0 = only the current
    file's. Changing it never reloads the model."""
    trigger: Trigger = "auto"
    """auto: complete as the user types; manual: only when the client's trigger key asks (Invoked requests)."""
    triggerLanguages: dict[str, Trigger] = field(default_factory=lambda: dict(DEFAULT_TRIGGER_LANGUAGES), hash=False)
    """languageId -> auto or manual, overriding `trigger` (never mutated: the tree is frozen)."""
    minConfidence: float | None = None
    """Automatic requests whose suggestion's confidence (mean log-probability of its tokens) is below this get
    no item; Invoked requests are never filtered. None = off (see docs/quality.md for the measurement)."""

    def trigger_for(self, language_id: str) -> Trigger:
        """Whether requests in `language_id` are answered as the user types or on the trigger key only."""
        return self.triggerLanguages.get(language_id, self.trigger)


@dataclass(frozen=True)
class ContextSettings:
    enable: bool = True
    """Show the model snippets of other files before the current file (see docs/context.md)."""
    budgetTokens: int = 1024
    """Tokens of the prompt given to other files' snippets (0 = none); the windows share the rest."""
    openDocuments: bool = True
    """Snippets of the other open documents, most recently used first, best matching the cursor's names first."""
    recentEdits: bool = True
    """The regions recently edited in other open documents."""
    imports: bool = True
    """Definitions of the names the current file imports, read from the workspace folders (Python)."""
    maxFileKb: int = 512
    """Files larger than this are not read for context."""


@dataclass(frozen=True)
class EngineSettings:
    url: str = ""
    """Empty: the model runs inside the language server. `http(s)://host:port`: a shared inference server
    (llama-server, vLLM, any OpenAI-style completions server). The API key comes from INFILL_API_KEY."""
    api: EngineApi = "auto"
    """How to talk to the server: llama.cpp's own API, the OpenAI-style one, or auto (ask the server)."""
    model: str = ""
    """The model name an OpenAI-style server wants; empty = the first one it lists."""
    timeoutMs: int = 30_000
    """Longest wait for the server: to connect, and between two pieces of one answer (before the first piece, once
    per started 512 prompt tokens: see engine/remote.py PROMPT_TOKENS_PER_WAIT)."""
    speculate: bool = False
    """Precompute the next completion on a remote engine too (it spends the shared server's compute)."""
    caFile: str = ""
    """A PEM file of the certificate authority that signed an https server's certificate (a private CA), trusted
    besides the usual ones (certifi's, or SSL_CERT_FILE's)."""


@dataclass(frozen=True)
class StatsSettings:
    enable: bool = True
    """Count, on this machine only, how often suggestions are shown and taken (see docs/protocol.md); off: nothing
    is written."""


@dataclass(frozen=True)
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    stats: StatsSettings = field(default_factory=StatsSettings)
    exclude: tuple[str, ...] = ()
    """Gitignore patterns of files never completed in nor used as context, added to DEFAULT_EXCLUDE (`!`
    re-includes)."""


# Values an earlier release accepted, read as what they meant then: key -> {old value: new value}.
LEGACY: dict[str, dict[Any, Any]] = {
    "completion.menu": {True: "always", False: "never"},  # menu was a boolean: answer completion requests or not
}

# Bounds that make a value "bad" even when its type is right: key -> (min, max).
LIMITS: dict[str, tuple[float, float]] = {
    "model.gpuLayers": (-1, 10_000),
    "model.threads": (0, 1024),
    "model.contextSize": (256, 1_048_576),
    "completion.debounceMs": (0, 10_000),
    "completion.maxTokens": (1, 4096),
    "completion.temperature": (0.0, 2.0),
    "completion.prefixTokens": (0, 1_000_000),
    "completion.suffixTokens": (0, 1_000_000),
    "completion.alternatives": (1, 10),
    "completion.warmMemoryMb": (-1, 1_048_576),
    "completion.minConfidence": (-1000.0, 0.0),
    "engine.timeoutMs": (100, 600_000),
    "context.budgetTokens": (0, 32_768),
    "context.maxFileKb": (1, 65_536),
}


def url_problem(value: str) -> str | None:
    """Why `value` is not an inference server's base URL, or None (empty means no server)."""
    if not value:
        return None
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be empty or a URL like http://host:port"
    return None


# Checks of a value's form beyond its type: key -> reason it is bad, or None.
FORMS: dict[str, Callable[[Any], str | None]] = {
    "engine.url": url_problem,
}


class Partly(ValueError):
    """Part of a value is bad: `value` is what is left of it."""

    def __init__(self, reason: str, value: Any) -> None:
        super().__init__(reason)
        self.value = value


def _patterns(value: Any) -> tuple[str, ...]:
    """A list of gitignore patterns; items that are no pattern are dropped (Partly), anything else is bad."""
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list of glob patterns (the built-in exclusions apply all the same)")
    good = tuple(item for item in value if isinstance(item, str) and compiles(item))
    bad = [item for item in value if not (isinstance(item, str) and compiles(item))]
    if bad:
        raise Partly(f"holds {', '.join(map(repr, bad))}, which {'is' if len(bad) == 1 else 'are'} no glob pattern; "
                     f"using the others", good)
    return good


def _triggers(value: Any) -> dict[str, Trigger]:
    """languageId -> auto/manual; entries that are neither are dropped (Partly), anything but an object is bad."""
    if not isinstance(value, dict):
        raise ValueError('must be an object of languageId -> "auto" or "manual"')
    choices = get_args(Trigger)
    good = {k: v for k, v in value.items() if isinstance(k, str) and v in choices}
    bad = [k for k in value if k not in good]
    if bad:
        raise Partly(f"{', '.join(map(repr, bad))} must be \"auto\" or \"manual\"; using the others", good)
    return good


def _check(key: str, hint: Any, value: Any) -> Any:
    """Return `value` converted to `hint`, or raise ValueError with a short reason."""
    if get_origin(hint) is tuple:
        return _patterns(value)
    if get_origin(hint) is dict:
        return _triggers(value)
    optional = [arg for arg in get_args(hint) if arg is not type(None)] if type(None) in get_args(hint) else None
    if optional is not None:
        if value is None:
            return None
        hint = optional[0]
    for old, new in LEGACY.get(key, {}).items():
        if type(value) is type(old) and value == old:
            return new
    choices = get_args(hint)
    if choices and all(isinstance(c, str) for c in choices):
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(repr, choices))}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise ValueError("must be an integer")
        value = int(value)
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        problem = FORMS[key](value) if key in FORMS else None
        if problem:
            raise ValueError(problem)
        return value
    low, high = LIMITS.get(key, (float("-inf"), float("inf")))
    if not low <= value <= high:
        raise ValueError(f"must be between {low:g} and {high:g}")
    return value


def _parse(cls: type[Any], raw: Any, base: Any, prefix: str, errors: list[str]) -> Any:
    if not isinstance(raw, dict):
        if raw is not None:
            errors.append(f"infill{'.' + prefix if prefix else ''}: must be an object, using defaults")
        return base
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    errors.extend(
        f"infill.{prefix}{name}: unknown setting, ignored" for name in raw if name not in known
    )
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        key = f"{prefix}{f.name}"
        current = getattr(base, f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            changes[f.name] = _parse(hints[f.name], raw[f.name], current, key + ".", errors)
            continue
        try:
            changes[f.name] = _check(key, hints[f.name], raw[f.name])
        except Partly as exc:
            errors.append(f"infill.{key}: {exc}")
            changes[f.name] = exc.value
        except ValueError as exc:
            default = getattr(cls(), f.name)
            shown = list(default) if isinstance(default, tuple) else default
            errors.append(f"infill.{key}: {raw[f.name]!r} {exc}; using the default {shown!r}")
            changes[f.name] = default
    return dataclasses.replace(base, **changes)


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Overlay the wire tree `raw` (the object under the key `infill`) on `base`.

    Returns the settings and one message per bad key. Keys absent from `raw` keep their value in `base`.
    """
    errors: list[str] = []
    settings = _parse(Settings, raw, base or Settings(), "", errors)
    return settings, errors


def to_wire(settings: Settings) -> dict[str, Any]:
    """The settings as the wire tree (for docs, tests and `infill-ls --print-settings`)."""
    return dataclasses.asdict(settings)
