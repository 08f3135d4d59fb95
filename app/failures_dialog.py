"""The list of files that could not be indexed, with the reason for each."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.state import AppState


class FailuresDialog(QDialog):
    """Loads the failures off the GUI thread (the list can be long) and shows them in a table."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files that could not be indexed")
        self.resize(820, 420)
        self.summary = QLabel("Loading…")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Reason", "When"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        job = state.jobs.start(state.library.failures, name="failures")
        job.signals.result.connect(self._show)
        job.signals.error.connect(lambda message: self.summary.setText(f"Cannot list the failures: {message}"))

    def _show(self, failures: list) -> None:
        self.summary.setText(
            f"{len(failures):,} file{'s' if len(failures) != 1 else ''} could not be indexed. "
            "They are retried when they change."
        )
        self.table.setRowCount(len(failures))
        for row, failure in enumerate(failures):
            for col, text in enumerate((failure.path, failure.reason, f"{failure.at:%Y-%m-%d %H:%M}")):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, col, item)
