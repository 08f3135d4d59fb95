"""The program run as a separate process (`python main.py ...`), and its output read as it comes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import REPO


def start(home: Path, *argv: str) -> subprocess.Popen:
    """`main.py --offline ARGV` on the data home `home`, its output piped."""
    env = {**os.environ, "LITPHOTOS_HOME": str(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "--offline", *argv],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


class Lines:
    """A process's output read on a thread, so that the pipe never fills up."""

    def __init__(self, stream) -> None:  # noqa: ANN001
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:  # noqa: ANN001
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
            assert time.monotonic() < deadline, f"{needle!r} not seen in {self.lines}"
            time.sleep(0.05)

    @property
    def text(self) -> str:
        self.thread.join(timeout=10)
        return "\n".join(self.lines)
