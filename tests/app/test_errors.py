"""Error states a person meets: missing model weights, a first download, unreadable files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.conftest import INDEX_TIMEOUT_MS, WAIT_MS, add_and_index


def test_missing_weights_offline_get_the_engines_message(qtbot, make_window, photos: Path):
    # A real model whose weights are not cached, with downloads disallowed (tests are offline).
    window = make_window("vit-b-32")
    assert not window.state.library.encoder.loaded
    failed = []
    window.loader.failed.connect(failed.append)
    window.add_folders([str(photos)])
    qtbot.waitUntil(lambda: bool(failed), timeout=30_000)
    message = window.search_page.message_bar.message()
    assert "The model could not be loaded" in message and "--weights FILE" in message
    assert not window.indexing.running and not window.indexing_bar.isVisible()
    # A search needs the model too: it says so instead of hanging.
    window.search_page.search_bar.field.setText("beach")
    window.search_page.search_bar.search_now()
    qtbot.waitUntil(lambda: len(failed) == 2, timeout=30_000)
    assert not window.search_page.searching


def test_download_progress_dialog_shows_bytes_and_closes_when_loaded(qtbot, window):
    window.loader.download_progress.emit(5_000_000, 20_000_000)
    dialog = window.download_dialog
    assert dialog is not None and dialog.isVisible()
    assert "5.0 MB of 20.0 MB" in dialog.labelText()
    assert abs(dialog.value() / dialog.maximum() - 0.25) < 0.01
    window.loader.download_progress.emit(20_000_000, 20_000_000)
    assert "Loading" in dialog.labelText()
    window.loader.ready.emit()
    assert window.download_dialog is None and not dialog.isVisible()


def test_unreadable_files_are_counted_and_listed_with_reasons(qtbot, window, photos: Path):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 20)
    (photos / "empty.png").write_bytes(b"")
    report = add_and_index(qtbot, window, photos)
    assert (report.added, report.failed) == (12, 2)
    status = window.status
    qtbot.waitUntil(lambda: status.failures.isVisible(), timeout=WAIT_MS)
    assert "2 could not be indexed" in status.failures.text()
    qtbot.mouseClick(status.failures, Qt.MouseButton.LeftButton)
    dialog = window.failures_dialog
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=WAIT_MS)
    rows = {Path(dialog.table.item(r, 0).text()).name: dialog.table.item(r, 1).text() for r in range(2)}
    assert set(rows) == {"broken.jpg", "empty.png"}
    assert "empty" in rows["empty.png"] and rows["broken.jpg"]
    dialog.close()


def test_thumbnails_are_cached_on_disk_under_the_data_home(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    page = window.search_page
    qtbot.waitUntil(lambda: len(page.results_model.results()) == 12, timeout=INDEX_TIMEOUT_MS)
    index = page.results_model.index(0)
    qtbot.waitUntil(lambda: index.data(Qt.ItemDataRole.DecorationRole) is not None, timeout=10_000)
    result = page.results_model.results()[0]
    cached = window.thumbnails.thumbnails.cached(result.content_hash)
    assert cached.is_file() and cached.is_relative_to(window.state.library.paths.thumbnails)
