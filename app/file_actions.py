"""What a person does with a photo file outside the app: open it, show it, copy its path."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence

from PySide6.QtCore import QMimeData, QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from shiboken6 import Shiboken


def open_in_viewer(path: str) -> bool:
    """Open the photo with the system's default viewer."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def show_in_file_manager(path: str) -> bool:
    """Reveal the file in the platform's file manager (selected where the platform can)."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])[0]
    if sys.platform == "win32":
        return QProcess.startDetached("explorer", ["/select,", os.path.normpath(path)])[0]
    if shutil.which("dbus-send"):  # the freedesktop file-manager interface selects the file
        uri = QUrl.fromLocalFile(path).toString()
        ok = QProcess.startDetached("dbus-send", [
            "--session", "--print-reply", "--dest=org.freedesktop.FileManager1",
            "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1.ShowItems",
            f"array:string:{uri}", "string:",
        ])[0]
        if ok:
            return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))


def file_mime(paths: Sequence[str]) -> QMimeData:
    """File URLs plus the paths as text: what file managers, editors and mail clients accept."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    mime.setText("\n".join(paths))
    return mime


def copy_paths(paths: Sequence[str]) -> None:
    """Put the paths on the clipboard (as text and as file URLs)."""
    QGuiApplication.clipboard().setMimeData(file_mime(paths))


def release_clipboard() -> None:
    """Before Python shuts down: leave what we copied on the clipboard as Qt's own object.

    The clipboard owns the QMimeData that `copy_paths` made in Python; Qt deletes it in its
    exit handlers, after the interpreter is gone, and that deletion calls back into Python
    (a segfault at exit). Re-setting the text makes Qt hold a copy it created itself; the
    paths stay pasteable as text (file URLs are dropped: Qt hands the clipboard to the
    desktop's clipboard manager as it exits, and text is what every manager keeps).
    """
    clipboard = QGuiApplication.clipboard()
    mime = clipboard.mimeData() if clipboard is not None else None
    if mime is None or not Shiboken.createdByPython(mime):
        return  # another program's content, or Qt's own object: nothing to fix
    clipboard.setText(mime.text())
