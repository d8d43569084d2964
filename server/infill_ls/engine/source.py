"""What an engine is made from, and the one way to open one: a model file (found in the hub cache or downloaded
first) or a remote inference server. The server's model host and `infill-ls complete` both open engines here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import ModelSettings, Settings
from .base import EngineStatus
from .host import Source
from .llama import EngineOptions, LlamaEngine
from .loader import Progress, resolve_model
from .remote import Remote, RemoteEngine

Opened = LlamaEngine | RemoteEngine
"""An engine as `open_engine` makes it: an Engine with an `info` (base.EngineInfo) and `close`."""


def source_of(settings: Settings, model: ModelSettings) -> Source:
    """The model file, or the inference server of `infill.engine.url` (with the key from INFILL_API_KEY, and
    `model.path`, when set, as a local copy of the served model's vocabulary)."""
    es = settings.engine
    if not es.url:
        return model
    return Remote(url=es.url, api=es.api, model=es.model, timeout_s=es.timeoutMs / 1000,
                  api_key=os.environ.get("INFILL_API_KEY", ""),
                  tokenizer=os.path.expanduser(model.path) if model.path else "", ca_file=os.path.expanduser(es.caFile))


def resolve(source: Source, progress: Progress | None = None) -> Path | None:
    """The model file of `source`, downloaded if need be (reporting byte counts); None for a remote engine."""
    if isinstance(source, Remote):
        return None
    return resolve_model(source, download=True, progress=progress)


def load(path: Path | None, source: Source, options: EngineOptions | None = None) -> Opened:
    """Build the engine from the file `resolve` found, or connect to the server."""
    if isinstance(source, Remote):
        return RemoteEngine.connect(source)
    assert path is not None
    return LlamaEngine.load(path, source, options or EngineOptions())


def open_engine(source: Source, options: EngineOptions | None = None) -> Opened:
    """`resolve` then `load`, in one go (blocking)."""
    return load(resolve(source), source, options)


def shown(source: Source | None, engine: Any, model: ModelSettings) -> tuple[str | None, EngineStatus]:
    """What `infill/status` shows of the engine: the model's name and where it runs. A remote engine's model is
    the served one, unknown (None) until connected; a local one's is the file asked for."""
    if isinstance(source, Remote):
        status = engine.info.status() if isinstance(engine, RemoteEngine) else source.status()
        return status["model"], status
    return (model.path.rsplit("/", 1)[-1] if model.path else model.file), {"kind": "local"}
