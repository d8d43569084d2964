"""Finding the model file: a local path, or a Hugging Face repo + file in the hub cache (downloaded on demand)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import ModelSettings
from .base import InfillError
from .remote import Remote

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while downloading."""


def describe(settings: ModelSettings | Remote) -> str:
    if isinstance(settings, Remote):
        return settings.host
    return settings.path or f"{settings.repo}/{settings.file}"


def cached_model(repo: str, file: str) -> Path | None:
    """The file's path in the Hugging Face cache, without touching the network, or None."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo, file, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None


def download_model(repo: str, file: str, progress: Progress | None = None) -> Path:
    """Download `file` from `repo` into the Hugging Face cache (a progress bar on stderr, or `progress`)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    hint = (
        f"download {file} from {repo} on a machine with network (`infill-ls download`), "
        "or use a local file (--model PATH / infill.model.path)"
    )
    try:
        kwargs: dict[str, Any] = {}
        if progress is not None:
            kwargs["tqdm_class"] = _progress_class(progress)
        return Path(hf_hub_download(repo, file, **kwargs))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise InfillError(f"model {repo}/{file} is not downloaded and the hub cannot be reached: {hint}") from exc
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise InfillError(f"cannot download {file}: repository {repo} not found or not accessible") from exc
    except EntryNotFoundError as exc:
        raise InfillError(f"cannot download {file}: no such file in {repo}") from exc
    except OSError as exc:
        raise InfillError(f"cannot download {repo}/{file} ({exc.__class__.__name__}): {hint}") from exc


def resolve_model(settings: ModelSettings, *, download: bool, progress: Progress | None = None) -> Path:
    """The local GGUF path for `settings`: `path` as given, else the cached (or, if allowed, downloaded) file."""
    if settings.path:
        return Path(os.path.expanduser(settings.path))
    found = cached_model(settings.repo, settings.file)
    if found is not None:
        return found
    if not download:
        raise InfillError(
            f"model {settings.repo}/{settings.file} is not downloaded: run `infill-ls download` "
            "or use a local file (--model PATH / infill.model.path)"
        )
    log.info("downloading %s from %s", settings.file, settings.repo)
    return download_model(settings.repo, settings.file, progress)


def _progress_class(progress: Progress) -> type:
    from tqdm.auto import tqdm  # type: ignore[import-untyped]

    class Reporter(tqdm):  # type: ignore[misc]
        """A silent tqdm that forwards byte counts to `progress`."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = False
            kwargs["file"] = open(os.devnull, "w")  # noqa: SIM115 - closed with the bar
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            result: bool | None = super().update(n)
            progress(int(self.n), int(self.total or 0))
            return result

        def close(self) -> None:
            fp = self.fp
            super().close()
            fp.close()

    return Reporter
