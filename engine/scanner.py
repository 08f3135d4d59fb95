"""Walking photo folders: a generator of files and of the problems met on the way.

Never stops on a bad entry: a folder it cannot read, a broken link, a FIFO named .jpg or a
symlink loop is reported and skipped. A reported folder is not an empty one: the indexer keeps
the photos it knows under it. Hidden files and folders (names starting with '.',
such as macOS '._IMG_0001.JPG' resource forks) are not photos and are skipped silently.
A folder on another device than the folder above it (a drive mounted inside a chosen folder)
is reported too, so that the indexer can tell its unmounting from a deletion.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.images import EXTENSIONS

HASH_BLOCK = 64 * 1024


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanProblem:
    path: str
    reason: str
    size: int = 0
    mtime_ns: int = 0
    folder: bool = False  # a folder that could not be listed: what is below it was not seen


@dataclass(frozen=True)
class MountPoint:
    """A folder on another device (st_dev) than the folder it is in: a drive mounted there."""

    path: str
    device: int


def is_photo_name(name: str) -> bool:
    # rfind rather than os.path.splitext: called for every file of every re-scan (100k+).
    dot = name.rfind(".")
    return dot > 0 and not name.startswith(".") and name[dot:].lower() in EXTENSIONS


def walk(root: str | Path) -> Iterator[FileEntry | ScanProblem | MountPoint]:
    """Every photo-named file below `root` (following folder links once), depth first."""
    root = os.path.abspath(str(root))
    seen: set[tuple[int, int]] = set()
    try:
        above = os.stat(os.path.dirname(root)).st_dev
    except OSError:
        above = None
    stack = [(root, above)]  # (folder, device of the folder it is in)
    while stack:
        folder, above = stack.pop()
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            continue  # gone (deleted while we walked): what was in it is gone too
        except OSError as exc:
            yield ScanProblem(folder, f"folder cannot be read: {exc.strerror or exc}", folder=True)
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue  # a symlink loop, or the same folder reached twice
        seen.add(key)
        if above is not None and st.st_dev != above:
            yield MountPoint(folder, st.st_dev)
        try:
            with os.scandir(folder) as entries:
                items = list(entries)
        except FileNotFoundError:
            continue
        except OSError as exc:
            yield ScanProblem(folder, f"folder cannot be read: {exc.strerror or exc}", folder=True)
            continue
        subfolders = []
        for entry in items:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subfolders.append(entry.path)
                    continue
            except OSError as exc:
                # Not even its kind can be read (a link loop, a stale network mount): it may be
                # a folder of photos, so report it rather than let its photos look deleted.
                if not is_photo_name(name):
                    yield ScanProblem(entry.path, f"cannot be read: {exc.strerror or exc}", folder=True)
                    continue
            if not is_photo_name(name):
                continue
            found = stat_entry(entry.path)
            if found is not None:
                yield found
        stack.extend((sub, st.st_dev) for sub in sorted(subfolders, reverse=True))


def stat_entry(path: str) -> FileEntry | ScanProblem | None:
    """A FileEntry for a readable regular file, a problem, or None if it has vanished."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return ScanProblem(path, "broken symbolic link")
        return None  # vanished while we looked: not a problem, it is simply gone
    except OSError as exc:
        return ScanProblem(path, f"cannot read file: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        return ScanProblem(path, "not a regular file")
    if st.st_size == 0:
        return ScanProblem(path, "empty file (0 bytes)", 0, st.st_mtime_ns)
    return FileEntry(path, st.st_size, st.st_mtime_ns)


def content_hash(path: str, size: int) -> str:
    """Cheap identity of a file's content: its size and first and last 64 KiB."""
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as f:
        digest.update(f.read(HASH_BLOCK))
        if size > 2 * HASH_BLOCK:
            f.seek(-HASH_BLOCK, os.SEEK_END)
            digest.update(f.read(HASH_BLOCK))
        elif size > HASH_BLOCK:
            digest.update(f.read())
    return digest.hexdigest()
