"""The app's folder watching: real watchdog events reach the GUI thread as AppState signals."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QThread
from sqlalchemy import select

from app.state import AppState
from app.watching import LibraryWatching
from app.worker import Jobs
from engine.catalog import Photo, delete_photos
from tests.conftest import run_all
from tests.factories import make_library, make_photo

FAST = dict(debounce_s=0.3, settle_s=0.1, poll_s=0.2)


def test_new_and_removed_photos_reach_the_gui_thread_as_signals(qtbot, library, tmp_path: Path):
    root = tmp_path / "pics"
    photos = make_library(root, per_concept=1, size=(64, 48))
    run_all(library.index_folders([root]))
    state = AppState(library, Jobs())
    watching = LibraryWatching(state, **FAST)
    messages, threads = [], []
    state.status_message.connect(messages.append)
    state.library_changed.connect(lambda: threads.append(QThread.currentThread()))

    with qtbot.waitSignal(watching.batch, timeout=30000) as first:
        watching.start()
    assert first.args[0].kind == "reconcile" and watching.running
    assert threads == []  # nothing changed while the app was closed: no refresh

    with qtbot.waitSignal(state.library_changed, timeout=30000):
        make_photo(root / "new.jpg", "green_noise", seed=9, size=(64, 48))
    assert any("added 1" in m for m in messages)
    assert threads == [QThread.currentThread()]  # delivered on the GUI thread
    assert str(root / "new.jpg") in {r.path for r in library.search("noise", limit=10)}

    with qtbot.waitSignal(state.library_changed, timeout=30000):
        shutil.rmtree(photos["red_stripes"][0].parent)
    assert library.status()["photos"] == 4

    with qtbot.waitSignal(watching.stopped, timeout=30000):
        watching.stop()
    assert not watching.running and state.jobs.running == []
    make_photo(root / "unseen.jpg", "red_stripes", seed=3, size=(64, 48))  # no longer watched
    qtbot.wait(800)
    assert library.status()["photos"] == 4


def test_reconcile_on_demand_finds_what_happened_unwatched(qtbot, library, tmp_path: Path):
    root = tmp_path / "pics"
    make_library(root, per_concept=1, size=(64, 48))
    run_all(library.index_folders([root]))
    state = AppState(library, Jobs())
    watching = LibraryWatching(state, **FAST)
    with qtbot.waitSignal(watching.batch, timeout=30000):
        watching.start()
    # The catalog disagrees with the disk in a way no event will ever report (as after
    # dropped events): a reconcile, asked for from the GUI, puts it right.
    with library.catalog.writing() as s:
        delete_photos(s, [s.scalar(select(Photo.id).limit(1))])
    assert library.status()["photos"] == 3
    with qtbot.waitSignal(watching.batch, timeout=30000, check_params_cb=lambda b: b.kind == "reconcile") as again:
        watching.reconcile()
    assert (again.args[0].report.added, again.args[0].report.unchanged) == (1, 3)
    assert library.status()["photos"] == 4
    watching.stop()
    assert watching.wait(10)
    qtbot.waitUntil(lambda: not watching.running, timeout=5000)
