"""The watcher with real watchdog events in temporary folders: batching, moves, drives, restarts."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

import engine.indexer
from engine.catalog import Failure, Folder, Photo, Vector
from engine.images import decode_for_model
from engine.watcher import Batch, Watcher
from tests.conftest import OUTPUT, run_all
from tests.factories import make_library, make_photo

FAST = dict(debounce_s=0.3, settle_s=0.1, poll_s=0.2, max_wait_s=20.0)


class Running:
    """A watcher's generator driven on a thread, its batches in a queue."""

    def __init__(self, library, **params) -> None:  # noqa: ANN001
        self.watcher = Watcher(library, **{**FAST, **params})
        self.cancel = threading.Event()
        self.batches: queue.Queue[Batch] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for event in self.watcher.run(self.cancel):
                if isinstance(event, Batch):
                    self.batches.put(event)
        except BaseException as exc:  # surfaced by the test, not lost on a thread
            self.error = exc
            raise

    def next(self, kind: str | None = None, timeout: float = 30.0) -> Batch:
        """The next batch (of `kind`), skipping others; fails the test after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0 and self.error is None, f"no {kind or ''} batch within {timeout}s ({self.error!r})"
            try:
                batch = self.batches.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if kind is None or batch.kind == kind:
                return batch

    def until(self, done, timeout: float = 30.0) -> list[Batch]:  # noqa: ANN001
        """Batches until `done(batches)` holds (a change may span two batches: watchdog
        reports a move out of a watched folder as a deletion about half a second later)."""
        batches = [self.next("changes", timeout)]
        while not done(batches):
            batches.append(self.next("changes", timeout))
        return batches

    def drain(self, quiet_s: float) -> list[Batch]:
        """Every batch arriving until none has come for `quiet_s`."""
        out = []
        while True:
            try:
                out.append(self.batches.get(timeout=quiet_s))
            except queue.Empty:
                return out

    def stop(self) -> None:
        self.cancel.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the watcher did not stop"
        assert self.error is None, self.error


@pytest.fixture
def watch():
    started: list[Running] = []

    def start(library, **params) -> Running:  # noqa: ANN001
        running = Running(library, **params)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


def photo_rows(library) -> dict[str, tuple[int, bytes]]:  # noqa: ANN001
    """path -> (photo id, vector bytes in the serving space)."""
    with library.catalog.reading() as s:
        rows = s.execute(
            select(Photo.path, Photo.id, Vector.vector)
            .join(Vector, Vector.photo_id == Photo.id)
            .where(Vector.space_id == library.space_id)
        ).all()
    return {r.path: (r.id, r.vector) for r in rows}


def test_a_200_file_copy_is_one_batch_and_becomes_searchable(library, watch, tmp_path: Path):
    root = tmp_path / "pics"
    make_library(root, per_concept=1)
    run_all(library.index_folders([root]))
    staging = tmp_path / "card"
    cards = [make_photo(staging / f"IMG_{i:04d}.jpg", "blue_checks", seed=i, size=(64, 48)) for i in range(200)]
    running = watch(library, debounce_s=1.0)
    assert running.next("reconcile").report.unchanged == 4

    (root / "DCIM").mkdir()
    for src in cards:  # as a file manager copies a camera card
        shutil.copy2(src, root / "DCIM" / src.name)
    last_write = time.monotonic()

    batch = running.next("changes")
    assert (batch.report.added, batch.report.failed, batch.report.removed) == (200, 0, 0)
    assert batch.events >= 200  # every event went into this one run
    assert running.drain(quiet_s=2.0) == []  # and no second run followed
    found = {r.path for r in library.search("checks", limit=500)}
    assert {str(root / "DCIM" / c.name) for c in cards} <= found
    latency = batch.finished_at - last_write
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "watcher-latency.txt").write_text(
        f"200-file copy, tiny-test model, debounce 1.0 s: last write -> searchable {latency:.2f} s "
        f"(indexing itself {batch.report.seconds:.2f} s)\n"
    )


def test_a_file_written_slowly_is_embedded_once_and_complete(library, watch, tmp_path: Path):
    root = tmp_path / "pics"
    root.mkdir()
    run_all(library.index_folders([root]))
    running = watch(library)
    running.next("reconcile")
    source = make_photo(tmp_path / "big.jpg", "yellow_rings", seed=7, size=(320, 240)).read_bytes()
    target = root / "download.jpg"
    with open(target, "wb") as f:  # a slow download: pauses longer than the debounce
        for start in range(0, len(source), len(source) // 4 + 1):
            f.write(source[start : start + len(source) // 4 + 1])
            f.flush()
            os.fsync(f.fileno())
            time.sleep(0.6)

    batches = [running.next("changes")]
    while str(target) not in photo_rows(library):
        batches.append(running.next("changes"))
    batches += running.drain(quiet_s=1.5)
    assert any(b.held for b in batches), "the half-written file was never held back"
    assert sum(b.report.added + b.report.updated for b in batches) == 1
    assert sum(b.report.failed for b in batches) == 0
    with library.catalog.reading() as s:
        assert s.scalar(select(Failure.path).where(Failure.path == str(target))) is None
    complete = library.encoder.encode_images(
        __import__("torch").from_numpy(decode_for_model(target, library.encoder.preprocess).pixels[None])
    )[0]
    stored = np.frombuffer(photo_rows(library)[str(target)][1], np.float16).astype(np.float32)
    assert float(stored @ complete) > 0.999


def test_renamed_files_and_folders_keep_ids_and_vectors(library, watch, tmp_path: Path):
    root, other = tmp_path / "pics", tmp_path / "other"
    photos = make_library(root, per_concept=2)
    other.mkdir()
    run_all(library.index_folders([root, other]))
    before = photo_rows(library)
    running = watch(library)
    running.next("reconcile")

    renamed = root / "red_stripes" / "renamed.jpg"
    os.rename(photos["red_stripes"][0], renamed)
    os.rename(root / "blue_checks", root / "checks-renamed")  # a folder: both its photos move
    across = other / "moved-across.jpg"
    shutil.move(photos["green_noise"][0], across)  # between two watched folders

    batches = running.until(lambda bs: sum(b.report.moved for b in bs) >= 4) + running.drain(quiet_s=1.0)
    moved = sum(b.report.moved for b in batches)
    assert (moved, sum(b.report.added for b in batches), sum(b.report.removed for b in batches)) == (4, 0, 0)
    after = photo_rows(library)
    assert after[str(renamed)] == before[str(photos["red_stripes"][0])]
    for old in photos["blue_checks"]:
        assert after[str(root / "checks-renamed" / old.name)] == before[str(old)]
    assert after[str(across)] == before[str(photos["green_noise"][0])]
    assert len(after) == len(before) == 8


def test_delete_and_moves_out_of_and_into_watched_folders(library, watch, tmp_path: Path):
    root, outside = tmp_path / "pics", tmp_path / "outside"
    photos = make_library(root, per_concept=2)
    outside.mkdir()
    run_all(library.index_folders([root]))
    running = watch(library)
    running.next("reconcile")

    photos["yellow_rings"][0].unlink()
    shutil.move(photos["blue_checks"][1], outside / "away.jpg")
    batches = running.until(lambda bs: sum(b.report.removed for b in bs) >= 2)
    batches += running.drain(quiet_s=1.0)
    assert sum(b.report.removed for b in batches) == 2 and sum(b.report.added for b in batches) == 0
    paths = {r.path for r in library.search("rings", limit=50)}
    assert str(photos["yellow_rings"][0]) not in paths and str(photos["blue_checks"][1]) not in paths

    shutil.move(outside / "away.jpg", root / "back.jpg")
    batches = running.until(lambda bs: sum(b.report.added for b in bs) >= 1) + running.drain(quiet_s=1.0)
    assert sum(b.report.added for b in batches) == 1 and sum(b.report.removed for b in batches) == 0
    assert str(root / "back.jpg") in {r.path for r in library.search("checks", limit=50)}
    assert library.status()["photos"] == 7


def test_a_folder_whose_root_vanishes_goes_offline_and_comes_back_intact(library, watch, tmp_path: Path):
    root = tmp_path / "drive" / "pics"
    make_library(root, per_concept=2)
    run_all(library.index_folders([root]))
    before = photo_rows(library)
    running = watch(library)
    running.next("reconcile")

    os.rename(root, tmp_path / "unplugged")  # the drive goes away, its files intact
    batch = running.next("offline")
    assert batch.report.removed == 0
    assert [f.online for f in library.folders()] == [False]
    results = library.search("stripes", limit=50)
    assert len(results) == 8 and not any(r.available for r in results)
    assert photo_rows(library) == before

    os.rename(tmp_path / "unplugged", root)  # plugged in again
    batch = running.next("online")
    assert (batch.report.removed, batch.report.added, batch.report.unchanged) == (0, 0, 8)
    assert [f.online for f in library.folders()] == [True]
    assert photo_rows(library) == before
    fresh = make_photo(root / "after.jpg", "red_stripes", seed=55, size=(64, 48))  # watched again, right paths
    assert running.next("changes").report.added == 1
    assert str(fresh) in photo_rows(library)
    assert all(r.available for r in library.search("stripes", limit=50))


def test_an_empty_mount_point_is_offline_not_a_mass_deletion(library, watch, tmp_path: Path, monkeypatch):
    root = tmp_path / "mnt"
    photos = make_library(root, per_concept=1)
    run_all(library.index_folders([root]))
    running = watch(library)
    running.next("reconcile")
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    # What an unmount looks like from the mount point: it is empty, and it is a folder of the
    # drive beneath, another device (mounting needs privileges tests may not have: the device
    # number is what changes, so that is what is changed here).
    mounted_on = engine.indexer.device_of(str(root))
    monkeypatch.setattr(engine.indexer, "device_of", lambda path: mounted_on + 1 if path == str(root) else os.stat(path).st_dev)
    for concept in photos:
        os.rename(root / concept, hidden / concept)
    running.next("offline")
    assert library.status()["photos"] == 4
    with library.catalog.reading() as s:
        assert s.scalars(select(Folder.online)).all() == [False]


def test_a_folder_emptied_on_purpose_is_emptied_in_the_library_too(library, tmp_path: Path):
    root = tmp_path / "pics"
    photos = make_library(root, per_concept=1)
    run_all(library.index_folders([root]))
    for concept in photos:  # the person deletes every photo; the folder stays, on its drive
        shutil.rmtree(root / concept)
    report = run_all(library.index_folders())
    assert report.removed == 4 and not report.offline
    assert library.status()["photos"] == 0 and [f.online for f in library.folders()] == [True]


def test_a_share_without_change_events_is_followed_by_polling(library, watch, tmp_path: Path):
    from watchdog.observers.polling import PollingObserver

    from engine.watcher import observer_for

    root = tmp_path / "share"
    make_library(root, per_concept=1)
    run_all(library.index_folders([root]))
    assert isinstance(observer_for(0.5)(), PollingObserver)
    running = watch(library, observer_factory=observer_for(0.5))  # `watch --polling 0.5`
    running.next("reconcile")
    new = make_photo(root / "from-the-nas.jpg", "green_noise", seed=9, size=(64, 48))
    os.rename(root / "red_stripes", root / "reds")
    batches = running.until(lambda b: sum(x.report.added for x in b) == 1 and sum(x.report.moved for x in b) == 1)
    assert sum(x.report.removed for x in batches) == 0  # the renamed folder kept its photos
    assert str(new) in photo_rows(library)


def test_start_up_reconciles_changes_made_while_not_watching(library, watch, tmp_path: Path):
    root = tmp_path / "pics"
    photos = make_library(root, per_concept=2)
    run_all(library.index_folders([root]))
    before = photo_rows(library)
    # While the app was closed: a rename, a deletion, a new photo and an edited one.
    os.rename(photos["red_stripes"][0], root / "renamed.jpg")
    photos["blue_checks"][0].unlink()
    make_photo(root / "new.jpg", "green_noise", seed=77, size=(64, 48))
    edited = photos["yellow_rings"][1]
    make_photo(edited, "blue_checks", seed=78, size=(160, 120))
    os.utime(edited, ns=(time.time_ns(), time.time_ns() + 10**9))

    running = watch(library)
    r = running.next("reconcile").report
    assert (r.moved, r.removed, r.added, r.updated) == (1, 1, 1, 1)
    after = photo_rows(library)
    assert after[str(root / "renamed.jpg")] == before[str(photos["red_stripes"][0])]
    assert after[str(edited)][0] == before[str(edited)][0] and after[str(edited)][1] != before[str(edited)][1]
    running.stop()
    assert (library.index.folder / f"index-{library.index.generation}.hnsw").is_file()  # saved on stop


def test_skipping_a_batch_keeps_what_it_committed_and_watching_goes_on(library, tmp_path: Path):
    root = tmp_path / "pics"
    root.mkdir()
    run_all(library.index_folders([root]))
    watcher = Watcher(library, **FAST)
    cancel = threading.Event()
    batches: queue.Queue[Batch] = queue.Queue()

    skips: list[bool] = []

    def drive() -> None:
        for event in watcher.run(cancel, reconcile=False):
            if isinstance(event, Batch):
                batches.put(event)
            elif event.phase == "embedding" and event.done > 0 and not skips:
                skips.append(True)
                watcher.skip_batch()  # the person pressed Cancel after the first commit

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    time.sleep(0.5)  # watching
    staging = tmp_path / "card"
    make_library(staging, per_concept=16, size=(64, 48))  # 64 photos: several commits
    shutil.copytree(staging, root / "import")
    skipped = batches.get(timeout=60)
    assert skipped.report.cancelled and 0 < skipped.report.added < 64
    assert library.status()["photos"] == skipped.report.added  # what it committed stays

    # Still watching: the next change is a batch of its own, and it also picks up the photos
    # the skipped one did not reach in that folder (they are in its scope).
    make_photo(root / "import" / "after.jpg", "green_noise", seed=5, size=(64, 48))
    later = batches.get(timeout=60)
    assert not later.report.cancelled and later.report.added == 64 - skipped.report.added + 1
    cancel.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert str(root / "import" / "after.jpg") in {r.path for r in library.search("noise", limit=100)}
