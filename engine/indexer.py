"""Indexing: folders on disk -> catalog rows and vectors of the active space.

`Indexer.run()` is a generator of `Progress` events (the last one carries the report), so it
runs the same from the command line, a test or a Qt worker, and stops cleanly between batches
when its cancel event is set. Work is committed per batch: a killed run loses at most the
batch in flight, and the next run picks up what is missing.

    scan (stat only) -> diff against the catalog -> moves (by content hash), removals
      -> decode in a thread pool (draft JPEG, orient, crop) overlapped with batched inference
      -> one write transaction per batch: photo rows + float16 vectors + failures
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.catalog import (
    Catalog,
    Failure,
    Folder,
    Mount,
    Photo,
    Removal,
    Vector,
    bump_generation,
    delete_photos,
    ensure_space,
    pack_vector,
    path_key,
    prefix_range,
)
from engine.encoder import Encoder
from engine.images import Decoded, UnreadableImage, decode_for_model
from engine.scanner import FileEntry, MountPoint, ScanProblem, content_hash, walk
from engine.vector_index import VectorIndex
from engine.weights import weights_identity

# The failure recorded for a drive that was mounted inside a chosen folder and is not now.
DRIVE_NOT_CONNECTED = "drive not connected: nothing is mounted on this folder now"


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0  # files under the scanned folders that cannot be indexed (new or known)
    offline: list[str] = field(default_factory=list)  # folders whose root is missing
    cancelled: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "moved": self.moved,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "offline": self.offline,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Progress:
    phase: str  # 'scanning', 'embedding', 'done'
    done: int = 0
    total: int = 0
    rate: float = 0.0  # photos per second while embedding
    eta_s: float | None = None
    message: str = ""
    report: IndexReport | None = None  # set on the final event


@dataclass
class _Listing:
    """What a scan found on disk below one scope."""

    folder_id: int
    scope: str
    on_disk: dict[str, FileEntry] = field(default_factory=dict)
    problems: dict[str, ScanProblem] = field(default_factory=dict)
    mounts: dict[str, int] = field(default_factory=dict)  # drives mounted below the root now: path -> device
    forget: list[str] = field(default_factory=list)  # known mount points that are plain folders now


@dataclass(frozen=True)
class _Job:
    entry: FileEntry
    photo_id: int | None  # None: a new photo
    folder_id: int


@dataclass(frozen=True)
class _Done:
    job: _Job
    decoded: Decoded | None
    content_hash: str | None
    error: str | None  # a reason to record; None with decoded None means "vanished"


class Indexer:
    """Brings the catalog and the vector index of one space in line with the folders on disk."""

    def __init__(
        self,
        catalog: Catalog,
        encoder: Encoder,
        index: VectorIndex,
        batch_size: int = 16,
        decode_workers: int | None = None,
        save_every_s: float = 60.0,
        save_on_finish: bool = True,
    ) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self.index = index
        self.batch_size = batch_size
        self.decode_workers = decode_workers or max(1, (os.cpu_count() or 2) // 2)
        self.save_every_s = save_every_s
        # The watcher saves the graph on its own schedule: a save per small batch would
        # rewrite the whole file every few seconds.
        self.save_on_finish = save_on_finish
        self._hold: frozenset[str] = frozenset()

    # -- the whole run -------------------------------------------------------------------
    def run(
        self,
        scopes: Sequence[str | Path] | None = None,
        cancel: threading.Event | None = None,
        hold: Collection[str] = (),
    ) -> Iterator[Progress]:
        """Index every registered folder (or only `scopes`, paths inside them).

        Files in `hold` (still being written, says the watcher) are left exactly as the
        catalog has them: neither embedded nor, if absent, removed.
        """
        cancel = cancel or threading.Event()
        self._hold = frozenset(hold)
        started = time.monotonic()
        report = IndexReport()
        try:
            yield Progress("scanning", message="looking for photos")
            jobs = yield from self._scan(scopes, report, cancel)
            if not cancel.is_set() and jobs:
                yield from self._embed(jobs, report, cancel, started)
        finally:
            report.cancelled = cancel.is_set()
            report.seconds = time.monotonic() - started
            if self.save_on_finish:
                self.index.save()
        yield Progress("done", report.added + report.updated, report.added + report.updated, report=report)

    # -- scanning and diffing ------------------------------------------------------------
    def _scan(self, scopes, report: IndexReport, cancel: threading.Event) -> Iterator[Progress]:
        with self.catalog.reading() as s:
            folders = s.execute(select(Folder.id, Folder.path)).all()
        listings: list[_Listing] = []
        found = 0
        for folder_id, folder_path, scope in _targets(folders, scopes):
            if not root_available(self.catalog, folder_id, folder_path):
                # An unplugged drive or unmounted share: keep everything, mark it offline.
                with self.catalog.writing() as s:
                    s.execute(update(Folder).where(Folder.id == folder_id).values(online=False))
                if folder_path not in report.offline:
                    report.offline.append(folder_path)
                continue
            listing = _Listing(folder_id, scope)
            for item in walk(scope):
                if isinstance(item, FileEntry):
                    listing.on_disk[item.path] = item
                elif isinstance(item, MountPoint):
                    if item.path != folder_path:  # the root's own drive is root_available's business
                        listing.mounts[item.path] = item.device
                    continue
                else:
                    listing.problems[item.path] = item
                found += 1
                if found % 2000 == 0:
                    if cancel.is_set():
                        return []
                    yield Progress("scanning", done=found, message=f"{found} files found")
            for path in self._unmounted(listing, folder_path):
                listing.problems[path] = ScanProblem(path, DRIVE_NOT_CONNECTED, folder=True)
                if path not in report.offline:
                    report.offline.append(path)
            listings.append(listing)
        # All scopes are diffed together, so a move between two of them (a file dragged from
        # one watched folder to another) is recognised as a move and keeps its id.
        jobs = self._diff(listings, report)
        roots = dict(folders)
        # Read before the write: a stat of a slow share must not hold the catalog's write lock.
        devices = {folder_id: device_of(roots[folder_id]) for folder_id in {lst.folder_id for lst in listings}}
        with self.catalog.writing() as s:
            for folder_id, device in devices.items():
                values = dict(online=True, last_scan_at=datetime.now())
                if device is not None:
                    values["device"] = device
                s.execute(update(Folder).where(Folder.id == folder_id).values(**values))
            for listing in listings:
                for path, device in listing.mounts.items():
                    s.merge(Mount(path=path, folder_id=listing.folder_id, device=device))
                if listing.forget:
                    s.execute(delete(Mount).where(Mount.path.in_(listing.forget)))
        return jobs

    def _unmounted(self, listing: _Listing, folder_path: str) -> list[str]:
        """Known mount points, in or above the scope, whose drive is not there now.

        Unmounted, a mount point is an empty folder of the drive beneath (or it is gone, as
        with desktops that make one per drive): it looks like deleted photos. One that holds
        something on another device now is simply a folder again, or another drive.
        """
        scope = listing.scope
        low, high = prefix_range(scope)
        above = _ancestors(scope, folder_path)
        with self.catalog.reading() as s:
            known = s.execute(
                select(Mount.path, Mount.device).where(
                    Mount.folder_id == listing.folder_id,
                    (Mount.path >= low) & (Mount.path < high) | Mount.path.in_([path_key(p) for p in above]),
                )
            ).all()
        absent = []
        for path, device in known:
            if path in listing.mounts or device_of(path) == device:
                continue  # mounted (the same drive, or another one: its record is updated)
            if _empty_or_gone(path):
                absent.append(path)
            elif path not in above:
                listing.forget.append(path)  # a plain folder of the drive beneath now
        return absent

    def _diff(self, listings: list[_Listing], report: IndexReport) -> list[_Job]:
        jobs: list[_Job] = []
        new: list[tuple[FileEntry, int]] = []  # (entry, folder id)
        missing: dict[str, Any] = {}  # path -> catalog row
        failures: dict[str, Any] = {}
        problems: dict[str, tuple[ScanProblem, int]] = {}
        on_disk_paths: set[str] = set()
        embedded: set[int] = set()
        for listing in listings:
            known, in_embedded, in_failures = self._known(listing.scope)
            embedded |= in_embedded
            failures.update(in_failures)
            on_disk_paths.update(listing.on_disk)
            problems.update({p: (problem, listing.folder_id) for p, problem in listing.problems.items()})
            for path, entry in listing.on_disk.items():
                if path in self._hold:
                    continue
                row = known.get(path)
                if row is None:
                    new.append((entry, listing.folder_id))
                elif entry.size != row.size or entry.mtime_ns != row.mtime_ns:
                    if _known_failure(failures, entry):
                        report.failed += 1
                    else:
                        jobs.append(_Job(entry, row.id, listing.folder_id))
                elif row.id not in embedded:
                    jobs.append(_Job(entry, row.id, listing.folder_id))  # e.g. a new embedding space
                else:
                    report.unchanged += 1
            # Photos below a folder that could not be listed (permission denied, a stale mount)
            # are not missing: nobody could see whether they are still there. They stay, with
            # their captions and pins, shown unavailable while the folder's failure lasts.
            unreadable = tuple(p.rstrip("/") + "/" for p, problem in listing.problems.items() if problem.folder)
            missing.update(
                {
                    p: r
                    for p, r in known.items()
                    if p not in listing.on_disk and p not in self._hold and not p.startswith(unreadable)
                }
            )

        # Moves: a new path whose content hash is that of a missing photo keeps the photo's id.
        # Missing here, or anywhere else its file has vanished from: the two halves of a move
        # between folders can reach the watcher in different batches.
        moves: list[tuple[Any, FileEntry, int]] = []  # (old row, new entry, folder id)
        if new:
            by_hash: dict[str, list] = {}
            for row in missing.values():
                by_hash.setdefault(row.content_hash, []).append(row)
            hashed = []
            for entry, folder_id in new:
                try:
                    hashed.append((entry, folder_id, content_hash(entry.path, entry.size)))
                except FileNotFoundError:
                    continue  # vanished meanwhile
                except OSError as exc:  # there but unreadable (permission denied, I/O error)
                    reason = f"cannot read file: {exc.strerror or exc}"
                    problems[entry.path] = (ScanProblem(entry.path, reason, entry.size, entry.mtime_ns), folder_id)
            elsewhere = self._vanished_by_hash({d for *_, d in hashed if d not in by_hash}, set(missing))
            embedded |= self._embedded_among([r.id for rows in elsewhere.values() for r in rows])
            still_new = []
            for entry, folder_id, digest in hashed:
                rows = by_hash.get(digest) or elsewhere.get(digest)
                if rows:
                    row = rows.pop()
                    moves.append((row, entry, folder_id))
                    missing.pop(row.path, None)
                    if row.id not in embedded:
                        jobs.append(_Job(entry, row.id, folder_id))
                else:
                    still_new.append((entry, folder_id))
            new = still_new
        for entry, folder_id in new:
            if _known_failure(failures, entry):
                report.failed += 1
            else:
                jobs.append(_Job(entry, None, folder_id))

        gone_failures = [p for p in failures if p not in on_disk_paths and p not in problems]
        with self.catalog.writing() as s:
            # Another writer (the watcher, a second process) may have acted since we read:
            # every change below re-checks the row it is about inside this write.
            for row, entry, folder_id in moves:
                if s.scalar(select(Photo.id).where(Photo.path == entry.path)) is not None:
                    continue
                s.execute(
                    update(Photo)
                    .where(Photo.id == row.id, Photo.path == row.path)
                    .values(path=entry.path, folder_id=folder_id, mtime_ns=entry.mtime_ns, size=entry.size)
                )
            still_there = _unchanged_paths(s, {r.id: r.path for r in missing.values()})
            delete_photos(s, still_there)
            for path in gone_failures:
                s.execute(delete(Failure).where(Failure.path == path))
            for problem, folder_id in problems.values():
                previous = failures.get(problem.path)
                if previous is None or (previous.size, previous.mtime_ns) != (problem.size, problem.mtime_ns):
                    _record_failure(s, problem, folder_id)
        report.moved += len(moves)
        report.removed += len(still_there)
        report.failed += sum(1 for path in problems if path not in report.offline)  # a drive away is no failure
        return sorted(jobs, key=lambda j: j.entry.path)

    def _vanished_by_hash(self, digests: set[str], exclude: set[str]) -> dict[str, list]:
        """Photos with these content hashes, in online folders, whose file is no longer there."""
        found: dict[str, list] = {}
        ordered = sorted(digests)
        with self.catalog.reading() as s:
            for start in range(0, len(ordered), 900):
                rows = s.execute(
                    select(Photo.id, Photo.path, Photo.content_hash)
                    .join(Folder, Folder.id == Photo.folder_id)
                    .where(Photo.content_hash.in_(ordered[start : start + 900]), Folder.online.is_(True))
                ).all()
                for row in rows:
                    if row.path not in exclude and _vanished(row.path):
                        found.setdefault(row.content_hash, []).append(row)
        return found

    def _embedded_among(self, photo_ids: list[int]) -> set[int]:
        with self.catalog.reading() as s:
            return set(
                s.scalars(
                    select(Vector.photo_id).where(Vector.space_id == self.index.space_id, Vector.photo_id.in_(photo_ids))
                )
            ) if photo_ids else set()

    def _known(self, scope: str) -> tuple[dict[str, Any], set[int], dict[str, Any]]:
        """Catalog rows inside `scope`: photos by path, ids embedded in this space, failures."""
        low, high = prefix_range(scope)
        exact = path_key(scope)
        in_scope = (Photo.path >= low) & (Photo.path < high) | (Photo.path == exact)
        failed_in_scope = (Failure.path >= low) & (Failure.path < high) | (Failure.path == exact)
        with self.catalog.reading() as s:
            known = {
                r.path: r
                for r in s.execute(select(Photo.id, Photo.path, Photo.size, Photo.mtime_ns, Photo.content_hash).where(in_scope))
            }
            embedded = set(
                s.scalars(
                    select(Vector.photo_id)
                    .join(Photo, Photo.id == Vector.photo_id)
                    .where(in_scope, Vector.space_id == self.index.space_id)
                )
            )
            failures = {r.path: r for r in s.execute(select(Failure.path, Failure.size, Failure.mtime_ns).where(failed_in_scope))}
        return known, embedded, failures

    # -- embedding -----------------------------------------------------------------------
    def _embed(self, jobs: list[_Job], report: IndexReport, cancel: threading.Event, started: float) -> Iterator[Progress]:
        self.encoder.load()
        pre = self.encoder.preprocess
        with self.catalog.writing() as s:
            ensure_space(
                s,
                self.index.space_id,
                self.encoder.spec.key,
                weights_identity(self.encoder.spec, self.encoder.weights_file),
                self.index.dim,
            )
        total = len(jobs)
        done = 0
        embed_started = time.monotonic()
        last_save = embed_started
        yield Progress("embedding", 0, total, message="loading model")

        def work(job: _Job) -> _Done:
            try:
                decoded = decode_for_model(Path(job.entry.path), pre)
                digest = content_hash(job.entry.path, job.entry.size)
                return _Done(job, decoded, digest, None)
            except FileNotFoundError:
                return _Done(job, None, None, None)
            except UnreadableImage as exc:
                return _Done(job, None, None, str(exc))
            except OSError as exc:
                return _Done(job, None, None, f"cannot read file: {exc.strerror or exc}")
            except MemoryError:
                return _Done(job, None, None, "image too large for available memory")

        # Decoding runs ahead of inference by a bounded window, so memory stays flat.
        window = self.batch_size * 3
        with ThreadPoolExecutor(max_workers=self.decode_workers, thread_name_prefix="decode") as pool:
            pending: list[Future] = []
            queue = iter(jobs)
            for job in queue:
                pending.append(pool.submit(work, job))
                if len(pending) >= window:
                    break
            while pending:
                if cancel.is_set():
                    for f in pending:
                        f.cancel()
                    return
                batch_futures, pending = pending[: self.batch_size], pending[self.batch_size :]
                for job in queue:
                    pending.append(pool.submit(work, job))
                    if len(pending) >= window:
                        break
                results = [f.result() for f in batch_futures]
                self._commit(results, report)
                done += len(results)
                elapsed = time.monotonic() - embed_started
                rate = done / elapsed if elapsed > 0 else 0.0
                eta = (total - done) / rate if rate > 0 else None
                yield Progress("embedding", done, total, rate, eta, f"{done}/{total} photos")
                if time.monotonic() - last_save > self.save_every_s:
                    self.index.save()
                    last_save = time.monotonic()

    def _commit(self, results: list[_Done], report: IndexReport) -> None:
        good = [r for r in results if r.decoded is not None]
        vectors = (
            self.encoder.encode_images(_stack([r.decoded.pixels for r in good]))
            if good
            else np.zeros((0, self.index.dim), np.float32)
        )
        space_id = self.index.space_id
        ids: list[int] = []
        with self.catalog.writing() as s:
            generation = bump_generation(s, space_id)
            for r in results:
                entry = r.job.entry
                if r.error is not None:
                    _record_failure(s, ScanProblem(entry.path, r.error, entry.size, entry.mtime_ns), r.job.folder_id)
                    report.failed += 1
            for r, vec in zip(good, vectors):
                entry, info = r.job.entry, r.decoded.info
                values = dict(
                    folder_id=r.job.folder_id,
                    path=entry.path,
                    size=entry.size,
                    mtime_ns=entry.mtime_ns,
                    content_hash=r.content_hash,
                    width=info.width,
                    height=info.height,
                    format=info.format,
                    taken_at=info.taken_at or datetime.fromtimestamp(entry.mtime_ns / 1e9),
                    camera_make=info.camera_make,
                    camera_model=info.camera_model,
                    indexed_at=datetime.now(),
                )
                photo_id, added = _upsert_photo(s, r.job.photo_id, values, space_id)
                if added:
                    report.added += 1
                else:
                    report.updated += 1
                s.merge(Vector(photo_id=photo_id, space_id=space_id, vector=pack_vector(vec), generation=generation))
                s.execute(delete(Failure).where(Failure.path == entry.path))
                ids.append(photo_id)
        # After the commit: the in-memory graph follows the catalog, never leads it.
        if generation == self.index.generation + 1:
            self.index.add(np.asarray(ids, np.int64), vectors)
            self.index.generation = generation
        else:  # another process wrote meanwhile: catch up with everything, ours included
            self.index.sync(self.catalog)


def root_available(catalog: Catalog, folder_id: int, folder_path: str) -> bool:
    """False for a missing root, and for an empty one whose photos are on an absent drive.

    An unmounted share or drive often leaves its mount point behind as an empty folder;
    taking that emptiness at its word would delete every photo (and its captions). The
    mount point is a folder of the drive beneath, so its device differs from the one the
    photos were read from; a folder the person emptied themselves is still on that device.
    """
    try:
        with os.scandir(folder_path) as entries:
            if next(entries, None) is not None:
                return True
    except OSError:
        return False
    with catalog.reading() as s:
        if s.scalar(select(Photo.id).where(Photo.folder_id == folder_id).limit(1)) is None:
            return True  # nothing to lose
        last_device = s.scalar(select(Folder.device).where(Folder.id == folder_id))
    return last_device is not None and device_of(folder_path) == last_device


def _ancestors(path: str, root: str) -> list[str]:
    """`path` and the folders above it, up to but not including `root`."""
    out = []
    while path != root and path.startswith(root.rstrip("/") + "/"):
        out.append(path)
        path = os.path.dirname(path)
    return out


def _empty_or_gone(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return not any(not e.name.startswith(".") for e in entries)
    except OSError:
        return True


def device_of(path: str) -> int | None:
    """The file system (st_dev) a path is on; None when it cannot be read."""
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def _upsert_photo(s: Session, photo_id: int | None, values: dict, space_id: str) -> tuple[int, bool]:
    """Write a photo row inside the batch's transaction; (id, True when it is a new photo).

    The scan was read earlier, outside this write: another writer may have recorded the same
    path (an insert would collide) or deleted the row (an update would miss), so look again.
    """
    current = s.execute(
        select(Photo.id, Photo.size, Photo.mtime_ns).where(
            (Photo.id == photo_id) if photo_id is not None else (Photo.path == values["path"])
        )
    ).first()
    if current is None and photo_id is not None:
        current = s.execute(select(Photo.id, Photo.size, Photo.mtime_ns).where(Photo.path == values["path"])).first()
    if current is None:
        return s.execute(Photo.__table__.insert().values(**values)).inserted_primary_key[0], True
    if (current.size, current.mtime_ns) != (values["size"], values["mtime_ns"]):
        # The file's content changed: vectors of other spaces describe the old picture.
        _drop_other_spaces(s, current.id, space_id)
    s.execute(update(Photo).where(Photo.id == current.id).values(**values))
    return current.id, False


def _drop_other_spaces(s: Session, photo_id: int, keep_space: str) -> None:
    """Delete a photo's vectors outside `keep_space`, tombstoned so those indexes catch up."""
    others = s.scalars(select(Vector.space_id).where(Vector.photo_id == photo_id, Vector.space_id != keep_space)).all()
    for space_id in others:
        generation = bump_generation(s, space_id)
        s.merge(Removal(space_id=space_id, photo_id=photo_id, generation=generation))
        s.execute(delete(Vector).where(Vector.photo_id == photo_id, Vector.space_id == space_id))


def _unchanged_paths(s: Session, paths_by_id: dict[int, str]) -> list[int]:
    """Ids (of `paths_by_id`) whose row still has the path we saw (nobody moved it meanwhile)."""
    ids = list(paths_by_id)
    keep = []
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        for photo_id, path in s.execute(select(Photo.id, Photo.path).where(Photo.id.in_(chunk))):
            if path == paths_by_id[photo_id]:
                keep.append(photo_id)
    return keep


def _stack(arrays: list[np.ndarray]):  # noqa: ANN202 - torch.Tensor
    import torch

    return torch.from_numpy(np.stack(arrays))


def _vanished(path: str) -> bool:
    """True only when the file is known to be gone, not when it merely cannot be reached."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False  # permission denied, a stale mount: still there as far as we know
    return False


def _known_failure(failures: dict, entry: FileEntry) -> bool:
    row = failures.get(entry.path)
    return row is not None and row.size == entry.size and row.mtime_ns == entry.mtime_ns


def _record_failure(s: Session, problem: ScanProblem, folder_id: int | None) -> None:
    s.merge(
        Failure(
            path=problem.path, folder_id=folder_id, size=problem.size, mtime_ns=problem.mtime_ns,
            reason=problem.reason, at=datetime.now(), folder=problem.folder,
        )
    )


def _targets(folders, scopes) -> list[tuple[int, str, str]]:  # noqa: ANN001
    """(folder id, folder path, path to walk) for each registered folder or requested scope."""
    if scopes is None:
        return [(fid, fpath, fpath) for fid, fpath in folders]
    targets = []
    for scope in _outermost(os.path.abspath(str(scope)) for scope in scopes):
        owner = max(
            ((fid, fpath) for fid, fpath in folders if scope == fpath or scope.startswith(fpath.rstrip("/") + "/")),
            key=lambda f: len(f[1]),
            default=None,
        )
        if owner is not None:
            targets.append((owner[0], owner[1], scope))
    return targets


def _outermost(paths) -> list[str]:  # noqa: ANN001 - iterable of absolute paths
    """The paths that are not inside another one of them (walking those covers the rest)."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept
