"""The Teach view: caption photos, train the text tower on the captions, switch versions.

Everything that touches the catalog, the model or the disk runs as a job (`state.jobs`);
slots only update widgets. Activating a version emits `state.text_tower_changed`, so search
and categories re-run their queries with the new words.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.rows_table_model import ObjectRole, RowsTableModel
from app.state import AppState
from engine.captions import CaptionInfo, add_captions, delete_captions, edit_caption, import_file, import_metadata, list_captions
from engine.progress import format_eta
from engine.towers import BASE, TextTowers, TowerInfo
from trainer.train import TrainConfig, TrainProgress, TrainResult, train


METRICS = (
    ("recall@1", "Held-out recall@1"),
    ("recall@5", "Held-out recall@5"),
    ("recall@10", "Held-out recall@10"),
    ("anchor_cosine", "Generic prompts: similarity to base"),
    ("anchor_top10_overlap", "Generic prompts: same top-10 results"),
)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


class CaptionTableModel(RowsTableModel):
    """Captions as rows: photo, caption (editable), source, split."""

    HEADERS = ("Photo", "Caption", "Source", "Split")
    edit_requested = Signal(int, str)  # caption id, new text: the view stores it in a job

    rows: list[CaptionInfo]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == ObjectRole:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return (row.path.rsplit("/", 1)[-1], row.text, row.source, "held out" if row.held_out else "train")[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.path if index.column() == 0 else None
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsEditable if index.column() == 1 else flags

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.EditRole or index.column() != 1:
            return False
        text = " ".join(str(value).split())
        row = self.rows[index.row()]
        if not text or text == row.text:
            return False
        self.edit_requested.emit(row.id, text)
        return True


class TowerTableModel(RowsTableModel):
    """Text-tower versions (base first): active mark, version, date, held-out recall, drift."""

    HEADERS = ("Active", "Version", "Created", "Recall@5 after", "Generic similarity")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[TowerInfo | None] = []  # None is the base tower
        self.active = BASE

    def set_versions(self, active: str, rows: list[TowerInfo]) -> None:
        self.beginResetModel()
        self.active, self.rows = active, [None, *rows]
        self.endResetModel()

    def version_at(self, row: int) -> str:
        item = self.rows[row]
        return BASE if item is None else item.id

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.rows[index.row()]
        if role == ObjectRole:
            return item
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        version = self.version_at(index.row())
        if item is None:
            values = ("●" if self.active == BASE else "", "base (pretrained)", "", "", "1.000")
        else:
            after = item.record.get("after", {})
            values = (
                "●" if version == self.active else "",
                version,
                item.created_at.strftime("%Y-%m-%d %H:%M"),
                _fmt(after.get("recall@5")),
                _fmt(after.get("anchor_cosine")),
            )
        return values[index.column()]


class _Reply(QObject):
    """Calls back on the GUI thread. A plain lambda connected to a worker's signal has no
    receiver object, so Qt would call it directly on the worker's thread."""

    def __init__(self, callback: Callable[[Any], Any], parent: QObject) -> None:
        super().__init__(parent)
        self.callback = callback

    @Slot(object)
    def deliver(self, result: Any) -> None:
        self.callback(result)


class TeachView(QWidget):
    """Constructed by the main window with the shared AppState."""

    title = "Teach"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.training = None  # the running training job, if any
        self.last_result: TrainResult | None = None
        # Refreshes run in a pool and may finish out of order: only the latest one is shown.
        self._requests = {"captions": 0, "versions": 0}

        # -- caption the selection --
        self.selection_label = QLabel()
        self.caption_edit = QLineEdit()
        self.caption_edit.setPlaceholderText('Words for the selected photos, e.g. "Rex" or "the cabin in winter"')
        self.add_button = QPushButton("Add caption")
        self.add_button.clicked.connect(self.add_caption)
        self.caption_edit.returnPressed.connect(self.add_caption)
        caption_row = QHBoxLayout()
        caption_row.addWidget(self.caption_edit, 1)
        caption_row.addWidget(self.add_button)
        caption_box = QGroupBox("Caption the selection")
        caption_layout = QVBoxLayout(caption_box)
        caption_layout.addWidget(self.selection_label)
        caption_layout.addLayout(caption_row)

        # -- captions --
        self.captions = CaptionTableModel(self)
        self.captions.edit_requested.connect(self.edit_caption)
        self.caption_table = QTableView()
        self.caption_table.setModel(self.captions)
        self.caption_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.caption_table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.caption_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.only_selection = QCheckBox("Only the selected photos")
        self.only_selection.toggled.connect(self.refresh_captions)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected_captions)
        self.import_file_button = QPushButton("Import file…")
        self.import_file_button.setToolTip("A CSV or JSON-lines file of path and caption")
        self.import_file_button.clicked.connect(self.choose_import_file)
        self.import_metadata_button = QPushButton("Import keywords and descriptions")
        self.import_metadata_button.setToolTip("From XMP (and .xmp sidecars), IPTC and EXIF: digiKam, Lightroom, darktable")
        self.import_metadata_button.clicked.connect(self.import_metadata)
        buttons = QHBoxLayout()
        for w in (self.only_selection, self.delete_button, self.import_file_button, self.import_metadata_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        captions_box = QGroupBox("Captions")
        captions_layout = QVBoxLayout(captions_box)
        captions_layout.addWidget(self.caption_table)
        captions_layout.addLayout(buttons)

        # -- train --
        defaults = TrainConfig()
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(defaults.epochs)
        self.unlocked = QSpinBox()
        self.unlocked.setRange(1, 48)
        self.unlocked.setValue(defaults.unlocked_blocks)
        self.guard = QCheckBox("Keep generic searches working")
        self.guard.setChecked(True)
        self.guard.setToolTip("Distillation toward the original text tower on generic prompts, and weight interpolation")
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_training)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.train_status = QLabel("Train the text tower on these captions. Photo vectors are not touched.")
        self.metrics = QTableWidget(len(METRICS), 2)
        self.metrics.setHorizontalHeaderLabels(["Before", "After"])
        self.metrics.setVerticalHeaderLabels([label for _, label in METRICS])
        self.metrics.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.metrics.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Every before/after row in view at once: the numbers are the point of a run.
        rows = sum(self.metrics.rowHeight(r) for r in range(self.metrics.rowCount()))
        self.metrics.setFixedHeight(rows + self.metrics.horizontalHeader().sizeHint().height() + 2 * self.metrics.frameWidth())
        settings = QHBoxLayout()
        for label, w in (("Epochs", self.epochs), ("Trained blocks", self.unlocked)):
            settings.addWidget(QLabel(label))
            settings.addWidget(w)
        settings.addWidget(self.guard)
        settings.addStretch(1)
        settings.addWidget(self.train_button)
        settings.addWidget(self.cancel_button)
        train_box = QGroupBox("Train")
        train_layout = QVBoxLayout(train_box)
        train_layout.addLayout(settings)
        train_layout.addWidget(self.progress)
        train_layout.addWidget(self.train_status)
        train_layout.addWidget(self.metrics)

        # -- versions --
        self.towers = TowerTableModel(self)
        self.tower_table = QTableView()
        self.tower_table.setModel(self.towers)
        self.tower_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tower_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tower_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.tower_table.doubleClicked.connect(lambda index: self.use_version(self.towers.version_at(index.row())))
        self.use_button = QPushButton("Use selected")
        self.use_button.clicked.connect(self.use_selected_version)
        self.rollback_button = QPushButton("Roll back")
        self.rollback_button.setToolTip("Go back to the version that was active before")
        self.rollback_button.clicked.connect(self.rollback)
        version_buttons = QHBoxLayout()
        version_buttons.addWidget(self.use_button)
        version_buttons.addWidget(self.rollback_button)
        version_buttons.addStretch(1)
        versions_box = QGroupBox("Text-tower versions")
        versions_layout = QVBoxLayout(versions_box)
        versions_layout.addWidget(self.tower_table)
        versions_layout.addLayout(version_buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(caption_box)
        layout.addWidget(captions_box, 2)
        layout.addWidget(train_box, 1)
        layout.addWidget(versions_box, 1)

        state.selection_changed.connect(self.on_selection)
        state.library_changed.connect(self.refresh_captions)
        state.text_tower_changed.connect(lambda _version: self.refresh_versions())
        self.on_selection(state.selection)
        self.refresh_versions()

    # -- helpers ---------------------------------------------------------------------------
    def _job(self, fn, *args, on_result=None, name: str = "") -> Any:  # noqa: ANN001
        """Start a job; its result goes to `on_result` on the GUI thread, its error to the status line."""
        job = self.state.jobs.start(fn, *args, name=name or getattr(fn, "__name__", "teach"))
        if on_result is not None:
            reply = _Reply(on_result, self)
            job.signals.result.connect(reply.deliver)
            job.signals.finished.connect(reply.deleteLater)
        job.signals.error.connect(self.show_error)
        return job

    def _latest(self, kind: str, show) -> Any:  # noqa: ANN001
        """A result handler that drops results of refreshes that a newer one has overtaken."""
        self._requests[kind] += 1
        request = self._requests[kind]
        return lambda result: show(result) if request == self._requests[kind] else None

    def show_error(self, message: str) -> None:
        self.train_status.setText(f"Could not do that: {message}")
        self.state.status_message.emit(message)

    # -- captions --------------------------------------------------------------------------
    def on_selection(self, photo_ids: list[int]) -> None:
        n = len(photo_ids)
        self.selection_label.setText(f"{n} photo{'s' if n != 1 else ''} selected" if n else "Select photos in the search results to caption them.")
        self.add_button.setEnabled(n > 0)
        self.refresh_captions()

    def refresh_captions(self) -> None:
        ids = list(self.state.selection) if self.only_selection.isChecked() else None
        self._job(list_captions, self.state.library.catalog, ids, on_result=self._latest("captions", self.captions.set_rows), name="captions")

    def add_caption(self) -> None:
        text = self.caption_edit.text().strip()
        if not text or not self.state.selection:
            return
        self._job(add_captions, self.state.library.catalog, list(self.state.selection), text, on_result=self._captions_added)

    def _captions_added(self, report) -> None:  # noqa: ANN001
        self.caption_edit.clear()
        self.state.status_message.emit(f"Captioned {report.added} photos")
        self.refresh_captions()

    def edit_caption(self, caption_id: int, text: str) -> None:
        self._job(edit_caption, self.state.library.catalog, caption_id, text, on_result=lambda _r: self.refresh_captions())

    def selected_captions(self) -> list[CaptionInfo]:
        rows = {i.row() for i in self.caption_table.selectionModel().selectedRows()}
        return [self.captions.rows[r] for r in sorted(rows)]

    def delete_selected_captions(self) -> None:
        ids = [c.id for c in self.selected_captions()]
        if ids:
            self._job(delete_captions, self.state.library.catalog, ids, on_result=lambda _n: self.refresh_captions())

    def choose_import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import captions", "", "Captions (*.csv *.jsonl *.json *.txt)")
        if path:
            self.import_captions_file(path)

    def import_captions_file(self, path: str) -> None:
        from pathlib import Path

        self._job(import_file, self.state.library.catalog, Path(path), on_result=self._imported, name="import captions")

    def import_metadata(self) -> None:
        self.import_metadata_button.setEnabled(False)
        job = self._job(import_metadata, self.state.library.catalog, on_result=self._imported, name="import metadata")
        job.signals.finished.connect(lambda: self.import_metadata_button.setEnabled(True))

    def _imported(self, report) -> None:  # noqa: ANN001
        message = f"Imported {report.added} captions for {report.photos} photos"
        if report.unknown:
            message += f"; {len(report.unknown)} paths are not in the library"
        if report.problems:
            message += f"; {len(report.problems)} entries could not be read"
        self.train_status.setText(message)
        self.state.status_message.emit(message)
        self.refresh_captions()

    # -- training --------------------------------------------------------------------------
    def config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs.value(), unlocked_blocks=self.unlocked.value(), guard=self.guard.isChecked())

    def start_training(self) -> None:
        if self.training is not None:
            return
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)  # busy until the first step says how many there are
        self.train_status.setText("Preparing…")
        job = self._job(train, self.state.library, self.config(), on_result=self._trained, name="train")
        job.signals.progress.connect(self._train_progress)
        job.signals.finished.connect(self._train_finished)
        self.training = job

    def cancel_training(self) -> None:
        if self.training is not None:
            self.training.cancel()
            self.cancel_button.setEnabled(False)
            self.train_status.setText("Cancelling…")

    def _train_progress(self, event: TrainProgress) -> None:
        if event.phase == "training":
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.step)
            left = "" if event.eta_s is None else f" · {format_eta(event.eta_s)} left"
            self.train_status.setText(f"Step {event.step}/{event.total} · loss {event.loss:.3f}{left}")
        elif event.result is None and event.message:
            self.train_status.setText(event.message[:1].upper() + event.message[1:] + "…")

    def _trained(self, event: TrainProgress) -> None:
        result = event.result
        if result is None:
            return
        self.last_result = result
        if result.cancelled:
            self.train_status.setText("Cancelled: the active text tower is unchanged.")
            return
        for row, (key, _label) in enumerate(METRICS):
            self.metrics.setItem(row, 0, QTableWidgetItem(_fmt(result.before.get(key))))
            self.metrics.setItem(row, 1, QTableWidgetItem(_fmt(result.after.get(key))))
        self.train_status.setText(
            f"New version {result.version} is active: {result.steps} steps in {result.seconds:.0f} s"
            f" (interpolation {result.alpha:g}). Roll back if searches got worse."
        )
        self.state.text_tower_changed.emit(result.version)

    def _train_finished(self) -> None:
        self.training = None
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0 if self.last_result is None or self.last_result.cancelled else 1)

    # -- versions --------------------------------------------------------------------------
    def refresh_versions(self) -> None:
        towers = TextTowers.of(self.state.library)
        show = self._latest("versions", lambda r: self.towers.set_versions(*r))
        self._job(lambda: (towers.active(), towers.versions()), on_result=show, name="versions")

    def use_selected_version(self) -> None:
        rows = self.tower_table.selectionModel().selectedRows()
        if rows:
            self.use_version(self.towers.version_at(rows[0].row()))

    def use_version(self, version: str) -> None:
        towers = TextTowers.of(self.state.library)
        self._job(towers.use, version, on_result=self.state.text_tower_changed.emit, name="use text tower")

    def rollback(self) -> None:
        towers = TextTowers.of(self.state.library)
        self._job(towers.rollback, on_result=self.state.text_tower_changed.emit, name="roll back text tower")
