"""The indexing strip under the grid: progress (done/total, rate, time left), Cancel, Resume."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from engine.progress import format_eta


class IndexingBar(QFrame):
    """Hidden while idle; `Cancel` while running; `Resume` after a cancelled run."""

    cancel_requested = Signal()
    resume_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(240)
        self.bar.setMaximumHeight(10)
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.resume_button.clicked.connect(self.resume_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.resume_button)
        self.resume_button.hide()
        self.hide()

    def running(self, text: str = "Indexing: looking for photos…") -> None:
        self.label.setText(text)
        self.bar.setRange(0, 0)
        self.bar.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.resume_button.hide()
        self.show()

    def show_progress(self, event: object) -> None:
        """Show an engine Progress event."""
        phase = getattr(event, "phase", "")
        done, total = int(getattr(event, "done", 0)), int(getattr(event, "total", 0))
        if phase == "scanning":
            self.label.setText(f"Indexing: looking for photos… {done:,} found" if done else "Indexing: looking for photos…")
            self.bar.setRange(0, 0)
        elif phase == "embedding" and total:
            rate = float(getattr(event, "rate", 0.0))
            parts = [f"Indexing {done:,} of {total:,} photos"]
            if done:
                eta = getattr(event, "eta_s", None)
                parts += [f"{rate:.1f} photos/s", "estimating time left" if eta is None else f"{format_eta(eta)} left"]
            else:
                parts.append(getattr(event, "message", "") or "starting")
            self.label.setText(" · ".join(parts))
            self.bar.setRange(0, total)
            self.bar.setValue(done)

    def cancelling(self) -> None:
        self.label.setText("Stopping after the current batch…")
        self.cancel_button.setEnabled(False)

    def finished(self, report: object) -> None:
        """Hide, or offer to resume a cancelled run."""
        if report is not None and getattr(report, "cancelled", False):
            self.label.setText("Indexing paused: the photos indexed so far are searchable.")
            self.bar.hide()
            self.cancel_button.hide()
            self.resume_button.show()
            self.show()
        else:
            self.hide()
