"""App fixtures: a main window around a tiny-model library on a temporary data home."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from tests.factories import make_library

INDEX_TIMEOUT_MS = 90_000
WAIT_MS = 20_000  # for refreshes that run as jobs: generous, for a busy two-core machine
STALL_S = 0.1  # the window not answering for longer than this is a freeze a person notices


@pytest.fixture(scope="session", autouse=True)
def clipboard_released_at_exit(qapp):
    """What `app.application.run` does as it returns, for the one QApplication of the run."""
    yield
    from app.file_actions import release_clipboard

    release_clipboard()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder of 12 real JPEGs, 3 per visual concept, in sub-folders named after the concept."""
    root = tmp_path / "pics"
    make_library(root, per_concept=3)
    return root


@pytest.fixture
def make_window(qtbot, make_library_obj):
    """A factory of shown main windows (closed, with their jobs stopped, at teardown)."""
    from app.application import build_window

    windows = []

    def make(model: str = "tiny-test"):
        window = build_window(make_library_obj(model))
        windows.append(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for window in windows:
        window.close()  # saves settings, cancels and waits for every job


@pytest.fixture
def window(make_window):
    return make_window()


def add_and_index(qtbot, window, folder: Path) -> object:
    """Add a folder through the window and wait for its indexing run to finish; the report."""
    with qtbot.waitSignal(window.indexing.finished, timeout=INDEX_TIMEOUT_MS) as finished:
        window.add_folders([str(folder)])
    settle(qtbot, window)
    return finished.args[0]


def settle(qtbot, window) -> None:
    """Wait until the refreshes that follow a change (folders, status, results) are done."""
    qtbot.waitUntil(lambda: not window.state.jobs.running and not window.search_page.searching, timeout=WAIT_MS)


def shown_paths(window) -> list[str]:
    return [r.path for r in window.search_page.results_model.results()]


def search(qtbot, window, text: str) -> list[str]:
    """Type `text` in the search field, press Enter, wait for the grid; the paths shown."""
    page = window.search_page
    field = page.search_bar.field
    field.clear()
    with qtbot.waitSignal(page.results_shown, timeout=30_000):
        qtbot.keyClicks(field, text)
        qtbot.keyClick(field, "\r")
    qtbot.waitUntil(lambda: not page.searching, timeout=30_000)
    return shown_paths(window)


def longest_stall(qtbot, until: Callable[[], bool], after_ms: int = 200) -> float:
    """Seconds of the longest gap between GUI-thread timer ticks until `until()` holds (and a
    little after, for the first paint): how long the window froze meanwhile."""
    ticks = [time.perf_counter()]
    timer = QTimer(interval=5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    try:
        qtbot.waitUntil(until, timeout=WAIT_MS)
        qtbot.wait(after_ms)
    finally:
        timer.stop()
    return max(b - a for a, b in zip(ticks, ticks[1:]))
