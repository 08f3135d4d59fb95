"""Sorting out to disk: one folder per category under a destination, by copy, link or move.

    plan = plan_export(groups, dest, "move")          # pure: what would happen (the dry run)
    plan = plan_categories(categories, dest, "copy")  # the same, for saved categories
    plan_lines(plan)                                  # the dry run as people read it
    for event in Exporter(library).run(plan): ...     # exactly that, journalled
    for event in Exporter(library).undo(): ...        # the last export, reversed

Safety rules, in the order they are enforced:
- Nothing is written outside DEST: folder names are made safe, and every target's real
  parent folder is checked to be inside DEST's real path before anything is created.
- Nothing is overwritten: targets get unique names at planning time, and every file
  operation refuses an existing target (O_EXCL, link(2), symlink(2)); a move is a hard link
  then an unlink, or an exclusive copy then an unlink across drives.
- Everything can be undone, even after a crash: a journal line naming the operation is
  written and fsynced before it starts, and another when it is done. `undo` looks at the
  files themselves, so an operation cut short at any point is reversed correctly.
- A moved photo keeps its catalog id, vector and captions: its path is updated in the
  catalog, and DEST is registered as a library folder when it is not inside one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from engine.catalog import Folder, Photo, prefix_range

if TYPE_CHECKING:
    from engine.categories import Categories
    from engine.library import Library

MODES = ("copy", "hardlink", "symlink", "move")
MAX_NAME_BYTES = 100  # leaves room for " (N)" and stays far below every file system's 255
_UNSAFE = set('/\\:*?"<>|')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


class ExportError(RuntimeError):
    """An export or undo that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Operation:
    mode: str  # copy, hardlink, symlink or move
    category: str
    photo_id: int
    source: str
    target: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    category: str
    source: str
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """Everything an export will do, in order. A dry run prints it; a real run carries it out."""

    dest: str
    mode: str
    create_dest: bool  # DEST does not exist yet and will be created
    folders: tuple[str, ...]  # category folders to create, in order
    operations: tuple[Operation, ...]
    skipped: tuple[Skipped, ...]

    def as_dict(self) -> dict:
        return {
            "dest": self.dest,
            "mode": self.mode,
            "create_dest": self.create_dest,
            "folders": list(self.folders),
            "operations": [o.as_dict() for o in self.operations],
            "skipped": [s.as_dict() for s in self.skipped],
        }


@dataclass
class ExportReport:
    journal: str
    plan: Plan
    done: list[Operation] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)  # planned, but the file system said no
    registered_folder: str | None = None
    cancelled: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "journal": self.journal,
            "dest": self.plan.dest,
            "mode": self.plan.mode,
            "done": [o.as_dict() for o in self.done],
            "skipped": [s.as_dict() for s in self.plan.skipped],
            "failed": [s.as_dict() for s in self.failed],
            "registered_folder": self.registered_folder,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class UndoReport:
    journal: str
    restored: list[str] = field(default_factory=list)  # moved files back at their old paths
    removed: list[str] = field(default_factory=list)  # copies and links taken away
    kept: list[str] = field(default_factory=list)  # "path: why" for what was left alone
    folders_removed: list[str] = field(default_factory=list)
    cancelled: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ExportProgress:
    phase: str  # 'exporting' or 'undoing', then 'done'
    done: int = 0
    total: int = 0
    message: str = ""
    report: ExportReport | UndoReport | None = None  # set on the final event


# -- planning (pure, no writes) -------------------------------------------------------------
def safe_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """A folder name that is safe on every common file system and means the same to a person."""
    name = unicodedata.normalize("NFC", str(name))
    name = "".join("_" if c in _UNSAFE or ord(c) < 32 or ord(c) == 127 else c for c in name)
    name = " ".join(name.split())
    # Leading dots would hide the folder (and the scanner skips hidden folders); trailing dots
    # and spaces are dropped by Windows. '.' and '..' end up empty here.
    name = name.strip(". ")
    if not name:
        name = "category"
    if name.split(".")[0].strip().upper() in _RESERVED:
        name = "_" + name
    while len(name.encode("utf-8", "surrogateescape")) > limit:
        name = name[:-1].rstrip(". ")
    return name


def plan_export(groups: Mapping[str, Sequence[tuple]], dest: str | Path, mode: str) -> Plan:
    """What exporting `groups` (category -> [(photo id, path, ...)]) into DEST will do."""
    if mode not in MODES:
        raise ExportError(f"unknown export mode {mode!r}; choose one of: {', '.join(MODES)}")
    dest = os.path.abspath(os.path.expanduser(str(dest)))
    create_dest = not os.path.lexists(dest)
    if create_dest:
        if not os.path.isdir(os.path.dirname(dest)):
            raise ExportError(f"the folder that would hold {dest} does not exist")
    elif not os.path.isdir(dest):
        raise ExportError(f"not a folder: {dest}")
    dest_dev = os.stat(dest if not create_dest else os.path.dirname(dest)).st_dev

    folders: list[str] = []
    operations: list[Operation] = []
    skipped: list[Skipped] = []
    # Names of what is in DEST and is not a plain folder are never used, even in another case:
    # on a case-insensitive disk 'Reds' would be the link 'reds'.
    used_folders = {n.casefold() for n in _listdir(dest) if not _plain_dir(os.path.join(dest, n))}
    moved: dict[int, str] = {}
    for category, members in groups.items():
        folder = _folder_for(dest, safe_name(category), used_folders)
        taken = {n.casefold() for n in _listdir(folder)}
        for member in members:
            photo_id, source = int(member[0]), str(member[1])
            try:
                st = os.stat(source)
            except OSError:
                skipped.append(Skipped(category, source, "missing (deleted, or its drive is offline)"))
                continue
            if mode == "move" and photo_id in moved:
                skipped.append(Skipped(category, source, f"already moved to {moved[photo_id]}"))
                continue
            if mode in ("move", "hardlink") and os.path.dirname(source) == folder:
                skipped.append(Skipped(category, source, "already in this folder"))
                continue
            if mode == "hardlink" and st.st_dev != dest_dev:
                skipped.append(Skipped(category, source, "on another drive: hard links cannot cross drives (use copy)"))
                continue
            if folder not in folders and not os.path.isdir(folder):
                folders.append(folder)  # only categories with something to export get a folder
            target = os.path.join(folder, _unique_name(os.path.basename(source), taken))
            taken.add(os.path.basename(target).casefold())
            operations.append(Operation(mode, category, photo_id, source, target))
            if mode == "move":
                moved[photo_id] = category
    return Plan(dest, mode, create_dest, tuple(folders), tuple(operations), tuple(skipped))


def plan_categories(categories: Categories, dest: str | Path, mode: str, multi: bool = False, names: Sequence[str] | None = None) -> Plan:
    """What exporting saved categories (every one, or `names`) into DEST will do.

    With `multi`, a photo goes into every category it passes, not only its best one.
    """
    wanted = list(names) if names else [c.name for c in categories.all()]
    return plan_export(categories.groups(multi, wanted), dest, mode)


def plan_lines(plan: Plan) -> list[str]:
    """The dry run: one line per thing the export will do, in order."""
    lines = [f"create folder {plan.dest}"] if plan.create_dest else []
    lines += [f"create folder {f}" for f in plan.folders]
    lines += [f"{op.mode} {op.source} -> {op.target}" for op in plan.operations]
    lines += [f"skip {s.source}: {s.reason}" for s in plan.skipped]
    return lines


def _folder_for(dest: str, name: str, used: set[str]) -> str:
    """DEST/name, or DEST/name (2)...: unique among categories (case-insensitively), and never
    an existing file or link (a link could lead outside DEST)."""
    n = 1
    while True:
        candidate = name if n == 1 else f"{name} ({n})"
        path = os.path.join(dest, candidate)
        if candidate.casefold() not in used and (not os.path.lexists(path) or _plain_dir(path)):
            used.add(candidate.casefold())
            return path
        n += 1


def _plain_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)


def _unique_name(name: str, taken: set[str]) -> str:
    stem, ext = os.path.splitext(name)
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem} ({n}){ext}"
    return candidate


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


# -- the journal ----------------------------------------------------------------------------
class Journal:
    """JSON lines, each fsynced before the step it announces is taken."""

    def __init__(self, path: Path) -> None:
        self.path = path
        new = not path.exists()
        self._file = open(path, "a", encoding="ascii")
        if new:
            _fsync_dir(path.parent)

    def write(self, **entry: object) -> None:
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    @staticmethod
    def read(path: Path) -> list[dict]:
        """The entries; a line cut short by a crash is ignored."""
        entries = []
        for line in path.read_text(encoding="ascii", errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return entries


def _fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- carrying out and undoing ---------------------------------------------------------------
class Exporter:
    """Runs plans and undoes them, journalled under the data home's journals folder."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.catalog = library.catalog
        self.journals = library.paths.journals

    def run(self, plan: Plan, cancel: threading.Event | None = None) -> Iterator[ExportProgress]:
        """Carry out `plan`, one journalled file operation at a time."""
        cancel = cancel or threading.Event()
        started = time.monotonic()
        self.journals.mkdir(parents=True, exist_ok=True)
        path = self.journals / f"export-{datetime.now():%Y%m%dT%H%M%S%f}-{os.getpid()}.jsonl"
        journal = Journal(path)
        report = ExportReport(str(path), plan)
        total = len(plan.operations)
        try:
            journal.write(type="export", version=1, dest=plan.dest, mode=plan.mode, at=datetime.now().isoformat())
            real_dest = self._prepare(plan, journal, report)
            yield ExportProgress("exporting", 0, total, f"{plan.mode} {total} photos to {plan.dest}")
            for n, op in enumerate(plan.operations):
                if cancel.is_set():
                    report.cancelled = True
                    break
                self._carry_out(n, op, real_dest, journal, report)
                yield ExportProgress("exporting", n + 1, total, op.target)
            journal.write(type="end", cancelled=report.cancelled)
        finally:
            journal.close()
            report.seconds = time.monotonic() - started
        yield ExportProgress("done", len(report.done), total, report=report)

    def _prepare(self, plan: Plan, journal: Journal, report: ExportReport) -> str:
        """Create DEST and the category folders (each journalled first, so undo removes them)."""
        if plan.create_dest:
            self._make_folder(plan.dest, journal)
        real_dest = os.path.realpath(plan.dest)
        for folder in plan.folders:
            _check_inside(os.path.dirname(folder), real_dest)
            self._make_folder(folder, journal)
        if plan.mode == "move" and plan.operations:
            owner = self._owner_folder(plan.dest)
            if owner is None:
                # Moved photos must stay in the library, under their ids.
                journal.write(type="folder", path=plan.dest)
                self.library.add_folder(plan.dest)
                report.registered_folder = plan.dest
        return real_dest

    @staticmethod
    def _make_folder(folder: str, journal: Journal) -> None:
        if _plain_dir(folder):
            return  # made meanwhile by someone else: use it, and leave it to them on undo
        if os.path.lexists(folder):
            raise ExportError(f"{folder} appeared meanwhile and is not a folder: nothing more was written")
        journal.write(type="mkdir", path=folder)
        os.mkdir(folder)

    def _carry_out(self, n: int, op: Operation, real_dest: str, journal: Journal, report: ExportReport) -> None:
        _check_inside(os.path.dirname(op.target), real_dest)
        target = op.target
        if os.path.lexists(target):  # appeared since planning: never overwrite, take another name
            folder = os.path.dirname(target)
            target = os.path.join(folder, _unique_name(os.path.basename(target), {x.casefold() for x in _listdir(folder)}))
        journal.write(type="begin", n=n, mode=op.mode, category=op.category, photo_id=op.photo_id, src=op.source, dst=target)
        try:
            if op.mode == "copy":
                _copy_exclusive(op.source, target)
            elif op.mode == "hardlink":
                os.link(op.source, target)
            elif op.mode == "symlink":
                os.symlink(op.source, target)
            else:
                _move_exclusive(op.source, target)
        except OSError as exc:
            journal.write(type="failed", n=n, reason=exc.strerror or str(exc))
            report.failed.append(Skipped(op.category, op.source, f"{exc.strerror or exc}"))
            return
        if op.mode == "move":
            self._set_path(op.photo_id, op.source, target)
        st = os.lstat(target)
        journal.write(type="done", n=n, size=st.st_size, mtime_ns=st.st_mtime_ns)
        report.done.append(Operation(op.mode, op.category, op.photo_id, op.source, target))

    # -- undo ----------------------------------------------------------------------------
    def last_journal(self) -> Path | None:
        """The newest export not yet undone."""
        if not self.journals.is_dir():
            return None
        for path in sorted(self.journals.glob("export-*.jsonl"), reverse=True):
            if not any(e.get("type") == "undo_end" for e in Journal.read(path)):
                return path
        return None

    def undo(self, cancel: threading.Event | None = None) -> Iterator[ExportProgress]:
        """Reverse the last export: moves go back, copies and links are removed."""
        cancel = cancel or threading.Event()
        path = self.last_journal()
        if path is None:
            raise ExportError("there is no export to undo")
        entries = Journal.read(path)
        report = UndoReport(str(path))
        done = {e["n"]: e for e in entries if e.get("type") == "done"}
        # Operations the file system refused created nothing: their target is not ours to touch.
        undone = {e["n"] for e in entries if e.get("type") in ("undone", "failed")}
        begins = [e for e in entries if e.get("type") == "begin" and e["n"] not in undone]
        journal = Journal(path)
        try:
            yield ExportProgress("undoing", 0, len(begins), f"undoing {path.name}")
            for k, entry in enumerate(reversed(begins)):
                if cancel.is_set():
                    report.cancelled = True
                    break
                outcome = self._reverse(entry, done.get(entry["n"]), report)
                journal.write(type="undone", n=entry["n"], outcome=outcome)
                yield ExportProgress("undoing", k + 1, len(begins), entry["dst"])
            if not report.cancelled:
                self._unregister([e["path"] for e in entries if e.get("type") == "folder"], report)
                for folder in reversed([e["path"] for e in entries if e.get("type") == "mkdir"]):
                    try:
                        os.rmdir(folder)
                        report.folders_removed.append(folder)
                    except FileNotFoundError:
                        pass
                    except OSError:
                        report.kept.append(f"{folder}: folder not empty")
                journal.write(type="undo_end", at=datetime.now().isoformat())
        finally:
            journal.close()
        yield ExportProgress("done", len(begins), len(begins), report=report)

    def _reverse(self, entry: dict, done: dict | None, report: UndoReport) -> str:
        mode, src, dst = entry["mode"], entry["src"], entry["dst"]
        if not os.path.lexists(dst):
            if mode == "move" and not os.path.lexists(src):
                report.kept.append(f"{src}: neither here nor at {dst} any more")
                return "lost"
            if mode == "move":
                self._set_path(entry["photo_id"], dst, src)  # the catalog may have followed
            return "nothing to do"
        if mode == "symlink":
            if os.path.islink(dst) and os.readlink(dst) == src:
                os.unlink(dst)
                report.removed.append(dst)
                return "removed"
            report.kept.append(f"{dst}: no longer the link this export made")
            return "kept"
        if mode == "hardlink":
            if os.path.exists(src) and os.path.samefile(src, dst):
                os.unlink(dst)
                report.removed.append(dst)
                return "removed"
            report.kept.append(f"{dst}: its original is gone, so this is the only copy")
            return "kept"
        if mode == "copy":
            st = os.lstat(dst)
            if done is not None and (st.st_size, st.st_mtime_ns) != (done["size"], done["mtime_ns"]):
                report.kept.append(f"{dst}: changed since the export")
                return "kept"
            os.unlink(dst)  # finished and unchanged, or a partial copy this export started
            report.removed.append(dst)
            return "removed"
        # A move: cut short between link and unlink (both names, one file), cut short while
        # copying across drives (the source is intact, the target partial), or complete.
        if os.path.lexists(src):
            if os.path.samefile(src, dst) or done is None:
                os.unlink(dst)
                self._set_path(entry["photo_id"], dst, src)
                report.restored.append(src)
                return "restored"
            back = os.path.join(os.path.dirname(src), _unique_name(os.path.basename(src), {x.casefold() for x in _listdir(os.path.dirname(src))}))
            report.kept.append(f"{src}: another file took its name; moved back as {back}")
        else:
            back = src
        os.makedirs(os.path.dirname(back), exist_ok=True)  # its folder may have been removed since
        _move_exclusive(dst, back)
        self._set_path(entry["photo_id"], dst, back)
        report.restored.append(back)
        return "restored"

    def _unregister(self, folders: list[str], report: UndoReport) -> None:
        """Forget a library folder this export registered, once nothing of the library is in it."""
        for folder in folders:
            low, high = prefix_range(folder)
            with self.catalog.reading() as s:
                inside = s.scalar(select(Photo.id).where(Photo.path >= low, Photo.path < high).limit(1))
                registered = s.scalar(select(Folder.id).where(Folder.path == folder))
            if registered is not None and inside is None:
                self.library.remove_folder(folder)

    # -- catalog -------------------------------------------------------------------------
    def _owner_folder(self, path: str) -> int | None:
        with self.catalog.reading() as s:
            folders = s.execute(select(Folder.id, Folder.path)).all()
        owners = [(len(p), fid) for fid, p in folders if path == p or path.startswith(p.rstrip("/") + "/")]
        return max(owners)[1] if owners else None

    def _set_path(self, photo_id: int, old: str, new: str) -> None:
        """Point a moved photo's catalog row at its new path (same id, vector, captions)."""
        folder_id = self._owner_folder(new)
        with self.catalog.writing() as s:
            row = s.get(Photo, photo_id)
            if row is None or row.path != old:
                return  # gone from the catalog, or already updated
            if s.scalar(select(Photo.id).where(Photo.path == new)) is not None:
                return  # a stale row holds the name; the next scan reconciles by content hash
            values = {"path": new} if folder_id is None else {"path": new, "folder_id": folder_id}
            s.execute(update(Photo).where(Photo.id == photo_id).values(**values))


def _check_inside(folder: str, real_dest: str) -> None:
    real = os.path.realpath(folder)
    if real != real_dest and not real.startswith(real_dest.rstrip(os.sep) + os.sep):
        raise ExportError(f"refusing to write outside the destination: {folder} leads to {real}")


def _copy_exclusive(src: str, dst: str, durable: bool = False) -> None:
    """Copy with metadata; fails if `dst` exists. A failed copy leaves no partial file.

    `durable`: the copy is on disk (fsynced, with its folder entry) before this returns, as a
    move must make sure before it deletes the original.
    """
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        try:
            shutil.copyfileobj(fin, fout, 1 << 20)
            if durable:
                fout.flush()
                os.fsync(fout.fileno())
        except BaseException:
            fout.close()
            os.unlink(dst)
            raise
    shutil.copystat(src, dst)


def _move_exclusive(src: str, dst: str) -> None:
    """Move without ever replacing `dst`: link then unlink, or copy then unlink across drives."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
            raise
        _copy_exclusive(src, dst, durable=True)  # a power cut after the unlink must not lose both
        _fsync_dir(os.path.dirname(dst))
    os.unlink(src)
