"""Starting the app: the QApplication, the library (opened cheaply), the window, the event loop."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from PySide6.QtWidgets import QApplication, QMessageBox

from app.file_actions import release_clipboard
from app.settings import open_settings
from app.state import AppState
from app.window import APP_NAME, MainWindow
from app.worker import Jobs
from engine.errors import expected_errors

log = logging.getLogger(__name__)


def build_window(library) -> MainWindow:  # noqa: ANN001 - engine.library.Library
    """A main window around an opened library (used by `run` and by the tests)."""
    state = AppState(library, Jobs())
    window = MainWindow(state, open_settings(library.paths.home))
    state.setParent(window)
    state.jobs.setParent(state)
    return window


def run(open_library: Callable[[], object]) -> int:
    """Open the library, show the window, run the event loop; returns the exit code."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("LiT Photos")
    app.setDesktopFileName("lit-photos")
    try:
        library = open_library()  # cheap: opens SQLite; the model and the index load later, off-thread
    except expected_errors() as exc:
        QMessageBox.critical(None, APP_NAME, f"The photo library cannot be opened:\n{exc}")
        return 1
    window = build_window(library)
    window.show()
    try:
        return app.exec()
    finally:
        window.shutdown()  # idempotent: closing the window already stopped the jobs
        library.close()
        release_clipboard()
