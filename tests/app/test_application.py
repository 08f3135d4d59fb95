"""`python main.py` with no command: the app runs around a library factory and exits cleanly."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app import run_app
from app.window import MainWindow
from engine.catalog import CatalogLocked


def test_run_opens_the_window_and_returns_when_it_is_closed(qtbot, make_library_obj):
    seen = []

    def close_window() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen.extend(windows)
        for w in windows:
            w.close()

    QTimer.singleShot(300, close_window)
    assert run_app(make_library_obj) == 0
    assert len(seen) == 1 and seen[0].windowTitle() == "LiT Photos"


def test_a_library_that_cannot_be_opened_gets_a_message_not_a_traceback(qtbot):
    messages = []

    def dismiss() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            messages.append(box.text())
            box.accept()
        else:
            QTimer.singleShot(50, dismiss)

    def locked():
        raise CatalogLocked("the catalog is being written by another LiT Photos process")

    QTimer.singleShot(50, dismiss)
    assert run_app(locked) == 1
    assert messages and "another LiT Photos process" in messages[0]
