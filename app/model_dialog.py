"""Choosing the image model: a dialog, and the background switch it starts.

    switch = ModelSwitch(state)            # one per window; owns the background job
    switch.resume()                        # at start-up: finish a switch left unfinished
    ModelDialog(state, switch, parent).open()

Switching re-embeds the library into the new model's space on a worker; searches keep
using the old space until every photo is in, then the library swaps over and
`state.library_changed` fires. Pausing (or quitting) keeps what is done: it resumes later.
Switching back to a space that is still complete is instant.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.state import AppState
from app.worker import Worker
from engine.indexer import IndexReport, Progress
from engine.spaces import ModelChoice, SpaceInfo
from engine.specs import ModelList

SPACE_ROLE = Qt.ItemDataRole.UserRole + 1


def switch_model(library, choice: ModelChoice | None, cancel: threading.Event) -> Iterator[Progress]:  # noqa: ANN001
    """Ask for `choice` (None: carry on with the pending switch) and build its space. Plain Python."""
    if choice is not None:
        outcome = library.request_model(choice)
        if outcome != "building":
            text = "already searching with" if outcome == "serving" else "switched instantly to"
            yield Progress("done", message=f"{text} {choice.key}", report=IndexReport())
            return
    yield from library.build_space(cancel)


class ModelSwitch(QObject):
    """The background model switch of one AppState (at most one at a time)."""

    progress = Signal(int, int, str)  # done, total, message
    finished = Signal(str)  # the closing message ("searching with X now", "paused ...")

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._job: Worker | None = None
        self._space_before = ""

    @property
    def running(self) -> bool:
        return self._job is not None

    def start(self, key: str) -> bool:
        """Switch to the model `key`; False if a switch is already running."""
        return self._start(ModelChoice(key))

    def resume(self) -> bool:
        """Carry on with a switch left unfinished (e.g. by quitting); False if there is none."""
        return self.state.library.target is not None and self._start(None)

    def pause(self) -> None:
        """Stop after the batch in flight; the work done is kept."""
        if self._job is not None:
            self._job.cancel()

    def _start(self, choice: ModelChoice | None) -> bool:
        if self._job is not None:
            return False
        self._space_before = self.state.library.space_id
        job = self.state.jobs.start(switch_model, self.state.library, choice, name="model switch")
        job.signals.progress.connect(self._on_progress)
        job.signals.result.connect(self._on_result)
        job.signals.error.connect(self._on_error)
        job.signals.finished.connect(self._on_finished)
        self._job = job
        return True

    def _on_progress(self, event: Progress) -> None:
        self.progress.emit(event.done, event.total, event.message or event.phase)

    def _on_result(self, event: Progress | None) -> None:
        message = event.message if event is not None else ""
        if self.state.library.space_id != self._space_before:
            self.state.library_changed.emit()  # scores and order change with the space
        self.state.status_message.emit(message)
        self.finished.emit(message)

    def _on_error(self, message: str) -> None:
        self.state.status_message.emit(f"model switch failed: {message}")
        self.finished.emit(message)

    def _on_finished(self) -> None:
        self._job = None


class ModelDialog(QDialog):
    """Pick the image model, follow the switch, delete spaces no longer wanted."""

    def __init__(self, state: AppState, switch: ModelSwitch, models: ModelList | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Image model")
        self.state, self.switch = state, switch
        self.models = models or state.library.models

        self.serving = QLabel()
        self.combo = QComboBox()
        for key, spec in self.models.specs.items():
            self.combo.addItem(key, key)
            self.combo.setItemData(self.combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
        self.description = QLabel(wordWrap=True)
        self.switch_button = QPushButton("Switch")
        self.pause_button = QPushButton("Pause")
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m photos")
        self.status = QLabel(wordWrap=True)
        self.spaces = QListWidget()
        self.delete_button = QPushButton("Delete space…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)

        form = QFormLayout()
        form.addRow("Searching with:", self.serving)
        pick = QHBoxLayout()
        pick.addWidget(self.combo, 1)
        pick.addWidget(self.switch_button)
        form.addRow("Model:", pick)
        form.addRow("", self.description)
        run = QHBoxLayout()
        run.addWidget(self.progress, 1)
        run.addWidget(self.pause_button)
        form.addRow("Re-embedding:", run)
        form.addRow("", self.status)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Embedding spaces (one per model; searches can switch back to a complete one instantly):"))
        layout.addWidget(self.spaces)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.delete_button)
        layout.addLayout(row)
        layout.addWidget(buttons)

        self.combo.currentIndexChanged.connect(self._show_description)
        self.switch_button.clicked.connect(self._switch)
        self.pause_button.clicked.connect(self.switch.pause)
        self.delete_button.clicked.connect(self._delete)
        self.spaces.currentItemChanged.connect(lambda *_: self._update_buttons())
        buttons.rejected.connect(self.reject)
        switch.progress.connect(self._on_progress)
        switch.finished.connect(self._on_finished)

        library = state.library
        pending = library.target.spec.key if library.target is not None else library.encoder.spec.key
        self.combo.setCurrentIndex(max(0, self.combo.findData(pending)))
        self._show_description()
        self.refresh()

    def refresh(self) -> None:
        """Re-read the spaces (on a worker: counting vectors is SQL, not for the GUI thread)."""
        self.serving.setText(self.state.library.encoder.spec.key)
        self._update_buttons()
        job = self.state.jobs.start(self.state.library.spaces, name="list spaces")
        job.signals.result.connect(self._show_spaces)

    def _show_spaces(self, infos: list[SpaceInfo]) -> None:
        self.spaces.clear()
        for info in infos:
            role = "searching" if info.serving else "being built" if info.building else "complete" if info.complete else "incomplete"
            detail = f"{info.embedded} photos" + (f", {info.missing} to go" if info.missing else "")
            item = QListWidgetItem(f"{info.model_key}  ({role}; {detail})  {info.id}")
            item.setData(SPACE_ROLE, info)
            self.spaces.addItem(item)
        self._update_buttons()

    def _show_description(self) -> None:
        key = self.combo.currentData()
        self.description.setText(self.models.specs[key].description if key in self.models.specs else "")

    def _update_buttons(self) -> None:
        running = self.switch.running
        self.switch_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        item = self.spaces.currentItem()
        info = item.data(SPACE_ROLE) if item is not None else None
        self.delete_button.setEnabled(info is not None and not info.serving and not running)
        if not running:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def _switch(self) -> None:
        key = self.combo.currentData()
        if self.switch.start(key):
            self.status.setText(f"preparing {key}; searches keep using {self.state.library.encoder.spec.key} meanwhile")
            self._update_buttons()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.status.setText(message)

    def _on_finished(self, message: str) -> None:
        self.status.setText(message)
        self.refresh()

    def _delete(self) -> None:
        item = self.spaces.currentItem()
        if item is None:
            return
        info: SpaceInfo = item.data(SPACE_ROLE)
        answer = QMessageBox.question(
            self,
            "Delete embedding space",
            f"Delete the space of {info.model_key}? Its {info.embedded} vectors and any text-tower "
            "versions taught on it go; your photos, captions and categories stay. Switching back "
            "to this model later means re-embedding every photo.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        job = self.state.jobs.start(self.state.library.delete_space, info.id, name="delete space")
        job.signals.result.connect(lambda _freed: self.refresh())
        job.signals.error.connect(self.status.setText)
