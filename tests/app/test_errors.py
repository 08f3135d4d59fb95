"""Error states a person meets: missing model weights, a first download, unreadable files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt

from engine.library import FailureInfo
from app.window import WARM_UP_MS
from tests.app.conftest import INDEX_TIMEOUT_MS, STALL_S, WAIT_MS, add_and_index, longest_stall, settle


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
    model = dialog.table.model()
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=WAIT_MS)
    rows = {Path(model.index(r, 0).data()).name: model.index(r, 1).data() for r in range(2)}
    assert set(rows) == {"broken.jpg", "empty.png"}
    assert "empty" in rows["empty.png"] and rows["broken.jpg"]
    dialog.close()


def test_a_long_failures_list_opens_without_freezing_the_window(qtbot, window, monkeypatch):
    now = datetime.now()
    failures = [FailureInfo(f"/photos/scans/{i:06d}.jpg", "cannot identify image file", now) for i in range(100_000)]
    monkeypatch.setattr(window.state.library, "failures", lambda: failures)  # a large library's list
    qtbot.wait(WARM_UP_MS + 500)  # the window's own start-up work (importing the model code) is done
    settle(qtbot, window)
    dialog = window.show_failures()
    model = dialog.table.model()
    stall = longest_stall(qtbot, lambda: model.rowCount() == len(failures))
    assert stall < STALL_S, f"the window froze for {stall * 1000:.0f} ms"
    assert "100,000 files could not be indexed" in dialog.summary.text()
    assert model.index(99_999, 0).data() == "/photos/scans/099999.jpg"
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
