"""A screenshot of the main window with results, for a reviewer (test-output/, not committed)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.conftest import WAIT_MS, add_and_index, search
from tests.conftest import OUTPUT
from tests.factories import make_library


def visible_thumbnails_ready(page) -> bool:
    """True when every cell on screen has its thumbnail (asking for them as the grid paints)."""
    grid, model = page.grid, page.results_model
    viewport = grid.viewport().rect()
    visible = [model.index(r) for r in range(model.rowCount()) if grid.visualRect(model.index(r)).intersects(viewport)]
    return bool(visible) and all(i.data(Qt.ItemDataRole.DecorationRole) is not None for i in visible)


def test_screenshot_of_the_main_window_with_results(qtbot, window, tmp_path: Path):
    for n, size in enumerate([(400, 300), (300, 400), (480, 270), (360, 360)]):
        make_library(tmp_path / "Holiday 2024" / f"day {n + 1}", per_concept=2, size=size)
    make_library(tmp_path / "Family", per_concept=1, size=(320, 240))
    add_and_index(qtbot, window, tmp_path / "Holiday 2024")
    add_and_index(qtbot, window, tmp_path / "Family")
    window.resize(1280, 800)
    paths = search(qtbot, window, "red stripes")
    assert len(paths) == 36
    page = window.search_page
    page.grid.setCurrentIndex(page.results_model.index(0))
    qtbot.waitUntil(lambda: "36 photos" in window.status.photos.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: visible_thumbnails_ready(page), timeout=30_000)
    OUTPUT.mkdir(exist_ok=True)
    target = OUTPUT / "app-main-window.png"
    assert window.grab().save(str(target))
    assert target.stat().st_size > 20_000  # a real picture, not an empty frame
