"""The window keeps the library in sync by itself: watching, start-up reconcile, model switches."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.application import build_window
from engine.spaces import ModelChoice
from tests.app.conftest import INDEX_TIMEOUT_MS, WAIT_MS, add_and_index, search
from tests.conftest import run_all
from tests.factories import make_library, make_photo

B = "tiny-test-b--random-seed1"


def photo_ids(library) -> dict[str, int]:  # noqa: ANN001
    return {r.path: r.id for r in library.search("stripes", limit=100)}


def test_new_renamed_and_deleted_photos_show_up_without_pressing_anything(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    qtbot.waitUntil(lambda: window.watching.running, timeout=WAIT_MS)  # watching starts after the first run
    library = window.state.library
    before = photo_ids(library)

    new = photos / "from-camera" / "IMG_0001.jpg"
    with qtbot.waitSignal(window.state.library_changed, timeout=30_000):
        make_photo(new, "yellow_rings", seed=42, size=(96, 72))
    qtbot.waitUntil(lambda: "13 photos" in window.status.photos.text(), timeout=WAIT_MS)
    assert str(new) in search(qtbot, window, "rings")

    old = next(p for p in before if "red_stripes" in p)
    renamed = str(Path(old).with_name("renamed.jpg"))
    with qtbot.waitSignal(window.state.library_changed, timeout=30_000):
        Path(old).rename(renamed)
    after = photo_ids(library)
    assert old not in after and after[renamed] == before[old]  # same photo, same id, not re-embedded

    with qtbot.waitSignal(window.state.library_changed, timeout=30_000):
        new.unlink()
    qtbot.waitUntil(lambda: "12 photos" in window.status.photos.text(), timeout=WAIT_MS)
    assert str(new) not in search(qtbot, window, "rings")


def test_changes_made_while_the_app_was_closed_are_found_at_start(qtbot, make_library_obj, tmp_path: Path):
    root = tmp_path / "pics"
    made = make_library(root, per_concept=2, size=(96, 72))
    library = make_library_obj()
    run_all(library.index_folders([root]))
    library.close()
    # While the app is closed: one photo copied in, one deleted.
    added = make_photo(root / "later.jpg", "green_noise", seed=77, size=(96, 72))
    made["red_stripes"][0].unlink()

    window = build_window(make_library_obj())
    batches = []
    window.watching.batch.connect(batches.append)
    window.show()
    try:
        qtbot.waitUntil(lambda: bool(batches), timeout=30_000)  # once the model is warm: a stat-only reconcile
        report = batches[0].report
        assert batches[0].kind == "reconcile" and (report.added, report.removed, report.unchanged) == (1, 1, 7)
        qtbot.waitUntil(lambda: "8 photos" in window.status.photos.text(), timeout=30_000)
        library = window.state.library
        paths = {r.path for r in library.search("noise", limit=50)}
        assert str(added) in paths and str(made["red_stripes"][0]) not in paths
    finally:
        window.close()


def test_a_library_with_a_saved_category_watches_its_folders_from_the_start(qtbot, make_library_obj, tmp_path: Path):
    from engine.categories import Categories, CategoryDraft

    root = tmp_path / "pics"
    make_library(root, per_concept=2, size=(96, 72))
    library = make_library_obj()
    run_all(library.index_folders([root]))
    Categories(library).add(CategoryDraft("stripes", prompts=("stripes",)))  # its scores need the model
    library.close()

    window = build_window(make_library_obj())
    window.show()
    try:
        qtbot.waitUntil(lambda: "8 photos" in window.status.photos.text(), timeout=WAIT_MS)
        added = make_photo(root / "copied-in.jpg", "green_noise", seed=78, size=(96, 72))
        qtbot.waitUntil(lambda: "9 photos" in window.status.photos.text(), timeout=30_000)
        assert str(added) in {r.path for r in window.state.library.search("noise", limit=50)}
    finally:
        window.close()


def test_a_cancelled_run_is_not_finished_behind_the_persons_back_but_watching_goes_on(qtbot, window, tmp_path: Path):
    make_library(tmp_path / "many", per_concept=16, size=(96, 72))  # 64 photos: 4 batches
    bar = window.indexing_bar

    def cancel_after_first_batch(event) -> None:  # noqa: ANN001
        if event.phase == "embedding" and event.done > 0 and bar.cancel_button.isEnabled():
            bar.cancel_button.click()

    window.indexing.progress.connect(cancel_after_first_batch)
    with qtbot.waitSignal(window.indexing.finished, timeout=INDEX_TIMEOUT_MS) as first:
        window.add_folders([str(tmp_path / "many")])
    indexed = first.args[0].added
    assert 0 < indexed < 64
    library = window.state.library
    # The person stopped that run, not the following of their folders: watching starts, but
    # without the start-up reconcile, which would index the rest of what they cancelled.
    qtbot.waitUntil(lambda: window.watching.running, timeout=WAIT_MS)
    qtbot.wait(1500)
    assert library.status()["photos"] == indexed
    new = make_photo(tmp_path / "many" / "from-camera" / "IMG_0001.jpg", "yellow_rings", seed=42, size=(96, 72))
    qtbot.waitUntil(lambda: library.status()["photos"] == indexed + 1, timeout=30_000)
    assert str(new) in {r.path for r in library.search("rings", limit=100)}
    qtbot.wait(1500)
    assert library.status()["photos"] == indexed + 1


def test_switching_the_image_model_from_the_window_keeps_search_working(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    dialog = window.show_model_dialog()
    qtbot.waitUntil(lambda: dialog.spaces.count() == 1, timeout=WAIT_MS)
    dialog.combo.setCurrentIndex(dialog.combo.findData("tiny-test-b"))
    with qtbot.waitSignal(window.model_switch.finished, timeout=60_000):
        dialog.switch_button.click()
        assert window.state.library.space_id != B  # searches use the old space meanwhile
        assert len(search(qtbot, window, "stripes")) == 12
    assert window.state.library.space_id == B
    qtbot.waitUntil(lambda: window.status.model.text() == "Model: tiny-test-b", timeout=WAIT_MS)
    assert not window.status.switch.isVisible()
    assert len(search(qtbot, window, "stripes")) == 12
    dialog.close()


def test_a_switch_left_unfinished_resumes_when_the_app_starts(qtbot, make_library_obj, photos: Path):
    from engine.encoder import Encoder
    from engine.library import Library

    library = make_library_obj()
    run_all(library.index_folders([photos]))
    assert library.request_model(ModelChoice("tiny-test-b")) == "building"  # then the app quit
    library.close()

    # What main.compose() builds at the next start: the serving model plus the pending target.
    reopened = make_library_obj()
    target = Encoder(reopened.models.get("tiny-test-b"), reopened.paths.models, allow_download=False)
    resumed = Library(reopened.paths, reopened.catalog, reopened.encoder, target=target, models=reopened.models)
    window = build_window(resumed)
    window.show()
    try:
        with qtbot.waitSignal(window.model_switch.finished, timeout=60_000):
            pass  # the warm-up loads the model, then the switch resumes on its own
        assert resumed.space_id == B and resumed.index.count == 12
        qtbot.waitUntil(lambda: window.status.model.text() == "Model: tiny-test-b", timeout=WAIT_MS)
    finally:
        window.close()
        target.close()
    assert QApplication.activeModalWidget() is None


def test_looking_for_changes_regularly_is_a_menu_choice_that_is_remembered(qtbot, make_window, photos: Path):
    from watchdog.observers.polling import PollingObserver

    def observer(window):  # noqa: ANN001, ANN202
        qtbot.waitUntil(lambda: window.watching.running and window.watching.watcher.observer is not None, timeout=WAIT_MS)
        return window.watching.watcher.observer

    window = make_window()
    window.settings.setValue("watching/polling_s", 0.5)  # a share looked at twice a second, for the test
    add_and_index(qtbot, window, photos)
    assert not isinstance(observer(window), PollingObserver)  # change events, by default

    window.polling_action.trigger()  # File > Look for Changes Every 0.5 s (Network Folders)
    assert window.polling_action.isChecked()
    qtbot.waitUntil(lambda: isinstance(window.watching.watcher and window.watching.watcher.observer, PollingObserver), timeout=WAIT_MS)
    assert observer(window).timeout == 0.5
    new = photos / "from-the-nas.jpg"
    with qtbot.waitSignal(window.state.library_changed, timeout=30_000):
        make_photo(new, "green_noise", seed=9, size=(96, 72))
    qtbot.waitUntil(lambda: "13 photos" in window.status.photos.text(), timeout=WAIT_MS)
    window.close()

    again = make_window()  # the next start looks regularly too
    assert again.polling_action.isChecked() and "0.5 s" in again.polling_action.text()
    assert isinstance(observer(again), PollingObserver)
    again.polling_action.trigger()  # and off again: change events
    qtbot.waitUntil(
        lambda: again.watching.watcher is not None and again.watching.watcher.observer is not None
        and not isinstance(again.watching.watcher.observer, PollingObserver),
        timeout=WAIT_MS,
    )
    assert not again.polling_action.isChecked()


def test_a_switch_waiting_for_an_unplugged_drive_finishes_when_it_is_plugged_in(qtbot, window, tmp_path: Path):
    pics, drive = tmp_path / "pics", tmp_path / "drive"
    make_library(pics, per_concept=2, size=(64, 48))
    make_library(drive, per_concept=1, size=(64, 48))
    add_and_index(qtbot, window, pics)
    add_and_index(qtbot, window, drive)
    qtbot.waitUntil(lambda: window.watching.running, timeout=WAIT_MS)
    with qtbot.waitSignal(window.watching.batch, timeout=30_000, check_params_cb=lambda b: b.kind == "offline"):
        drive.rename(tmp_path / "unplugged")

    with qtbot.waitSignal(window.model_switch.finished, timeout=60_000) as waited:
        assert window.model_switch.start("tiny-test-b")
    assert "4 photos wait for a folder that is offline" in waited.args[0]
    assert window.state.library.space_id != B  # the old model keeps serving all 12 photos

    with qtbot.waitSignal(window.model_switch.finished, timeout=60_000) as done:
        (tmp_path / "unplugged").rename(drive)  # plugged in: no button to press
    assert "searching with tiny-test-b" in done.args[0]
    assert window.state.library.space_id == B and window.state.library.index.count == 12
