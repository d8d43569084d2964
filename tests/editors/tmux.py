"""A program in a real terminal: tmux runs it, `send-keys` types, `capture-pane -p -e` reads the screen.

The screen comes back as rows of cells, each a character and the SGR style it is drawn with, so a test can
check colours as a person sees them.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_SOCKETS = itertools.count()
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_OTHER_ESCAPE = re.compile(r"\x1b[^\[]|\x1b\[[0-9;:?]*[A-Za-ln-z]")


@dataclass(frozen=True)
class Style:
    """What a cell is drawn with: colours as SGR text ('' = the terminal's default), attributes as a set."""

    fg: str = ""
    bg: str = ""
    attrs: frozenset[str] = frozenset()


_ATTR_ON = {"1": "bold", "2": "dim", "3": "italic", "4": "underline", "5": "blink", "7": "reverse", "9": "strike"}
_ATTR_OFF = {"21": {"bold"}, "22": {"bold", "dim"}, "23": {"italic"}, "24": {"underline"}, "25": {"blink"},
             "27": {"reverse"}, "29": {"strike"}}


def _apply_sgr(style: Style, params: str) -> Style:
    codes = [c for c in re.split(r"[;:]", params)] if params else ["0"]
    fg, bg, attrs = style.fg, style.bg, set(style.attrs)
    i = 0
    while i < len(codes):
        code = codes[i] or "0"
        if code == "0":
            fg, bg, attrs = "", "", set()
        elif code in _ATTR_ON:
            attrs.add(_ATTR_ON[code])
        elif code in _ATTR_OFF:
            attrs -= _ATTR_OFF[code]
        elif code in ("38", "48"):
            width = 3 if codes[i + 1 : i + 2] == ["5"] else 5
            value = ";".join(codes[i : i + width])
            if code == "38":
                fg = value
            else:
                bg = value
            i += width - 1
        elif code == "39":
            fg = ""
        elif code == "49":
            bg = ""
        elif 30 <= int(code) <= 37 or 90 <= int(code) <= 97:
            fg = code
        elif 40 <= int(code) <= 47 or 100 <= int(code) <= 107:
            bg = code
        i += 1
    return Style(fg, bg, frozenset(attrs))


def style_of(raw: str, text: str) -> Style:
    """The SGR style `text` is first drawn with in a program's raw terminal output."""
    style = Style()
    for match in _SGR.finditer(raw, 0, raw.index(text)):
        style = _apply_sgr(style, match.group(1))
    return style


@dataclass(frozen=True)
class Cell:
    char: str
    style: Style


@dataclass
class Screen:
    """One capture of the pane: rows of cells (the SGR state carries from row to row, as in a terminal)."""

    rows: list[list[Cell]] = field(default_factory=list)

    @classmethod
    def parse(cls, captured: str) -> Screen:
        style = Style()
        rows: list[list[Cell]] = []
        for line in captured.removesuffix("\n").split("\n"):
            cells: list[Cell] = []
            pos = 0
            for match in _SGR.finditer(line):
                cells += [Cell(ch, style) for ch in _OTHER_ESCAPE.sub("", line[pos : match.start()])]
                style = _apply_sgr(style, match.group(1))
                pos = match.end()
            cells += [Cell(ch, style) for ch in _OTHER_ESCAPE.sub("", line[pos:])]
            rows.append(cells)
        return cls(rows)

    def lines(self) -> list[str]:
        return ["".join(c.char for c in row).rstrip() for row in self.rows]

    def text(self) -> str:
        return "\n".join(self.lines())


class Terminal:
    """A tmux server of its own (its own socket) with one window running `argv`."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str, width: int = 120,
                 height: int = 40) -> None:
        self.socket = f"infill-test-{os.getpid()}-{next(_SOCKETS)}"
        self.width, self.height = width, height
        env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height), "-c", cwd,
                   *env_args, *argv)
        # Keep the pane after the program exits, so that a failure can still show its last screen.
        self._tmux("set-option", "-g", "remain-on-exit", "on")
        self._socket_path = Path(self._tmux("display-message", "-p", "#{socket_path}").strip())
        self.captures: list[Screen] = []

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30,
                                check=True)
        return result.stdout

    def type(self, text: str) -> None:
        """Type `text` literally, as a person would."""
        self._tmux("send-keys", "-l", text)

    def key(self, *names: str) -> None:
        """Press named keys (tmux names: Enter, Escape, Tab, C-c...)."""
        self._tmux("send-keys", *names)

    def cursor(self) -> tuple[int, int]:
        """The cursor's (row, column) on the screen, 0-based."""
        x, y = self._tmux("display-message", "-p", "#{cursor_x} #{cursor_y}").split()
        return int(y), int(x)

    def screen(self) -> Screen:
        """The screen now. Every capture is also kept in `captures`."""
        screen = Screen.parse(self._tmux("capture-pane", "-p", "-e"))
        self.captures.append(screen)
        return screen

    def wait(self, what: str, predicate: Callable[[Screen], object], timeout: float) -> Screen:
        """Poll the screen until `predicate` holds; on timeout fail with the last screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; screen:\n{screen.text()}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30, check=False)
        self._socket_path.unlink(missing_ok=True)  # tmux leaves it behind
