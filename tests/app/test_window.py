"""The main window: first run, adding a folder, searching, previewing, similar photos."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.conftest import INDEX_TIMEOUT_MS, add_and_index, search, shown_paths


def test_window_opens_fast_without_loading_the_model(qtbot, make_window):
    started = time.monotonic()
    window = make_window()
    opened = time.monotonic() - started
    assert opened < 2.0
    assert not window.state.library.encoder.loaded
    page = window.search_page
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.empty and page.empty.button.isVisible())
    assert "Find your photos" in page.empty.title.text()
    assert not window.state.library.encoder.loaded  # the first-run screen needs no model
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Photos", "Categories", "Teach"]


def test_add_folder_indexes_and_the_grid_fills_as_you_type(qtbot, window, photos: Path):
    changed = []
    window.state.library_changed.connect(lambda: changed.append(True))
    report = add_and_index(qtbot, window, photos)
    assert report.added == 12 and not report.cancelled
    assert changed, "views were not told that the library changed"
    qtbot.waitUntil(lambda: [f.photos for f in window.folders_model.folders()] == [12])
    info = window.folders_model.folders()[0]
    assert (info.path, info.photos, info.online) == (str(photos), 12, True)
    qtbot.waitUntil(lambda: "12 photos" in window.status.photos.text())
    assert window.status.model.text() == "Model: tiny-test"

    page = window.search_page
    # Typed without Enter: the debounced search fills the grid on its own.
    with qtbot.waitSignal(page.results_shown, timeout=30_000):
        qtbot.keyClicks(page.search_bar.field, "stripes")
    qtbot.waitUntil(lambda: not page.searching)
    assert page.stack.currentWidget() is page.grid
    assert len(shown_paths(window)) == 12
    scores = [r.score for r in page.results_model.results()]
    assert scores == sorted(scores, reverse=True)
    assert "best first" in page.summary.text()
