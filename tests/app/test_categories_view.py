"""The categories view with a real library, real jobs and real widgets (offscreen)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QItemSelectionModel, QMimeData, Qt
from PySide6.QtWidgets import QMessageBox, QPushButton
from sqlalchemy import select

from app.categories_view import PHOTO_IDS_MIME, CategoriesView, DryRun
from app.engine_loader import EngineLoader
from app.state import AppState
from app.worker import Jobs
from engine.catalog import Photo
from engine.categories import UNSORTED, Categories, CategoryDraft
from engine.export import Operation, Plan, plan_lines
from tests.app.conftest import STALL_S, longest_stall
from tests.conftest import OUTPUT, run_all
from tests.factories import make_library

WAIT = 20000


@pytest.fixture
def photos(library, tmp_path: Path) -> dict[str, list[Path]]:
    made = make_library(tmp_path / "pics", per_concept=3, size=(96, 72))
    run_all(library.index_folders([tmp_path / "pics"]))
    return made


@pytest.fixture
def view(qtbot, library, photos):
    jobs = Jobs()
    state = AppState(library, jobs)
    widget = CategoriesView(state, EngineLoader(state))
    qtbot.addWidget(widget)
    widget.resize(1100, 600)
    widget.show()
    qtbot.waitUntil(lambda: widget.overview is not None, timeout=WAIT)
    yield widget
    jobs.shutdown()


def wait(qtbot, view, predicate) -> None:
    """Wait for the view to reach a state; on timeout, say what its status line showed."""
    try:
        qtbot.waitUntil(predicate, timeout=WAIT)
    except Exception as exc:  # noqa: BLE001 - re-raised with the view's own words
        raise AssertionError(f"timed out; the view said: {view.status_label.text()!r}") from exc


def ids_of(library, paths) -> list[int]:
    with library.catalog.reading() as s:
        return [s.scalar(select(Photo.id).where(Photo.path == str(p))) for p in paths]


def counts(view) -> dict[str, int]:
    return {name: view.list_model.counts.get(name, 0) for name in view.list_model.names}


def test_a_new_category_previews_live_and_appears_in_the_list_with_its_count(view, library, photos, qtbot):
    reds = ids_of(library, photos["red_stripes"])
    assert view.list_model.names == [UNSORTED] and counts(view) == {UNSORTED: 12}
    view.name_edit.setText("reds")
    view.state.select(reds[:2])
    view.add_examples(view.examples_list, list(view.state.selection))
    # The preview follows the editor without saving anything.
    wait(qtbot, view, lambda: view.preview is not None and view.preview.name == "reds" and view.caught_model.rowCount() > 0)
    caught = {m.photo_id for m in view.caught_model.members}
    assert set(reds) <= caught
    assert view.border_model.rowCount() == 12  # every photo is near, on a 12-photo library
    assert Categories(library).all() == []

    view.save()
    wait(qtbot, view, lambda: "reds" in view.list_model.names)
    assert counts(view)["reds"] + counts(view)[UNSORTED] == 12
    assert counts(view)["reds"] == view.preview.caught
    assert Categories(library).get("reds").examples == tuple(sorted(str(p) for p in photos["red_stripes"][:2]))
    OUTPUT.mkdir(exist_ok=True)
    view.grab().save(str(OUTPUT / "categories_view.png"))


def test_the_model_is_left_to_the_engine_loader_until_the_view_is_shown(qtbot, library, photos, make_library_obj):
    Categories(library).add(CategoryDraft("stripes", prompts=("stripes",)))  # scoring it needs the model
    library.close()
    reopened = make_library_obj()  # the next start: nothing loaded yet
    jobs = Jobs()
    state = AppState(reopened, jobs)
    loader = EngineLoader(state)
    view = CategoriesView(state, loader)
    qtbot.addWidget(view)
    try:
        qtbot.wait(1500)
        # A hidden tab loads nothing by itself: a first-time download goes through the
        # loader (with its progress dialog) and the window learns the model is ready.
        assert not reopened.encoder.loaded and view.overview is None
        with qtbot.waitSignal(loader.ready, timeout=WAIT):
            view.show()
        wait(qtbot, view, lambda: view.overview is not None)
        assert view.list_model.names == ["stripes", UNSORTED] and sum(counts(view).values()) == 12
    finally:
        jobs.shutdown()


def test_threshold_moves_photos_between_caught_and_borderline_live(view, qtbot):
    view.name_edit.setText("anything")
    view.auto_check.setChecked(False)
    view.threshold_spin.setValue(1.0)
    wait(qtbot, view, lambda: view.preview is not None and view.preview.threshold == pytest.approx(1.0))
    assert view.preview.caught == 0 and view.caught_model.rowCount() == 0
    assert all("out" in view.border_model.index(r).data() for r in range(view.border_model.rowCount()))
    view.threshold_spin.setValue(-1.0)
    wait(qtbot, view, lambda: view.preview.threshold == pytest.approx(-1.0))
    assert view.preview.caught == 12 and view.caught_model.rowCount() == 12


def test_dropping_a_photo_on_a_category_pins_it(view, library, photos, qtbot):
    cats = Categories(library)
    cats.add(CategoryDraft("reds", examples=tuple(map(str, photos["red_stripes"])), threshold=-1.0))
    cats.add(CategoryDraft("blues", examples=tuple(map(str, photos["blue_checks"])), threshold=-1.0))
    view.state.categories_changed.emit()
    wait(qtbot, view, lambda: view.list_model.names == ["blues", "reds", UNSORTED])
    blue = ids_of(library, photos["blue_checks"][:1])[0]
    assert cats.assignment().category_of(blue) == "blues"
    before = counts(view)

    data = QMimeData()
    data.setData(PHOTO_IDS_MIME, f"[{blue}]".encode())
    target = view.list_model.index(view.list_model.row_of("reds"))
    assert not view.list_model.canDropMimeData(data, Qt.DropAction.CopyAction, -1, -1, view.list_model.index(2))  # Unsorted
    assert view.list_model.dropMimeData(data, Qt.DropAction.CopyAction, -1, -1, target)
    wait(qtbot, view, lambda: counts(view)["reds"] == before["reds"] + 1)
    assert counts(view)["blues"] == before["blues"] - 1
    assert cats.assignment().category_of(blue) == "reds"


def test_unsorted_bucket_lists_what_no_category_takes(view, library, photos, qtbot):
    Categories(library).add(CategoryDraft("nothing", threshold=1.0))
    view.state.categories_changed.emit()
    wait(qtbot, view, lambda: "nothing" in view.list_model.names)
    view.select_category(UNSORTED)
    wait(qtbot, view, lambda: view.caught_model.rowCount() == 12)
    assert "Unsorted: 12" in view.preview_label.text()


def dry_run_of_everything(view, library, qtbot, dest: Path, mode: str) -> None:
    """A category that catches every photo, and its export's dry run shown."""
    Categories(library).add(CategoryDraft("everything", threshold=-1.0))
    view.state.categories_changed.emit()
    wait(qtbot, view, lambda: "everything" in view.list_model.names)
    view.start_export(str(dest), mode)
    wait(qtbot, view, lambda: view.export_dialog is not None and view.export_dialog.isVisible())


def test_export_shows_the_dry_run_first_then_does_exactly_it_and_undo_reverses_it(view, library, photos, qtbot, tmp_path: Path):
    dest = tmp_path / "out"
    dry_run_of_everything(view, library, qtbot, dest, "copy")
    plan = view.export_dialog.plan
    model = view.export_dialog.lines.model()
    shown = [model.index(row).data() for row in range(model.rowCount())]
    assert shown == plan_lines(plan) and shown[0] == f"create folder {dest}" and len(shown) == 1 + 1 + 12
    assert len(plan.operations) == 12 and not dest.exists()  # nothing touched before accepting

    view.export_dialog.export_button.click()
    wait(qtbot, view, lambda: (dest / "everything").is_dir() and len(os.listdir(dest / "everything")) == 12)
    assert sorted(os.listdir(dest / "everything")) == sorted(Path(o.target).name for o in plan.operations)
    # The result is said first; Export and Undo come back once the job is over.
    wait(qtbot, view, lambda: "Exported 12" in view.status_label.text() and view.undo_button.isEnabled())

    view.undo_button.click()  # asks first: Cancel leaves the export alone
    wait(qtbot, view, lambda: view.undo_box is not None and view.undo_box.isVisible())
    view.undo_box.button(QMessageBox.StandardButton.Cancel).click()
    assert len(os.listdir(dest / "everything")) == 12
    view.undo_button.click()
    wait(qtbot, view, lambda: view.undo_box.isVisible())
    view.undo_box.button(QMessageBox.StandardButton.Yes).click()
    wait(qtbot, view, lambda: not dest.exists())
    wait(qtbot, view, lambda: "Undone" in view.status_label.text())


def test_an_export_can_be_cancelled_from_its_progress_dialog(view, library, photos, qtbot, tmp_path: Path):
    dest = tmp_path / "out"
    dry_run_of_everything(view, library, qtbot, dest, "move")
    view.export_dialog.export_button.click()
    assert not view.export_button.isEnabled() and not view.undo_button.isEnabled()  # one export at a time
    (cancel,) = [b for b in view.progress_dialog.findChildren(QPushButton) if b.text() == "Cancel"]
    cancel.click()  # before its first photo: the job stops between photos
    wait(qtbot, view, lambda: "Export cancelled after 0 of 12 photos" in view.status_label.text())
    assert view.export_button.isEnabled() and view.undo_button.isEnabled()
    assert all(p.exists() for paths in photos.values() for p in paths)  # nothing moved


def test_a_dry_run_of_a_hundred_thousand_photos_shows_without_freezing_the_view(view, qtbot, monkeypatch, tmp_path: Path):
    dest = tmp_path / "out"
    operations = tuple(
        Operation("copy", "everything", i, f"/photos/2024/IMG_{i:06d}.jpg", f"{dest}/everything/IMG_{i:06d}.jpg") for i in range(100_000)
    )
    plan = Plan(str(dest), "copy", True, (f"{dest}/everything",), operations, ())

    def large_plan(*_args: object) -> DryRun:  # in the job, as a library of 100k photos would plan
        return DryRun(plan, plan_lines(plan))

    monkeypatch.setattr("app.categories_view.export_plan", large_plan)
    view.start_export(str(dest), "copy")
    stall = longest_stall(qtbot, lambda: view.export_dialog is not None and view.export_dialog.isVisible())
    assert stall < STALL_S, f"the view froze for {stall * 1000:.0f} ms"
    model = view.export_dialog.lines.model()
    assert model.rowCount() == 2 + 100_000
    assert model.index(model.rowCount() - 1, 0).data() == f"copy /photos/2024/IMG_099999.jpg -> {dest}/everything/IMG_099999.jpg"
    view.export_dialog.reject()


def test_a_text_tower_change_recomputes_the_list(view, library, photos, qtbot):
    Categories(library).add(CategoryDraft("stripes"))
    view.state.categories_changed.emit()
    wait(qtbot, view, lambda: "stripes" in view.list_model.names)
    assert view.overview.key[2] == "base"
    state = library.encoder.text_state()
    noise = torch.randn(state["text_projection"].shape, generator=torch.Generator().manual_seed(3))
    library.encoder.use_text_tower("v-test", {"text_projection": state["text_projection"] + 0.5 * noise})
    view.state.text_tower_changed.emit("v-test")
    wait(qtbot, view, lambda: view.overview.key[2] == "v-test")


def test_excluding_a_chosen_photo_takes_it_out_and_clearing_brings_it_back(view, library, photos, qtbot):
    cats = Categories(library)
    cats.add(CategoryDraft("reds", examples=tuple(map(str, photos["red_stripes"])), threshold=-1.0))
    cats.add(CategoryDraft("blues", examples=tuple(map(str, photos["blue_checks"])), threshold=-1.0))
    view.state.categories_changed.emit()
    wait(qtbot, view, lambda: "reds" in view.list_model.names)
    view.select_category("reds")
    wait(qtbot, view, lambda: view.preview is not None and view.preview.name == "reds" and view.caught_model.rowCount() == 12)
    red = ids_of(library, photos["red_stripes"][:1])[0]
    row = next(r for r in range(12) if view.caught_model.members[r].photo_id == red)
    view.caught_view.selectionModel().select(view.caught_model.index(row), QItemSelectionModel.SelectionFlag.Select)
    assert view.chosen_photos() == [red]
    view.exclude_chosen_button.click()
    wait(qtbot, view, lambda: view.preview is not None and red not in {m.photo_id for m in view.caught_model.members})
    assert cats.assignment().category_of(red) == "blues"
    view.caught_view.clearSelection()
    view.correct("reds", [red], "clear")
    wait(qtbot, view, lambda: red in {m.photo_id for m in view.caught_model.members})
    assert cats.assignment().category_of(red) == "reds"


def test_the_list_counts_every_category_a_photo_passes_when_exporting_into_all(view, library, qtbot):
    categories = Categories(library)
    categories.add(CategoryDraft("wide", prompts=("a photo",), threshold=-1.0))  # every photo passes both
    categories.add(CategoryDraft("wider", prompts=("an image",), threshold=-1.0))
    view.refresh()
    wait(qtbot, view, lambda: view.list_model.names == ["wide", "wider", UNSORTED])

    def shown() -> list[str]:
        return [view.list_model.index(row).data() for row in range(view.list_model.rowCount())]

    best = counts(view)
    assert best["wide"] + best["wider"] == 12 and best[UNSORTED] == 0  # each photo once, in its best
    assert shown() == [f"wide  ({best['wide']})", f"wider  ({best['wider']})", f"{UNSORTED}  (0)"]
    view.multi_check.setChecked(True)  # "Into every category it passes"
    assert shown() == ["wide  (12)", "wider  (12)", f"{UNSORTED}  (0)"]
    wait(qtbot, view, lambda: view.preview_label.text().startswith("Name a category"))  # the empty editor's hint
    OUTPUT.mkdir(exist_ok=True)
    view.grab().save(str(OUTPUT / "categories_view_multi.png"))
    tip = view.list_model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert f"{best['wide']} photos have it as their best category; 12 pass its threshold" in tip
    view.multi_check.setChecked(False)
    assert shown()[0] == f"wide  ({best['wide']})"
