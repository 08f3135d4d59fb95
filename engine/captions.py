"""Captions: the words a person (or their metadata) attached to photos, the trainer's data.

Each caption has a source (`user`, `import`, `xmp`, `iptc`, `exif`, `folder`, `category`)
so an import can be told apart from what was typed. A photo is either in the training split
or held out for evaluation, decided by a hash of its id: the split never changes between
runs, and a photo keeps it when it moves (a move keeps the id).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert

from engine.catalog import Caption, Catalog, Category, CategoryPin, Photo, prefix_range

SOURCES = ("user", "import", "xmp", "iptc", "exif", "folder", "category")
HELD_OUT_FRACTION = 0.2
MAX_CAPTION_CHARS = 300  # beyond this the text tower's 77 tokens cut it anyway


class CaptionError(ValueError):
    """A caption that cannot be stored or a file that cannot be imported; the message says why."""


@dataclass(frozen=True)
class CaptionInfo:
    id: int
    photo_id: int
    path: str
    text: str
    source: str
    held_out: bool

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "photo_id": self.photo_id,
            "path": self.path,
            "text": self.text,
            "source": self.source,
            "split": "held-out" if self.held_out else "train",
        }


@dataclass
class ImportReport:
    added: int = 0  # captions stored
    existing: int = 0  # already there (same photo, text and source)
    photos: int = 0  # photos that received at least one caption
    unknown: list[str] = field(default_factory=list)  # paths not in the library
    problems: list[str] = field(default_factory=list)  # lines or files that could not be read
    cancelled: bool = False

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "existing": self.existing,
            "photos": self.photos,
            "unknown": self.unknown,
            "problems": self.problems,
            "cancelled": self.cancelled,
        }


def is_held_out(photo_id: int, fraction: float = HELD_OUT_FRACTION) -> bool:
    """Whether a photo belongs to the held-out split (deterministic, about `fraction` of photos)."""
    digest = hashlib.blake2b(f"lit-split:{photo_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def clean_text(text: str) -> str:
    """A caption as stored: whitespace collapsed; empty or overlong text is refused."""
    text = " ".join(str(text).split())
    if not text:
        raise CaptionError("a caption needs some text")
    if len(text) > MAX_CAPTION_CHARS:
        raise CaptionError(f"a caption is at most {MAX_CAPTION_CHARS} characters")
    return text


def _store(session, pairs: Iterable[tuple[int, str]], source: str, report: ImportReport) -> None:  # noqa: ANN001
    """Insert (photo id, text) pairs, skipping ones already there."""
    photos = set()
    for photo_id, text in pairs:
        result = session.execute(
            insert(Caption)
            .values(photo_id=photo_id, text=text, source=source)
            .on_conflict_do_nothing(index_elements=["photo_id", "text", "source"])
        )
        if result.rowcount:
            report.added += 1
            photos.add(photo_id)
        else:
            report.existing += 1
    report.photos += len(photos)


def add_captions(catalog: Catalog, photo_ids: Sequence[int], text: str, source: str = "user") -> ImportReport:
    """Attach one caption to several photos (a shared caption: they are positives of each other)."""
    if source not in SOURCES:
        raise CaptionError(f"unknown caption source {source!r}")
    text = clean_text(text)
    if not photo_ids:
        raise CaptionError("select at least one photo to caption")
    report = ImportReport()
    with catalog.writing() as s:
        known = set(s.scalars(select(Photo.id).where(Photo.id.in_(list(photo_ids)))))
        missing = [i for i in photo_ids if i not in known]
        if missing:
            raise CaptionError(f"{len(missing)} of the photos are no longer in the library")
        _store(s, [(i, text) for i in dict.fromkeys(photo_ids)], source, report)
    return report


def photo_ids_for_paths(catalog: Catalog, paths: Sequence[str | Path]) -> tuple[list[int], list[str]]:
    """(ids of the photos at `paths`, paths that are not in the library)."""
    ids, unknown = [], []
    with catalog.reading() as s:
        for p in paths:
            full = os.path.abspath(os.path.expanduser(str(p)))
            photo_id = s.scalar(select(Photo.id).where(Photo.path == full))
            if photo_id is None:
                unknown.append(str(p))
            else:
                ids.append(photo_id)
    return ids, unknown


def edit_caption(catalog: Catalog, caption_id: int, text: str) -> None:
    """Change a caption's text (it becomes the person's own words: source `user`)."""
    text = clean_text(text)
    with catalog.writing() as s:
        caption = s.get(Caption, caption_id)
        if caption is None:
            raise CaptionError("that caption no longer exists")
        clash = s.scalar(
            select(Caption.id).where(Caption.photo_id == caption.photo_id, Caption.text == text, Caption.source == "user")
        )
        if clash is not None and clash != caption_id:
            s.delete(caption)  # the photo already has these words: keep one
            return
        caption.text, caption.source = text, "user"


def delete_captions(catalog: Catalog, caption_ids: Sequence[int]) -> int:
    """Delete captions; returns how many went."""
    with catalog.writing() as s:
        result = s.execute(delete(Caption).where(Caption.id.in_(list(caption_ids))))
        return int(result.rowcount or 0)


def list_captions(catalog: Catalog, photo_ids: Sequence[int] | None = None) -> list[CaptionInfo]:
    """Captions (of some photos, or all), by photo path then text."""
    query = select(Caption.id, Caption.photo_id, Photo.path, Caption.text, Caption.source).join(
        Photo, Photo.id == Caption.photo_id
    )
    with catalog.reading() as s:
        if photo_ids is not None:
            rows = []
            ids = list(photo_ids)
            for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                rows += s.execute(query.where(Caption.photo_id.in_(ids[start : start + 900]))).all()
        else:
            rows = s.execute(query).all()
    rows.sort(key=lambda r: (r.path, r.text, r.source))
    return [CaptionInfo(r.id, r.photo_id, r.path, r.text, r.source, is_held_out(r.photo_id)) for r in rows]


# -- imports --------------------------------------------------------------------------------
def read_caption_file(path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(path, caption) rows of a CSV or JSON-lines file, and the lines that could not be read."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptionError(f"cannot read {path}: {exc}") from exc
    rows, problems = [], []
    lines = raw.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("{"):
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                rows.append((str(item["path"]), str(item["caption"])))
            except (json.JSONDecodeError, KeyError, TypeError):
                problems.append(f"line {number}: expected {{\"path\": ..., \"caption\": ...}}")
        return rows, problems
    reader = csv.reader(lines)
    for number, record in enumerate(reader, 1):
        if not record or not any(cell.strip() for cell in record):
            continue
        if number == 1 and [c.strip().lower() for c in record[:2]] == ["path", "caption"]:
            continue  # a header row
        if len(record) < 2:
            problems.append(f"line {number}: expected path,caption")
            continue
        rows.append((record[0].strip(), ",".join(record[1:]).strip()))
    return rows, problems


def import_file(catalog: Catalog, path: Path) -> ImportReport:
    """Import captions from a CSV or JSON-lines file of path,caption (relative paths: to the file)."""
    rows, problems = read_caption_file(path)
    report = ImportReport(problems=problems)
    pairs: list[tuple[int, str]] = []
    with catalog.reading() as s:
        for photo_path, text in rows:
            full = photo_path if os.path.isabs(photo_path) else os.path.join(path.parent, photo_path)
            photo_id = s.scalar(select(Photo.id).where(Photo.path == os.path.abspath(full)))
            if photo_id is None:
                report.unknown.append(photo_path)
                continue
            try:
                pairs.append((photo_id, clean_text(text)))
            except CaptionError as exc:
                report.problems.append(f"{photo_path}: {exc}")
    with catalog.writing() as s:
        _store(s, pairs, "import", report)
    return report


def _photos(catalog: Catalog, folder: str | Path | None) -> list[tuple[int, str]]:
    query = select(Photo.id, Photo.path).order_by(Photo.path)
    if folder is not None:
        low, high = prefix_range(os.path.abspath(os.path.expanduser(str(folder))))
        query = query.where(Photo.path >= low, Photo.path < high)
    with catalog.reading() as s:
        return [(r.id, r.path) for r in s.execute(query)]


def import_metadata(catalog: Catalog, folder: str | Path | None = None, cancel: threading.Event | None = None) -> ImportReport:
    """Captions from the photos' embedded XMP/IPTC/EXIF and `.xmp` sidecars (inside `folder`, or all)."""
    from engine.metadata import read_captions

    report = ImportReport()
    batch: dict[str, list[tuple[int, str]]] = {}
    for photo_id, path in _photos(catalog, folder):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        try:
            found = read_captions(Path(path))
        except OSError as exc:  # unplugged drive, unreadable file: skip with a line
            report.problems.append(f"{path}: {exc.strerror or exc}")
            continue
        for item in found:
            batch.setdefault(item.source, []).append((photo_id, item.text))
    with catalog.writing() as s:
        for source, pairs in batch.items():
            _store(s, pairs, source, report)
    return report


# Folder names that say nothing about the photos (camera dumps, years, imports).
_MEANINGLESS_FOLDER = re.compile(r"^(dcim|\d{3}[a-z_]{5}|\d+|img|images|photos|pictures|camera|import(ed)?)$", re.I)


def album_name(path: str | Path) -> str | None:
    """A caption from the folder a photo sits in ("2019 Cabin_trip" -> "2019 Cabin trip"), if meaningful."""
    name = Path(path).parent.name
    text = " ".join(name.replace("_", " ").split())
    if not text or _MEANINGLESS_FOLDER.match(text):
        return None
    return text[:MAX_CAPTION_CHARS]


def import_folder_names(catalog: Catalog, folder: str | Path | None = None) -> ImportReport:
    """Caption photos with the name of the folder (album) they are in."""
    report = ImportReport()
    pairs = [(photo_id, name) for photo_id, path in _photos(catalog, folder) if (name := album_name(path))]
    with catalog.writing() as s:
        _store(s, pairs, "folder", report)
    return report


def pin_caption_text(category: Category) -> str | None:
    """The words a photo pinned into `category` is captioned with: its first prompt (its name when it has none).

    The prompts are what the category's prototype is built from, so training them on the
    pinned photos teaches the category itself the correction. Every path that makes or
    removes a pin's caption asks this one function. None when the words cannot be a caption.
    """
    prompts = json.loads(category.prompts)
    try:
        return clean_text(prompts[0] if prompts else category.name)
    except CaptionError:
        return None


def sync_pin_captions(session, photo_ids: Iterable[int], report: ImportReport | None = None) -> int:  # noqa: ANN001
    """Make the `category` captions of these photos exactly their pins' words; returns how many went.

    A caption of a pin that was cleared, turned into an exclude, or made by an older import
    in other words goes; a pin without its caption gets it; one pin never makes two captions.
    """
    report = report if report is not None else ImportReport()
    ids = sorted(set(photo_ids))
    removed = 0
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        chunk = ids[start : start + 900]
        pinned = session.execute(
            select(CategoryPin.photo_id, Category)
            .join(Category, Category.id == CategoryPin.category_id)
            .where(CategoryPin.pinned.is_(True), CategoryPin.photo_id.in_(chunk))
        ).all()
        wanted = {(photo_id, text) for photo_id, category in pinned if (text := pin_caption_text(category)) is not None}
        have = set(
            session.execute(select(Caption.photo_id, Caption.text).where(Caption.source == "category", Caption.photo_id.in_(chunk))).all()
        )
        for photo_id, text in have - wanted:
            session.execute(delete(Caption).where(Caption.photo_id == photo_id, Caption.text == text, Caption.source == "category"))
            removed += 1
        _store(session, sorted(wanted - have), "category", report)
        report.existing += len(wanted & have)
    return removed


def import_category_corrections(catalog: Catalog) -> ImportReport:
    """Caption the photos a person pinned into a category as pinning does, and drop captions of undone pins."""
    report = ImportReport()
    with catalog.writing() as s:
        photos = set(s.scalars(select(CategoryPin.photo_id))) | set(s.scalars(select(Caption.photo_id).where(Caption.source == "category")))
        sync_pin_captions(s, photos, report)
    return report


@dataclass(frozen=True)
class TrainingPair:
    photo_id: int
    text: str
    held_out: bool


def training_pairs(catalog: Catalog) -> list[TrainingPair]:
    """Every distinct (photo, text) pair with its split; the same words from two sources count once."""
    with catalog.reading() as s:
        rows = s.execute(select(Caption.photo_id, Caption.text).distinct().order_by(Caption.photo_id, Caption.text)).all()
    return [TrainingPair(r.photo_id, r.text, is_held_out(r.photo_id)) for r in rows]
