"""The list of files that could not be indexed, with the reason for each."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from app.rows_table_model import ObjectRole, RowsTableModel
from app.state import AppState
from engine.library import FailureInfo

FailureRole = ObjectRole  # the row's engine.library.FailureInfo


class FailuresModel(RowsTableModel):
    """Failures as rows: file, reason, when. Cells are formatted when painted, not up front."""

    HEADERS = ("File", "Reason", "When")

    rows: list[FailureInfo]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == FailureRole:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (row.path, row.reason, f"{row.at:%Y-%m-%d %H:%M}")[index.column()]
        return None


class FailuresDialog(QDialog):
    """Loads the failures off the GUI thread (the list can be long) and shows them in a table."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files that could not be indexed")
        self.resize(820, 420)
        self.summary = QLabel("Loading…")
        self.model = FailuresModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        # Fixed starting widths, not sized to contents: that would measure rows on the GUI
        # thread, and the list can hold every file of a large library.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(1, 300)
        header.resizeSection(2, 130)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        job = state.jobs.start(state.library.failures, name="failures")
        job.signals.result.connect(self._show)
        job.signals.error.connect(lambda message: self.summary.setText(f"Cannot list the failures: {message}"))

    def _show(self, failures: list[FailureInfo]) -> None:
        self.summary.setText(
            f"{len(failures):,} file{'s' if len(failures) != 1 else ''} could not be indexed. "
            "They are retried when they change."
        )
        self.model.set_rows(failures)
