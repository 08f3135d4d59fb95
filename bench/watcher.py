"""Watching: a 200-file copy into a watched folder, from its last write to searchable (tiny model).

Ours: `engine.watcher.Watcher` as the app runs it (app/watching.py passes no options, so
Watcher's defaults: 2 s debounce, 0.5 s settle) driven on a thread over a registered,
already-indexed folder, with real watchdog events in a temporary folder. The files are
copied in at once (`shutil.copy` from a staging folder outside the watched tree); we time
from the last write to the batch's commit and to a fresh `Library.search()` that returns
every new photo, and count the batches the copy became (one is the point of debouncing).
Baseline: the plain way, a naive watcher that runs one stand-alone indexing run per created
file (the library's own indexer over the folder, every other new file held back, the graph
saved after each run as a stand-alone run does), timed from the last write of its own copy
to all of them searchable. Second row: the copied folder renamed in place, which must keep
every id and vector and embed nothing.

The tiny-test model is used in every mode: what is measured is the watcher's own latency
(debounce, settle, batching), not the model, whose speed the indexing benchmark reports.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bench.model import bench_encoder
from bench.photos import write_photo
from bench.rows import row
from bench.sizes import sizes
from engine.catalog import Catalog, Photo, Vector
from engine.indexer import Progress
from engine.library import Library
from engine.paths import Paths
from engine.watcher import Batch, Watcher

PHOTO_SIZE = (320, 240)  # small JPEGs: decoding must not hide the watcher's own latency
BASE_PHOTOS = 8  # the folder is not empty when the copy arrives
WAIT_S = 120.0  # a batch that has not come by then is a failure, not a slow result


@dataclass
class _Seen:
    """One batch the watcher yielded, with how many photos it sent to the model."""

    batch: Batch
    embedded: int


class _Running:
    """The watcher's generator on its own thread (as the app's worker runs it); batches in a queue."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.cancel = threading.Event()
        self.seen: queue.Queue[_Seen] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="bench-watcher", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        embedded = 0
        try:
            for event in self.watcher.run(self.cancel):
                if isinstance(event, Batch):
                    self.seen.put(_Seen(event, embedded))
                    embedded = 0
                elif isinstance(event, Progress) and event.phase == "embedding":
                    embedded = event.total  # the indexer announces its jobs before the first one
        except BaseException as exc:  # noqa: BLE001 - surfaced on the benchmark's thread, not lost
            self.error = exc

    def next(self, timeout: float = WAIT_S) -> _Seen:
        """The next batch; raises if none comes within `timeout` or the watcher failed."""
        deadline = time.monotonic() + timeout
        while True:
            if self.error is not None:
                raise RuntimeError(f"the watcher failed: {self.error!r}") from self.error
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"no batch from the watcher within {timeout:.0f} s")
            try:
                return self.seen.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue

    def until(self, done: Callable[[list[_Seen]], bool], timeout: float = WAIT_S) -> list[_Seen]:
        """Batches until `done(batches)` holds (a change may span several batches)."""
        seen = [self.next(timeout)]
        while not done(seen):
            seen.append(self.next(timeout))
        return seen

    def drain(self, quiet_s: float) -> list[_Seen]:
        """Every batch arriving until none has come for `quiet_s`."""
        out = []
        while True:
            try:
                out.append(self.seen.get(timeout=quiet_s))
            except queue.Empty:
                return out

    def stop(self) -> None:
        """Cancel, and wait for the thread (the watcher stops its observer and saves the graph)."""
        self.cancel.set()
        self.thread.join(timeout=30)
        if self.thread.is_alive():
            raise RuntimeError("the watcher did not stop within 30 s")
        if self.error is not None:
            raise RuntimeError(f"the watcher failed: {self.error!r}") from self.error


def run(quick: bool) -> list[dict]:
    """Rows for a copy into a watched folder (against a naive per-file watcher) and a folder rename."""
    s = sizes(quick)
    n = s.watch_files
    work = Path(tempfile.mkdtemp(prefix="litphotos-bench-watcher-")).resolve()
    try:
        root, staging = work / "pictures", work / "card"  # the card is outside the watched tree
        for folder in (root / "older", staging / "plain", staging / "watched"):
            folder.mkdir(parents=True)
        for i in range(BASE_PHOTOS):
            write_photo(root / "older" / f"OLD_{i:04d}.jpg", *PHOTO_SIZE, seed=10_000 + i)
        plain_cards = [write_photo(staging / "plain" / f"IMG_{i:04d}.jpg", *PHOTO_SIZE, seed=i) for i in range(n)]
        watched_cards = [write_photo(staging / "watched" / f"DSC_{i:04d}.jpg", *PHOTO_SIZE, seed=n + i) for i in range(n)]
        paths = Paths(work / "home").ensure()
        library = Library(paths, Catalog(paths.catalog), bench_encoder(tiny=True))
        try:
            for _ in library.index_folders([root]):
                pass
            plain_s = _naive_watcher(library, plain_cards, root / "plain", BASE_PHOTOS + n)
            watcher = Watcher(library) if s.watch_debounce_s is None else Watcher(library, debounce_s=s.watch_debounce_s)
            running = _Running(watcher)
            try:
                running.until(lambda seen: seen[-1].batch.kind == "reconcile")
                copy = _watched_copy(library, running, watched_cards, root / "DCIM", BASE_PHOTOS + 2 * n)
                rename = _watched_rename(library, running, root / "DCIM", root / "DCIM-renamed", BASE_PHOTOS + 2 * n)
            finally:
                running.stop()
        finally:
            library.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    debounce = f"debounce {watcher.debounce_s:g} s ({'the app default' if s.watch_debounce_s is None else 'smoke-test setting'}), settle {watcher.settle_s:g} s"
    return [
        row(
            f"watcher: {n}-file copy, last write -> searchable", copy["searchable_s"], plain_s, "s",
            higher_is_better=False, target="1 batch", met=copy["batches"] == 1,
            note=f"{debounce}; committed {copy['committed_s']:.2f} s after the last write (indexing {copy['indexing_s']:.2f} s); "
            f"{copy['batches']} batch(es), {copy['events']} events, {copy['held']} held back; "
            f"baseline: naive watcher, {n} stand-alone indexing runs (one per created file, graph saved each), "
            f"last write -> all searchable; tiny-test model, {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEGs",
        ),
        row(
            f"watcher: {n}-photo folder renamed, last write -> searchable", rename["searchable_s"], None, "s",
            higher_is_better=False, target="0 re-embedded, ids kept", met=rename["embedded"] == 0 and rename["kept"],
            note=f"{debounce}; committed {rename['committed_s']:.2f} s after the rename; moved {rename['moved']}, "
            f"re-embedded {rename['embedded']}, ids and vectors kept: {'yes' if rename['kept'] else 'NO'}; "
            f"{rename['batches']} batch(es)",
        ),
    ]


def _copy(sources: list[Path], folder: Path) -> tuple[list[Path], float]:
    """Copy `sources` into `folder` as a file manager would; (the copies, time.monotonic() of the last write)."""
    folder.mkdir(parents=True)
    copies = [Path(shutil.copy(src, folder / src.name)) for src in sources]
    return copies, time.monotonic()


def _searchable(library: Library, paths: list[Path], total: int) -> bool:
    """Whether a fresh text query (every photo ranked) returns all of `paths`."""
    found = {r.path for r in library.search("a photo", limit=total)}
    return {str(p) for p in paths} <= found


def _wait_searchable(library: Library, paths: list[Path], total: int) -> float:
    """time.monotonic() once a fresh search returns all of `paths` (they were committed already)."""
    deadline = time.monotonic() + WAIT_S
    while not _searchable(library, paths, total):
        if time.monotonic() > deadline:
            raise RuntimeError("committed photos never became searchable")
        time.sleep(0.01)
    return time.monotonic()


def _naive_watcher(library: Library, cards: list[Path], folder: Path, total: int) -> float:
    """Seconds from the last write of a copy to all of it searchable, one indexing run per created file."""
    copies, last_write = _copy(cards, folder)
    for i in range(len(copies)):
        # The run that the creation of file i would trigger: that file only. The files after
        # it are held back (their events come later); the ones before are indexed already.
        later = {str(p) for p in copies[i + 1 :]}
        for _ in library.indexer().run([str(folder)], hold=later):
            pass
    if not _searchable(library, copies, total):
        raise RuntimeError("the naive watcher's photos are not all searchable")
    return time.monotonic() - last_write


def _watched_copy(library: Library, running: _Running, cards: list[Path], folder: Path, total: int) -> dict:
    """A copy into a watched folder: latencies to commit and to searchable, and the batches it became."""
    copies, last_write = _copy(cards, folder)
    n = len(copies)
    seen = running.until(lambda got: sum(x.batch.report.added for x in got) >= n)
    searchable_at = _wait_searchable(library, copies, total)
    last = seen[-1].batch
    seen += running.drain(quiet_s=running.watcher.debounce_s + running.watcher.settle_s + 0.5)  # any straggler
    return {
        "committed_s": last.finished_at - last_write,
        "searchable_s": searchable_at - last_write,
        "indexing_s": sum(x.batch.report.seconds for x in seen),
        "batches": len(seen),
        "events": sum(x.batch.events for x in seen),
        "held": sum(x.batch.held for x in seen),
    }


def _watched_rename(library: Library, running: _Running, old: Path, new: Path, total: int) -> dict:
    """The copied folder renamed in place: latencies, and whether every photo kept its id and vector."""
    before = _rows_under(library, old)
    os.rename(old, new)
    renamed_at = time.monotonic()
    seen = running.until(lambda got: sum(x.batch.report.moved for x in got) >= len(before))
    moved_paths = [new / os.path.relpath(p, old) for p in before]
    searchable_at = _wait_searchable(library, moved_paths, total)
    last = seen[-1].batch
    seen += running.drain(quiet_s=running.watcher.debounce_s + running.watcher.settle_s + 0.5)
    after = _rows_under(library, new)
    kept = len(after) == len(before) and all(after.get(str(p)) == before[old_path] for p, old_path in zip(moved_paths, before))
    return {
        "committed_s": last.finished_at - renamed_at,
        "searchable_s": searchable_at - renamed_at,
        "moved": sum(x.batch.report.moved for x in seen),
        "embedded": sum(x.embedded for x in seen),
        "kept": kept,
        "batches": len(seen),
    }


def _rows_under(library: Library, folder: Path) -> dict[str, tuple[int, bytes]]:
    """path -> (photo id, stored vector) of the photos inside `folder`, in the serving space."""
    prefix = str(folder) + os.sep
    with library.catalog.reading() as s:
        rows = s.execute(
            select(Photo.path, Photo.id, Vector.vector)
            .join(Vector, Vector.photo_id == Photo.id)
            .where(Vector.space_id == library.space_id)
        ).all()
    return {r.path: (r.id, r.vector) for r in rows if r.path.startswith(prefix)}
