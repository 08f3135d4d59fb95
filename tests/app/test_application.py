"""`python main.py` with no command: the app runs around a library factory and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

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


QUIT_AFTER_COPY = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    import main
    from app.file_actions import copy_paths

    app = QApplication(sys.argv)

    def copy_and_quit():
        copy_paths(["/photos/a.jpg", "/photos/b.jpg"])  # what "Copy path" does
        QApplication.closeAllWindows()

    QTimer.singleShot(500, copy_and_quit)
    sys.exit(main.main(["--home", sys.argv[1], "--model", "tiny-test"]))
""")


def test_the_app_quits_cleanly_after_a_path_was_copied(tmp_path: Path):
    # Qt deletes the clipboard's contents after Python has shut down; made in Python, that
    # deletion used to crash the process on quit (exit code 139, a segfault).
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-c", QUIT_AFTER_COPY, str(tmp_path / "home")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
