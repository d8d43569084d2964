"""What both engines read of GGUF files and llama.cpp: the file check, llama.cpp's log routing, the heap setting,
and whether this build offloads to a GPU."""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Any

from .base import InfillError

llama_log = logging.getLogger("infill_ls.llama_cpp")

GGUF_MAGIC = b"GGUF"


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can offload layers to a GPU."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def check_gguf(path: Path) -> None:
    """Raise InfillError with one clear line unless `path` is a readable file that starts like a GGUF."""
    if not path.exists():
        raise InfillError(f"model file not found: {path}")
    if not path.is_file():
        raise InfillError(f"model path is not a file: {path}")
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise InfillError(f"cannot read model file {path}: {exc.strerror}") from None
    if head != GGUF_MAGIC:
        raise InfillError(f"not a GGUF model file: {path}")


_LOG_CALLBACK: Any = None
ABORTED = ("removing memory module entries", "failed with error 1", "compute status: 1",
           "failed to decode, ret = 2")
"""What llama.cpp logs as warnings when the abort callback stops a batch: a cancel, expected (GGML_STATUS_ABORTED
is 1, llama_decode returns 2)."""


M_MMAP_THRESHOLD = -3
"""glibc's mallopt parameter (malloc.h)."""
MMAP_THRESHOLD = 128 * 1024
"""glibc's default threshold, kept fixed."""


def steady_heap() -> None:
    """Keep glibc's mmap threshold fixed (on glibc; elsewhere nothing to do).

    Each sampled token makes llama.cpp allocate and free a buffer of n_vocab candidates (384 KiB for a 32k
    vocabulary). glibc serves such a block with mmap, and on its free raises the threshold above it, so from
    then on these buffers come from the heap and fragment it (the soak's figures: docs/reliability.md)."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def route_llama_logs() -> None:
    """Send llama.cpp's own log lines to Python logging (stderr and the client), never to stdout."""
    global _LOG_CALLBACK  # the ctypes callback must outlive every call into llama.cpp
    import llama_cpp

    if _LOG_CALLBACK is not None:
        return

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", errors="replace").rstrip()
        if any(sign in message for sign in ABORTED):
            level = 1
        if message:
            # llama.cpp's errors and warnings are detail: what failed is said by our own record (InfillError).
            llama_log.log(logging.INFO if level in (3, 4) else logging.DEBUG, "%s", message)

    _LOG_CALLBACK = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
