"""infill-ls: fill-in-the-middle code completions from a local GGUF model, over LSP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("infill-ls")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"
