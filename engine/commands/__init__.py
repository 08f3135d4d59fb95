"""Command-line commands of the engine. Each module has `register(subparsers, common)`;
handlers take `(args, ctx)` and return an exit code. `main.py` composes and dispatches."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Context:
    """What a command handler may use; built lazily by main.py so cheap commands stay cheap."""

    open_library: Callable[[], Any]  # -> engine.library.Library
    # Looked up when the context is made, not when this module is imported (tests swap them).
    stdout: Any = field(default_factory=lambda: sys.stdout)
    stderr: Any = field(default_factory=lambda: sys.stderr)

    _library: Any = None

    @property
    def library(self):  # noqa: ANN201
        if self._library is None:
            self._library = self.open_library()
        return self._library

    def close(self) -> None:
        """Close the library if a command opened it."""
        if self._library is not None:
            self._library.close()

    def print_json(self, data: Any) -> None:
        json.dump(data, self.stdout, indent=2, default=str)
        self.stdout.write("\n")


class ProgressLine:
    """A one-line progress display on stderr (redrawn on a terminal, a line every few s otherwise)."""

    def __init__(self, stream: Any = None, interval_s: float = 2.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = 0.1 if self.tty else interval_s
        self._last = 0.0
        self._drawn = False

    def show(self, text: str, done: int = 0, total: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        bar = ""
        if total:
            filled = int(24 * done / total)
            bar = "[" + "#" * filled + "." * (24 - filled) + "] "
        line = f"{bar}{text}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
        self._drawn = False
