"""The Teach view, driven like a person would: select, caption, edit, train, switch, roll back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.state import AppState
from app.teach_view import TeachView
from app.worker import Jobs
from engine.captions import list_captions
from engine.catalog import Photo
from engine.towers import BASE, TextTowers
from tests.conftest import OUTPUT, run_all
from tests.factories import make_library

WAIT_MS = 120_000


@pytest.fixture
def view(qtbot, library, tmp_path: Path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: a second thread only waits on a busy machine
    make_library(tmp_path / "pics", per_concept=6, size=(96, 72))
    run_all(library.index_folders([tmp_path / "pics"]))
    jobs = Jobs()
    state = AppState(library, jobs)
    widget = TeachView(state)
    qtbot.addWidget(widget)
    widget.resize(900, 900)
    widget.show()
    yield widget
    jobs.shutdown()
    torch.set_num_threads(threads)


def ids_of(library, concept: str) -> list[int]:  # noqa: ANN001
    with library.catalog.reading() as s:
        return [i for i, p in s.execute(select(Photo.id, Photo.path).order_by(Photo.path)) if f"/{concept}/" in p]


def caption_selection(qtbot, view: TeachView, ids: list[int], text: str) -> None:  # noqa: ANN001
    view.state.select(ids)
    qtbot.waitUntil(lambda: view.add_button.isEnabled())
    view.caption_edit.setText(text)
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sum(r.text == text for r in view.captions.rows) == len(ids), timeout=WAIT_MS)


def test_caption_edit_and_delete_through_the_view(qtbot, view: TeachView):
    lib = view.state.library
    red = ids_of(lib, "red_stripes")
    caption_selection(qtbot, view, red[:3], "Rex asleep")
    assert view.selection_label.text() == "3 photos selected" and view.caption_edit.text() == ""

    view.captions.setData(view.captions.index(0, 1), "Rex asleep on the sofa")
    qtbot.waitUntil(lambda: "Rex asleep on the sofa" in {c.text for c in list_captions(lib.catalog)}, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Rex asleep on the sofa" in {r.text for r in view.captions.rows}, timeout=WAIT_MS)

    view.caption_table.selectRow(0)
    qtbot.mouseClick(view.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(view.captions.rows) == 2, timeout=WAIT_MS)
    assert len(list_captions(lib.catalog)) == 2

    view.state.select(red[3:4])
    view.only_selection.setChecked(True)
    qtbot.waitUntil(lambda: view.captions.rows == [], timeout=WAIT_MS)


def test_train_shows_metrics_activates_and_rolls_back(qtbot, view: TeachView):
    lib = view.state.library
    caption_selection(qtbot, view, ids_of(lib, "red_stripes"), "a photo of zorblax")
    caption_selection(qtbot, view, ids_of(lib, "blue_checks"), "a photo of quendle")
    view.epochs.setValue(1)
    with qtbot.waitSignal(view.state.text_tower_changed, timeout=WAIT_MS) as activated:
        qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
        assert not view.train_button.isEnabled() and view.cancel_button.isEnabled()
    version = activated.args[0]
    assert version != BASE and lib.encoder.text_version == version
    assert view.metrics.item(0, 0) is not None and view.metrics.item(3, 1).text() not in ("", "n/a")
    assert version in view.train_status.text()
    qtbot.waitUntil(lambda: view.towers.rowCount() == 2 and view.towers.active == version, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: view.train_button.isEnabled())
    OUTPUT.mkdir(exist_ok=True)
    view.grab().save(str(OUTPUT / "teach_view.png"))

    view.tower_table.selectRow(0)  # the base tower
    with qtbot.waitSignal(view.state.text_tower_changed, timeout=WAIT_MS) as switched:
        qtbot.mouseClick(view.use_button, Qt.MouseButton.LeftButton)
    assert switched.args == [BASE] and lib.encoder.text_version == BASE
    with qtbot.waitSignal(view.state.text_tower_changed, timeout=WAIT_MS) as rolled:
        qtbot.mouseClick(view.rollback_button, Qt.MouseButton.LeftButton)
    assert rolled.args == [version] and TextTowers.of(lib).active() == version


def test_cancel_leaves_the_active_tower_alone(qtbot, view: TeachView):
    lib = view.state.library
    caption_selection(qtbot, view, ids_of(lib, "green_noise"), "a photo of frimpet")
    view.epochs.setValue(1000)  # long enough to be cancelled midway
    changed = []
    view.state.text_tower_changed.connect(changed.append)
    qtbot.mouseClick(view.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.progress.maximum() > 1 and view.progress.value() >= 3, timeout=WAIT_MS)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.train_button.isEnabled(), timeout=WAIT_MS)
    assert view.last_result is not None and view.last_result.cancelled
    assert "unchanged" in view.train_status.text()
    assert changed == [] and TextTowers.of(lib).versions() == [] and lib.encoder.text_version == BASE


def test_import_errors_are_shown_not_raised(qtbot, view: TeachView, tmp_path: Path):
    view.import_captions_file(str(tmp_path / "no-such.csv"))
    qtbot.waitUntil(lambda: "Could not do that" in view.train_status.text(), timeout=WAIT_MS)
    assert "cannot read" in view.train_status.text()
