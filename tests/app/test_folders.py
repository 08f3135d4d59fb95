"""Folders from the window: counts and states, offline drives, removal, re-scan, bad folders."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.folders_model import FolderRole
from tests.app.conftest import INDEX_TIMEOUT_MS, WAIT_MS, add_and_index, search, shown_paths
from tests.factories import make_photo


def folder_rows(window) -> list[tuple[str, int, str]]:
    model = window.folders_model
    return [(i.path, i.photos, model.index(r).data(FolderRole.STATE)) for r, i in enumerate(model.folders())]


def test_folder_dropped_on_the_window_is_added_and_indexed(qtbot, window, photos: Path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photos))])
    drop = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.indexing.finished, timeout=INDEX_TIMEOUT_MS):
        window.dropEvent(drop)
    qtbot.waitUntil(lambda: folder_rows(window) == [(str(photos), 12, "ready")], timeout=WAIT_MS)
    assert "12 photos" in window.folders_model.index(0).data(Qt.ItemDataRole.DisplayRole)


def test_unplugged_folder_is_marked_offline_and_its_photos_stay(qtbot, window, photos: Path, tmp_path: Path):
    add_and_index(qtbot, window, photos)
    shutil.move(photos, tmp_path / "unplugged")  # the drive goes away
    with qtbot.waitSignal(window.indexing.finished, timeout=INDEX_TIMEOUT_MS) as done:
        window.search_page.folders_panel.rescan_button.click()
    assert done.args[0].offline == [str(photos)]
    qtbot.waitUntil(lambda: folder_rows(window) == [(str(photos), 12, "offline")], timeout=WAIT_MS)
    assert "offline" in window.folders_model.index(0).data(Qt.ItemDataRole.DisplayRole)
    assert "unplugged" in window.search_page.message_bar.message()
    qtbot.waitUntil(lambda: len(window.search_page.results_model.results()) == 12, timeout=WAIT_MS)
    results = window.search_page.results_model.results()
    assert not any(r.available for r in results)  # shown, but marked unavailable
    qtbot.waitUntil(lambda: "1 folder offline" in window.status.photos.text(), timeout=WAIT_MS)


def test_remove_folder_after_confirmation_forgets_its_photos(qtbot, window, photos: Path, tmp_path: Path):
    other = tmp_path / "other"
    make_photo(other / "one.jpg", "yellow_rings", size=(96, 72))
    add_and_index(qtbot, window, photos)
    add_and_index(qtbot, window, other)
    qtbot.waitUntil(lambda: len(folder_rows(window)) == 2, timeout=WAIT_MS)
    panel = window.search_page.folders_panel
    panel.list.setCurrentIndex(window.folders_model.index(0))  # sorted by path: .../other first
    assert panel.remove_button.isEnabled()

    def confirm() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and "not touched" in box.text()
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(50, confirm)
    with qtbot.waitSignal(window.state.library_changed, timeout=30_000):
        panel.remove_button.click()
    qtbot.waitUntil(lambda: [p for p, _, _ in folder_rows(window)] == [str(photos)], timeout=WAIT_MS)
    assert (other / "one.jpg").exists()  # the file itself is untouched
    assert all(Path(p).is_relative_to(photos) for p in search(qtbot, window, "rings"))


def test_rescan_finds_new_photos_without_restarting(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    make_photo(photos / "new" / "late.jpg", "blue_checks", seed=77, size=(160, 120))
    with qtbot.waitSignal(window.indexing.finished, timeout=INDEX_TIMEOUT_MS) as done:
        window.search_page.folders_panel.rescan_button.click()
    assert (done.args[0].added, done.args[0].unchanged) == (1, 12)
    assert str(photos / "new" / "late.jpg") in search(qtbot, window, "checks")


def test_a_missing_folder_gets_a_clear_message_and_is_not_added(qtbot, window, tmp_path: Path):
    missing = tmp_path / "no such folder"
    window.add_folders([str(missing)])
    page = window.search_page
    qtbot.waitUntil(lambda: page.message_bar.isVisible(), timeout=WAIT_MS)
    assert f"not a folder: {missing}" in page.message_bar.message()
    assert window.folders_model.rowCount() == 0 and not window.indexing.running


def test_filters_by_folder_date_and_min_score(qtbot, window, tmp_path: Path):
    root = tmp_path / "dated"
    for i, (concept, year) in enumerate([("red_stripes", 2019), ("red_stripes", 2023), ("blue_checks", 2023)]):
        make_photo(root / concept / f"{year}-{i}.jpg", concept, seed=i, size=(96, 72), taken=datetime(year, 6, 1, 12))
    add_and_index(qtbot, window, root)
    bar = window.search_page.search_bar
    # Before anything is typed: every photo, newest first, without scores.
    browsed = window.search_page.results_model.results()
    assert [r.taken_at.year for r in browsed] == [2023, 2023, 2019] and all(r.score != r.score for r in browsed)
    assert "newest first" in window.search_page.summary.text()
    assert len(search(qtbot, window, "stripes")) == 3
    bar.after.setDate(bar.after.date().fromString("2020-01-01", "yyyy-MM-dd"))
    qtbot.waitUntil(lambda: len(shown_paths(window)) == 2 and not window.search_page.searching, timeout=WAIT_MS)
    assert all("2023" in Path(p).name for p in shown_paths(window))
    bar.set_folders([str(root), str(root / "blue_checks")])
    bar.folder.setCurrentIndex(bar.folder.findData(str(root / "blue_checks")))
    qtbot.waitUntil(lambda: [Path(p).name for p in shown_paths(window)] == ["2023-2.jpg"], timeout=WAIT_MS)
    bar.folder.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(shown_paths(window)) == 2, timeout=WAIT_MS)
    best, second = (r.score for r in window.search_page.results_model.results())
    bar.min_score.setValue(second - 0.01)  # both still pass
    qtbot.waitUntil(lambda: bar.filters().min_score is not None and not window.search_page.searching, timeout=WAIT_MS)
    assert len(shown_paths(window)) == 2
    bar.min_score.setValue(best + 0.01)  # none passes
    qtbot.waitUntil(lambda: window.search_page.stack.currentWidget() is window.search_page.empty, timeout=WAIT_MS)
    assert "No photos match" in window.search_page.empty.title.text()


def test_filters_and_geometry_are_remembered(qtbot, make_window, photos: Path):
    first = make_window()
    bar = first.search_page.search_bar
    bar.min_score.setValue(0.15)
    bar.before.setDate(bar.before.date().fromString("2024-12-31", "yyyy-MM-dd"))
    first.resize(760, 560)  # the offscreen screen is 800 px wide: restoring clamps to it
    size = (first.width(), first.height())
    first.close()
    second = make_window()
    filters = second.search_page.search_bar.filters()
    assert filters.min_score == 0.15 and str(filters.before) == "2024-12-31" and filters.after is None
    assert (second.width(), second.height()) == size
    assert (Path(second.state.library.paths.home) / "app-settings.ini").is_file()
