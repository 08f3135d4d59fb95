"""The model dialog: pick a model, the switch runs in the background, delete the old space."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.model_dialog import ModelDialog, ModelSwitch
from app.state import AppState
from app.worker import Jobs
from tests.conftest import run_all
from tests.factories import make_library

A, B = "tiny-test--random-seed0", "tiny-test-b--random-seed1"


def test_switching_model_from_the_dialog_then_deleting_the_old_space(qtbot, library, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=3, size=(64, 48))
    run_all(library.index_folders([tmp_path / "pics"]))
    state = AppState(library, Jobs())
    switch = ModelSwitch(state)
    dialog = ModelDialog(state, switch)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.spaces.count() == 1, timeout=10000)
    assert dialog.serving.text() == "tiny-test"

    dialog.combo.setCurrentIndex(dialog.combo.findData("tiny-test-b"))
    assert "another seed" in dialog.description.text()
    with qtbot.waitSignal(state.library_changed, timeout=60000):
        dialog.switch_button.click()
        assert not dialog.switch_button.isEnabled()  # one switch at a time
    assert library.space_id == B and library.index.count == 12
    qtbot.waitUntil(lambda: dialog.spaces.count() == 2, timeout=10000)
    assert dialog.serving.text() == "tiny-test-b"
    assert "searching with tiny-test-b" in dialog.status.text()

    dialog.spaces.setCurrentRow(0)  # the serving space cannot be deleted
    assert not dialog.delete_button.isEnabled()
    dialog.spaces.setCurrentRow(1)
    assert dialog.delete_button.isEnabled()
    def confirm() -> None:
        box = QApplication.activeModalWidget()  # held: a temporary wrapper would take the box with it
        assert isinstance(box, QMessageBox) and "re-embedding every photo" in box.text()
        box.button(QMessageBox.StandardButton.Yes).click()

    QTimer.singleShot(200, confirm)
    dialog.delete_button.click()
    qtbot.waitUntil(lambda: dialog.spaces.count() == 1, timeout=10000)
    assert [s.id for s in library.spaces()] == [B]
    assert state.jobs.shutdown()
