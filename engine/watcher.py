"""Watching the registered folders: file-system events become a few batched indexing runs.

watchdog calls us on its own thread; that callback only notes which folders changed (and
which files are being written) under a lock. `Watcher.run()`, a generator like the indexer,
does the rest on the caller's thread:

    start: watch every folder whose root is there, then reconcile (a full stat-only scan:
           whatever changed while nobody watched)
    loop:  once no event has arrived for `debounce_s` (or changes have waited `max_wait_s`),
           hold back files still being written, and run the indexer over the changed
           folders only, all in one run (moves between them keep ids and vectors)
           every `poll_s`: a root that vanished is marked offline (nothing is deleted), one
           that came back is watched again and reconciled
    stop:  on `cancel`, between steps; the observer thread is joined, the graph saved

It yields `Progress("watching")` once every root is watched, the indexer's `Progress` events
while a batch runs, and one `Batch` per batch.
Nothing here knows about Qt: the app turns the yielded events into signals.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import select
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from engine.catalog import Folder
from engine.indexer import IndexReport, Indexer, Progress, root_available
from engine.scanner import is_photo_name

log = logging.getLogger(__name__)


def observer_for(polling_s: float | None) -> Callable[[], BaseObserver]:
    """The system's change events (inotify, FSEvents, ...), or with `polling_s` a look at every
    file's stat each `polling_s` seconds: for network shares, which send no change events."""
    return Observer if polling_s is None else partial(PollingObserver, timeout=polling_s)


@dataclass(frozen=True)
class Batch:
    """One indexing run the watcher made, and why."""

    kind: str  # 'reconcile' (start-up or asked for), 'changes', 'offline', 'online'
    scopes: tuple[str, ...]  # folders it looked at (empty: all)
    report: IndexReport
    events: int = 0  # file-system events coalesced into it
    held: int = 0  # files left for a later batch because they were still being written
    settled_at: float = 0.0  # time.monotonic() when the writes were judged settled
    finished_at: float = 0.0  # time.monotonic() when its changes were committed

    @property
    def changed(self) -> bool:
        r = self.report
        # r.offline: a drive mounted inside a folder is not there (its photos turn unavailable)
        return bool(r.added or r.updated or r.moved or r.removed or r.offline or self.kind in ("offline", "online"))

    @property
    def folders_back(self) -> bool:
        """A folder came back (a drive plugged in) or every folder was looked at again: a
        model switch waiting for photos out of reach may be able to finish now."""
        return self.kind in ("online", "reconcile")

    def summary(self) -> str:
        """The one log line of a batch."""
        r = self.report
        stamp = datetime.now().strftime("%H:%M:%S")
        where = {
            "reconcile": "reconciled every folder",
            "changes": f"{self.events} changes in {len(self.scopes)} folder(s)",
            "offline": "folder offline (photos kept, shown unavailable): " + ", ".join(self.scopes),
            "online": "folder back online: " + ", ".join(self.scopes),
        }[self.kind]
        line = (
            f"{stamp} {where}: added {r.added}, updated {r.updated}, moved {r.moved}, "
            f"removed {r.removed}, failed {r.failed} in {r.seconds:.1f}s"
        )
        if self.held:
            line += f" ({self.held} still being written, later)"
        if r.offline and self.kind != "offline":
            line += "; drive not connected (photos kept, shown unavailable): " + ", ".join(r.offline)
        return line


@dataclass
class _Pending:
    """What changed since the last batch (shared with watchdog's thread, under a lock)."""

    dirs: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    writing: dict[str, float] = field(default_factory=dict)  # modified, not yet closed: since when
    events: int = 0
    first_at: float = 0.0
    last_at: float = 0.0


class _Collector(FileSystemEventHandler):
    """watchdog's callback: note changed folders and files, nothing else (it runs on watchdog's thread)."""

    def __init__(self, note) -> None:  # noqa: ANN001 - Watcher._note
        self._note = note

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write") or (event.is_directory and kind == "modified"):
            return  # reads (the indexer's own included) and folder mtime bumps say nothing new
        paths = [os.fsdecode(event.src_path)]
        if getattr(event, "dest_path", ""):
            paths.append(os.fsdecode(event.dest_path))
        if not event.is_directory and not any(is_photo_name(os.path.basename(p)) for p in paths):
            return  # sidecars, temp files of a copy in progress (their rename comes later)
        # "events_lost" (the kernel's event queue overflowed) names the watched root as a
        # folder: noted as changed, that whole root is re-scanned (stat only), which catches up.
        self._note(paths, event.is_directory, kind)


class Watcher:
    """Keeps one library's catalog and serving index in line with its folders, while it runs."""

    def __init__(
        self,
        library,  # noqa: ANN001 - engine.library.Library (only its catalog, indexer and index are used)
        debounce_s: float = 2.0,
        settle_s: float = 0.5,
        max_wait_s: float = 30.0,
        poll_s: float = 5.0,
        open_write_max_s: float = 60.0,
        save_every_s: float = 300.0,
        observer_factory=Observer,  # noqa: ANN001 - e.g. watchdog's PollingObserver for shares without events
    ) -> None:
        self.library = library
        self.debounce_s = debounce_s  # quiet time after the last event before a batch
        self.settle_s = settle_s  # a file's size and mtime must not change across this
        self.max_wait_s = max_wait_s  # a long copy still gets batches this often
        self.poll_s = poll_s  # how often roots are checked (unplugged, back, newly added)
        self.open_write_max_s = open_write_max_s  # a file written without a close event for this long is taken as is
        self.save_every_s = save_every_s
        self.observer_factory = observer_factory
        self.observer: BaseObserver | None = None  # the one `run` started
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._skip = threading.Event()  # stop the batch in flight, keep watching
        self._pending = _Pending()
        self._reconcile_asked = False
        self._watches: dict[str, ObservedWatch] = {}

    # -- called from other threads -------------------------------------------------------
    def request_reconcile(self) -> None:
        """Ask for a full stat-only scan soon (thread-safe): e.g. after the person says so."""
        with self._lock:
            self._reconcile_asked = True
        self._wake.set()

    def skip_batch(self) -> None:
        """Stop the batch in flight after its current step (thread-safe); watching goes on.

        What it committed stays. Photos it did not reach are found by the next reconcile
        (at the next start, or when asked for), as after a cancelled `index` run.
        """
        self._skip.set()

    def _note(self, paths: list[str], is_directory: bool, kind: str) -> None:
        now = time.monotonic()
        with self._lock:
            p = self._pending
            for path in paths:
                if is_directory:
                    p.dirs.add(path)  # created, deleted or moved: everything below it
                else:
                    p.dirs.add(os.path.dirname(path))
                    p.files.add(path)
                    if kind == "modified":
                        p.writing.setdefault(path, now)
                    elif kind in ("closed", "deleted", "moved"):
                        p.writing.pop(path, None)
            if not p.events:
                p.first_at = now
            p.events += 1
            p.last_at = now
        self._wake.set()

    # -- the loop ------------------------------------------------------------------------
    def run(self, cancel: threading.Event | None = None, reconcile: bool = True) -> Iterator[Progress | Batch]:
        """Watch until `cancel` is set: yields indexing progress and one `Batch` per batch."""
        cancel = cancel or threading.Event()
        observer = self.observer = self.observer_factory()
        observer.start()
        last_save = time.monotonic()
        saved_generation = self.library.index.generation
        try:
            self._poll_roots(observer, initial=True)
            yield Progress("watching", len(self._watches), message=f"watching {len(self._watches)} folder(s)")
            if reconcile:
                yield from self._batch("reconcile", None, cancel)
            next_poll = time.monotonic() + self.poll_s
            while not cancel.is_set():
                self._wake.wait(timeout=min(self.poll_s, max(self.debounce_s / 4, 0.05)))
                self._wake.clear()
                if cancel.is_set():
                    break
                if time.monotonic() >= next_poll:
                    for kind, root in self._poll_roots(observer):
                        yield from self._batch(kind, [root], cancel)
                    next_poll = time.monotonic() + self.poll_s
                with self._lock:
                    asked, self._reconcile_asked = self._reconcile_asked, False
                if asked:
                    yield from self._batch("reconcile", None, cancel)
                if self._due():
                    yield from self._changes(cancel)
                index = self.library.index
                if index.generation != saved_generation and time.monotonic() - last_save > self.save_every_s:
                    index.save()
                    saved_generation, last_save = index.generation, time.monotonic()
        finally:
            observer.stop()
            observer.join(timeout=10)
            self._watches.clear()
            index = self.library.index
            if index.generation != saved_generation:
                index.save()

    def _due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            p = self._pending
            if not p.events:
                return False
            return now - p.last_at >= self.debounce_s or now - p.first_at >= self.max_wait_s

    def _changes(self, cancel: threading.Event) -> Iterator[Progress | Batch]:
        with self._lock:
            taken, self._pending = self._pending, _Pending(writing=self._pending.writing)
        held = self._still_written(taken, cancel)
        if cancel.is_set():
            self._requeue(taken, taken.files)
            return
        if held:
            self._requeue(taken, held)
        settled_at = time.monotonic()
        yield from self._batch("changes", sorted(taken.dirs), cancel, hold=held, events=taken.events, settled_at=settled_at)

    def _still_written(self, taken: _Pending, cancel: threading.Event) -> set[str]:
        """Files whose writing has not finished: open for writing (no close event yet, and not
        for too long), or size or mtime changing across `settle_s`."""
        now = time.monotonic()
        with self._lock:
            # A "modified" with no close event (a chmod, a touch) must not hold a file forever.
            pending = self._pending
            pending.writing = {p: t for p, t in pending.writing.items() if now - t < self.open_write_max_s}
            writing = {path for path in pending.writing if path in taken.files}
        before = {path: _stat(path) for path in taken.files}
        if any(before.values()):
            cancel.wait(self.settle_s)
        changing = {path for path, st in before.items() if st is not None and _stat(path) != st}
        return writing | changing

    def _requeue(self, taken: _Pending, files: set[str]) -> None:
        now = time.monotonic()
        with self._lock:
            p = self._pending
            p.files |= files
            p.dirs |= {os.path.dirname(f) for f in files}
            if not p.events:
                p.first_at = now
            p.events += len(files)
            p.last_at = max(p.last_at, now)

    def _batch(
        self,
        kind: str,
        scopes: list[str] | None,
        cancel: threading.Event,
        hold: set[str] = frozenset(),  # type: ignore[assignment]
        events: int = 0,
        settled_at: float | None = None,
    ) -> Iterator[Progress | Batch]:
        settled_at = time.monotonic() if settled_at is None else settled_at
        # A fresh indexer each time: after a model switch it embeds into the new space.
        indexer = Indexer(self.library.catalog, self.library.encoder, self.library.index, save_on_finish=False)
        report = IndexReport()
        self._skip.clear()
        stop = _Either(cancel, self._skip)
        for event in indexer.run(scopes, stop, hold=hold - _gone(hold)):  # type: ignore[arg-type]
            if event.report is not None:
                report = event.report
            else:
                yield event
        batch = Batch(
            kind, tuple(scopes or ()), report, events, len(hold), settled_at, time.monotonic()
        )
        log.info(batch.summary())
        yield batch

    # -- roots ---------------------------------------------------------------------------
    def _poll_roots(self, observer: BaseObserver, initial: bool = False) -> list[tuple[str, str]]:
        """Watch roots that are there, stop watching vanished ones; ('offline'|'online', root) to index."""
        catalog = self.library.catalog
        with catalog.reading() as s:
            folders = s.execute(select(Folder.id, Folder.path, Folder.online)).all()
        registered = {path for _, path, _ in folders}
        todo: list[tuple[str, str]] = []
        for root in [r for r in self._watches if r not in registered]:  # `folders remove`
            self._unwatch(observer, root)
        for folder_id, root, online in folders:
            present = root_available(catalog, folder_id, root)
            if root in self._watches and not present:
                # Unplugged, unmounted, renamed away: inotify would follow the folder's inode
                # elsewhere and report wrong paths, so stop watching it at once.
                self._unwatch(observer, root)
                todo.append(("offline", root))
            elif root not in self._watches and present:
                self._watch(observer, root)
                if not initial and not online:
                    todo.append(("online", root))
            elif not present and online and not initial:
                todo.append(("offline", root))
        return todo

    def _watch(self, observer: BaseObserver, root: str) -> None:
        try:
            self._watches[root] = observer.schedule(_Collector(self._note), root, recursive=True)
        except OSError as exc:  # e.g. out of inotify watches: reconciliation still covers it
            log.warning("cannot watch %s: %s", root, exc)

    def _unwatch(self, observer: BaseObserver, root: str) -> None:
        watch = self._watches.pop(root, None)
        if watch is not None:
            try:
                observer.unschedule(watch)
            except (KeyError, OSError):  # its emitter already stopped when the folder went away
                pass
        with self._lock:  # events reported under the old paths are meaningless now
            prefix = root.rstrip("/") + "/"
            p = self._pending
            p.dirs = {d for d in p.dirs if not (d == root or d.startswith(prefix))}
            p.files = {f for f in p.files if not f.startswith(prefix)}


class _Either:
    """Set when either event is: the indexer only ever asks `is_set()`."""

    def __init__(self, first: threading.Event, second: threading.Event) -> None:
        self._events = (first, second)

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _gone(paths: set[str]) -> set[str]:
    """Held files that no longer exist: nothing to wait for, let the indexer see them gone."""
    return {p for p in paths if not os.path.lexists(p)}
