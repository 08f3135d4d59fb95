"""A progress dialog for the first download of model weights (bytes, with a size)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QWidget


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


class DownloadDialog(QProgressDialog):
    """Shown on the first progress report; closes itself when the download completes."""

    def __init__(self, model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setWindowTitle("Downloading the model")
        self.setLabelText(f"Downloading the weights of {model} (once; they are kept for next time)…")
        self.setCancelButton(None)  # the download cannot be interrupted cleanly mid-file
        self.setWindowModality(Qt.WindowModality.NonModal)  # browsing and folders stay usable
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setMinimumWidth(420)
        self.setRange(0, 0)

    def update_bytes(self, done: int, total: int) -> None:
        """Show `done` of `total` bytes (an unknown total shows a busy bar)."""
        if total > 0:
            # QProgressDialog counts in int: kilobytes keep multi-gigabyte files in range.
            self.setRange(0, max(1, total // 1024))
            self.setValue(min(done, total) // 1024)
            self.setLabelText(f"Downloading the weights of {self.model}: {_mb(done)} of {_mb(total)}")
        else:
            self.setLabelText(f"Downloading the weights of {self.model}: {_mb(done)}")
        if not self.isVisible():
            self.show()
        if total > 0 and done >= total:
            self.setLabelText(f"Loading {self.model}…")
