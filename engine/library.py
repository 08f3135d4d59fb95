"""The library: the one object callers use. It is handed its collaborators (see `main.py`).

Everything here is plain Python; long operations are generators of progress events that
take a cancel event, so the command line, tests and the Qt app drive them the same way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update

from engine import spaces
from engine.catalog import (
    Catalog,
    Failure,
    Folder,
    Photo,
    Space,
    Vector,
    ensure_space,
    inside_failed_folder,
    path_key,
    prefix_range,
    space_generation,
)
from engine.encoder import Encoder
from engine.images import UnreadableImage, decode_for_model
from engine.indexer import IndexReport, Indexer, Progress
from engine.paths import Paths
from engine.query import QueryError, Term, parse
from engine.spaces import ModelChoice, SpaceError, SpaceInfo
from engine.specs import ModelList, load_model_list
from engine.vector_index import VectorIndex
from engine.weights import weights_identity

ACTIVE_SPACE = "active_space"


class FolderError(ValueError):
    """A folder that cannot be added or removed; the message says why."""


@dataclass(frozen=True)
class Filters:
    folder: str | None = None  # only photos inside this folder (any depth)
    after: date | None = None  # taken on or after this day
    before: date | None = None  # taken on or before this day
    min_score: float | None = None
    camera: str | None = None  # substring of make or model, case-insensitive
    formats: tuple[str, ...] = ()  # e.g. ('JPEG', 'PNG')

    @property
    def empty(self) -> bool:
        return not (self.folder or self.after or self.before or self.camera or self.formats)


@dataclass(frozen=True)
class SearchResult:
    id: int
    path: str
    score: float  # cosine similarity to the query
    taken_at: datetime
    width: int
    height: int
    format: str
    size: int
    content_hash: str
    camera: str | None
    available: bool  # False while its folder is offline (unplugged drive) or cannot be read

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "path": self.path,
            "score": round(self.score, 6),
            "taken_at": self.taken_at.isoformat(timespec="seconds"),
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "camera": self.camera,
            "available": self.available,
        }


@dataclass(frozen=True)
class FolderInfo:
    id: int
    path: str
    photos: int
    online: bool
    last_scan_at: datetime | None


@dataclass(frozen=True)
class FailureInfo:
    path: str
    reason: str
    at: datetime


class Library:
    """Folders, indexing and search over one catalog: a serving space, maybe one being built.

    `encoder` is the serving image model (searches use its space); `target`, when a model
    switch is pending, is the model whose space `build_space()` fills in the background.
    """

    def __init__(
        self,
        paths: Paths,
        catalog: Catalog,
        encoder: Encoder,
        target: Encoder | None = None,
        models: ModelList | None = None,
    ) -> None:
        self.paths = paths
        self.catalog = catalog
        self.encoder = encoder
        self.target = target
        self.models = models or load_model_list()
        self._index: VectorIndex | None = None
        self._target_index: VectorIndex | None = None
        self._index_lock = threading.Lock()

    @property
    def space_id(self) -> str:
        return self.encoder.space_id

    @property
    def index(self) -> VectorIndex:
        """The active space's vector index, opened (and repaired) on first use."""
        with self._index_lock:
            if self._index is None:
                index = VectorIndex(self.paths.space_dir(self.space_id), self.space_id, self.encoder.dim)
                self._index = index.open(self.catalog)
            return self._index

    @property
    def building_index(self) -> VectorIndex | None:
        """The vector index of the space being built, or None when no switch is pending."""
        with self._index_lock:
            target = self.target
            if target is None:
                return None
            if self._target_index is None or self._target_index.space_id != target.space_id:
                index = VectorIndex(self.paths.space_dir(target.space_id), target.space_id, target.dim)
                self._target_index = index.open(self.catalog)
            return self._target_index

    def close(self) -> None:
        self.encoder.close()
        if self.target is not None:
            self.target.close()
        self.catalog.close()

    # -- folders -------------------------------------------------------------------------
    def add_folder(self, path: str | Path) -> FolderInfo:
        """Register a folder (idempotent). A folder inside a registered one is already covered."""
        path = os.path.abspath(os.path.expanduser(str(path)))
        if not os.path.isdir(path):
            raise FolderError(f"not a folder: {path}")
        with self.catalog.writing() as s:
            folders = s.execute(select(Folder.id, Folder.path)).all()
            for fid, fpath in folders:
                if path == fpath or path.startswith(fpath.rstrip("/") + "/"):
                    return self._folder_info(s, fid)
            folder = Folder(path=path, online=True)
            s.add(folder)
            s.flush()
            # Registered folders inside the new one become part of it (photos keep their ids).
            low, high = prefix_range(path)
            for fid, fpath in folders:
                if fpath.startswith(path.rstrip("/") + "/"):
                    s.execute(update(Photo).where(Photo.folder_id == fid).values(folder_id=folder.id))
                    s.execute(update(Failure).where(Failure.folder_id == fid).values(folder_id=folder.id))
                    s.delete(s.get(Folder, fid))
            return self._folder_info(s, folder.id)

    def remove_folder(self, path: str | Path) -> int:
        """Forget a folder: its photos leave the catalog and the index. Files are untouched."""
        from engine.catalog import delete_photos

        path = os.path.abspath(os.path.expanduser(str(path)))
        with self.catalog.writing() as s:
            folder = s.scalar(select(Folder).where(Folder.path == path))
            if folder is None:
                raise FolderError(f"not a registered folder: {path}")
            ids = list(s.scalars(select(Photo.id).where(Photo.folder_id == folder.id)))
            delete_photos(s, ids)
            s.delete(folder)
        self.index.sync(self.catalog)
        self.index.save()
        return len(ids)

    def folders(self) -> list[FolderInfo]:
        with self.catalog.reading() as s:
            return [self._folder_info(s, fid) for fid in s.scalars(select(Folder.id).order_by(Folder.path))]

    @staticmethod
    def _folder_info(s, folder_id: int) -> FolderInfo:  # noqa: ANN001
        folder = s.get(Folder, folder_id)
        count = s.scalar(select(func.count()).select_from(Photo).where(Photo.folder_id == folder_id)) or 0
        return FolderInfo(folder.id, folder.path, int(count), folder.online, folder.last_scan_at)

    # -- indexing ------------------------------------------------------------------------
    def indexer(self) -> Indexer:
        return Indexer(self.catalog, self.encoder, self.index)

    def index_folders(self, paths: Sequence[str | Path] | None = None, cancel: threading.Event | None = None) -> Iterator[Progress]:
        """Register `paths` (if given) and index them; with no paths, re-scan every folder."""
        scopes = None
        if paths:
            for p in paths:
                self.add_folder(p)
            scopes = [os.path.abspath(os.path.expanduser(str(p))) for p in paths]
        self.catalog.set_setting(ACTIVE_SPACE, self.space_id)
        yield from self.indexer().run(scopes, cancel)

    # -- embedding spaces (switching the image model) ------------------------------------
    @staticmethod
    def choice_of(encoder: Encoder) -> ModelChoice:
        return ModelChoice(encoder.spec.key, encoder.weights_file)

    def request_model(self, choice: ModelChoice) -> str:
        """Ask for another image model: 'serving' (already is), 'switched' (instant) or 'building'.

        'building' means `build_space()` has work to do; until it finishes, searches keep
        using the current space. The request is remembered in the catalog across restarts.
        """
        encoder = spaces.open_encoder(choice, self.models, self.paths, self.encoder.allow_download)
        if encoder.space_id == self.space_id:
            if self.target is not None:  # asking for the serving model abandons the switch
                spaces.set_target(self.catalog, None)
                self._set_target(None)
            return "serving"
        if spaces.try_switch(self.catalog, choice, encoder.space_id):  # complete (or nothing to embed)
            self._serve(encoder, None)
            return "switched"
        spaces.set_target(self.catalog, choice)
        with self.catalog.writing() as s:  # listed (as building) from now on
            ensure_space(s, encoder.space_id, choice.key, weights_identity(encoder.spec, encoder.weights_file), encoder.dim)
        if self.target is None or self.target.space_id != encoder.space_id:
            self._set_target(encoder)
        return "building"

    def build_space(self, cancel: threading.Event | None = None, attempts: int = 3) -> Iterator[Progress]:
        """Embed every photo into the space being built, then make it serve. Resumable.

        Photos added while it runs are picked up by another pass (up to `attempts`); the
        switch itself happens in one write that first checks that nothing is missing.
        Photos in an offline (or unreadable) folder are waited for, never dropped: the old
        space keeps serving, and a later run (or the next start) finishes once they are back.
        """
        cancel = cancel or threading.Event()
        target, index = self.target, self.building_index
        if target is None or index is None:
            yield Progress("done", message="no model switch is pending", report=IndexReport())
            return
        choice = self.choice_of(target)
        report = IndexReport()
        for _ in range(attempts):
            indexer = Indexer(self.catalog, target, index)
            for event in indexer.run(None, cancel):
                if event.report is not None:
                    report = event.report
                else:
                    yield Progress(event.phase, event.done, event.total, event.rate, event.eta_s, f"{choice.key}: {event.message}")
            if cancel.is_set():
                yield Progress("done", message=f"paused preparing {choice.key}; it resumes where it stopped", report=report)
                return
            if spaces.try_switch(self.catalog, choice, target.space_id):
                self._serve(target, index)
                yield Progress("done", message=f"searching with {choice.key} now", report=report)
                return
            with self.catalog.reading() as s:
                missing = spaces.missing_count(s, target.space_id)
                waiting = spaces.waiting_count(s, target.space_id)
            if missing == waiting:
                break  # all that is left is out of reach: another pass cannot help
        parts = []
        if missing > waiting or not waiting:
            parts.append(f"{missing - waiting} photos still missing; run again to finish")
        if waiting:
            parts.append(
                f"{waiting} photos wait for a folder that is offline or cannot be read; searches use "
                f"{self.encoder.spec.key} until it is back (or until the folder is removed)"
            )
        yield Progress("done", message=f"{choice.key}: " + "; ".join(parts), report=report)

    def switch_progress(self) -> dict | None:
        """{'model', 'space', 'embedded', 'missing', 'waiting'} of the pending switch, or None.

        'waiting': those of the missing in a folder that is offline or cannot be read.
        """
        target = self.target
        if target is None:
            return None
        with self.catalog.reading() as s:
            return {
                "model": target.spec.key,
                "space": target.space_id,
                "embedded": spaces.embedded_count(s, target.space_id),
                "missing": spaces.missing_count(s, target.space_id),
                "waiting": spaces.waiting_count(s, target.space_id),
            }

    def spaces(self) -> list[SpaceInfo]:
        """Every embedding space in the catalog (serving first)."""
        building = self.target.space_id if self.target is not None else None
        return spaces.list_spaces(self.catalog, self.paths, self.space_id, building)

    def delete_space(self, space_id: str) -> int:
        """Delete a space that is not serving (abandoning its switch if it is being built)."""
        building = self.target.space_id if self.target is not None else None
        freed = spaces.delete_space(self.catalog, self.paths, space_id, self.space_id, building)
        if space_id == building:
            self._set_target(None)
        return freed

    def _set_target(self, encoder: Encoder | None) -> None:
        with self._index_lock:
            self.target, self._target_index = encoder, None

    def _serve(self, encoder: Encoder, index: VectorIndex | None) -> None:
        """Swap the serving model in place; searches in flight finish on the old one."""
        with self._index_lock:
            self.encoder, self._index = encoder, index
            self.target, self._target_index = None, None

    # -- search --------------------------------------------------------------------------
    def query_vector(self, query: str | Sequence[Term]) -> np.ndarray:
        """The unit vector of a combined query (text and image terms, weighted)."""
        terms = parse(query) if isinstance(query, str) else list(query)
        texts = [t for t in terms if not t.is_image]
        images = [t for t in terms if t.is_image]
        total = np.zeros(self.encoder.dim, np.float32)
        if texts:
            vecs = self.encoder.encode_texts([t.text for t in texts])
            for t, v in zip(texts, vecs):
                total += t.weight * v
        for t in images:
            total += t.weight * self.image_vector(t.image)
        norm = float(np.linalg.norm(total))
        if norm < 1e-8:
            raise QueryError("the query's terms cancel each other out")
        return total / norm

    def image_vector(self, path: str) -> np.ndarray:
        """The stored vector of an indexed photo, else the locked image tower's view of it."""
        path = os.path.abspath(path)
        with self.catalog.reading() as s:
            blob = s.scalar(
                select(Vector.vector)
                .join(Photo, Photo.id == Vector.photo_id)
                .where(Photo.path == path, Vector.space_id == self.space_id)
            )
        if blob is not None:
            vec = np.frombuffer(blob, np.float16).astype(np.float32)
            return vec / max(float(np.linalg.norm(vec)), 1e-8)
        import torch

        decoded = decode_for_model(Path(path), self.encoder.preprocess)  # may raise UnreadableImage
        return self.encoder.encode_images(torch.from_numpy(decoded.pixels[None]))[0]

    def search(self, query: str | Sequence[Term] | np.ndarray, filters: Filters = Filters(), limit: int = 20) -> list[SearchResult]:
        """Photos best matching a query (string, parsed terms or a vector), best first."""
        vector = query if isinstance(query, np.ndarray) else self.query_vector(query)
        index = self.index
        index.sync(self.catalog)
        allowed = None if filters.empty else self._allowed(filters)
        hits = index.search(vector, limit, allowed)
        if filters.min_score is not None:
            hits = [(i, sc) for i, sc in hits if sc >= filters.min_score]
        return self._results(hits)

    def browse(self, filters: Filters = Filters(), limit: int = 1000) -> list[SearchResult]:
        """Embedded photos newest first, without a query (scores are NaN: nothing was asked)."""
        query = (
            select(Photo.id)
            .join(Vector, (Vector.photo_id == Photo.id) & (Vector.space_id == self.space_id))
            .order_by(Photo.taken_at.desc(), Photo.id.desc())
        )
        allowed = None if filters.empty else self._allowed(filters)
        if allowed is None:
            query = query.limit(limit)
        with self.catalog.reading() as s:
            ids = [i for i in s.scalars(query) if allowed is None or i in allowed][:limit]
        return self._results([(i, float("nan")) for i in ids])

    def similar(self, path: str | Path, filters: Filters = Filters(), limit: int = 20) -> list[SearchResult]:
        """Photos most like the one at `path` (indexed or not); itself first when indexed."""
        path = os.path.abspath(str(path))
        results = self.search(self.image_vector(path), filters, limit + 1)
        # Near-duplicates (bursts, edits) tie with the photo itself at 1.0 within float16
        # rounding, and the graph may rank one of them first: the photo itself leads.
        own = [r for r in results if r.path == path]
        return (own + [r for r in results if r.path != path])[:limit]

    def _allowed(self, f: Filters) -> set[int]:
        query = select(Photo.id)
        if f.folder:
            low, high = prefix_range(os.path.abspath(os.path.expanduser(f.folder)))
            query = query.where(Photo.path >= low, Photo.path < high)
        if f.after:
            query = query.where(Photo.taken_at >= datetime.combine(f.after, time.min))
        if f.before:
            query = query.where(Photo.taken_at <= datetime.combine(f.before, time.max))
        if f.camera:
            like = f"%{f.camera.lower()}%"
            query = query.where(
                func.lower(func.coalesce(Photo.camera_make, "") + " " + func.coalesce(Photo.camera_model, "")).like(like)
            )
        if f.formats:
            query = query.where(Photo.format.in_([x.upper() for x in f.formats]))
        with self.catalog.reading() as s:
            return set(s.scalars(query))

    def _results(self, hits: list[tuple[int, float]]) -> list[SearchResult]:
        if not hits:
            return []
        scores = dict(hits)
        with self.catalog.reading() as s:
            reachable = Folder.online & ~inside_failed_folder(Photo.path)
            rows = s.execute(
                select(Photo, reachable).join(Folder, Folder.id == Photo.folder_id).where(Photo.id.in_(list(scores)))
            ).all()
        by_id = {}
        for photo, online in rows:
            camera = " ".join(x for x in (photo.camera_make, photo.camera_model) if x) or None
            by_id[photo.id] = SearchResult(
                photo.id, photo.path, scores[photo.id], photo.taken_at, photo.width, photo.height,
                photo.format, photo.size, photo.content_hash, camera, bool(online),
            )
        return [by_id[i] for i, _ in hits if i in by_id]

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict:
        with self.catalog.reading() as s:
            photos = s.scalar(select(func.count()).select_from(Photo)) or 0
            failures = s.scalar(select(func.count()).select_from(Failure)) or 0
            folders = s.scalar(select(func.count()).select_from(Folder)) or 0
            offline = s.scalar(select(func.count()).select_from(Folder).where(Folder.online.is_(False))) or 0
            embedded = s.scalar(select(func.count()).select_from(Vector).where(Vector.space_id == self.space_id)) or 0
            generation = space_generation(s, self.space_id)
        return {
            "photos": int(photos),
            "embedded": int(embedded),
            "failures": int(failures),
            "folders": int(folders),
            "offline_folders": int(offline),
            "model": self.encoder.spec.key,
            "space": self.space_id,
            "text_tower": self.encoder.text_version,
            "generation": generation,
            "index": {"kind": self.index.kind, "count": self.index.count, "file": str(self.paths.space_dir(self.space_id))},
            "home": str(self.paths.home),
            "building": self.switch_progress(),
        }

    def failures(self) -> list[FailureInfo]:
        with self.catalog.reading() as s:
            rows = s.scalars(select(Failure).order_by(Failure.path)).all()
            return [FailureInfo(r.path, r.reason, r.at) for r in rows]


__all__ = [
    "Filters",
    "FolderError",
    "FolderInfo",
    "FailureInfo",
    "Library",
    "QueryError",
    "ModelChoice",
    "SearchResult",
    "SpaceError",
    "SpaceInfo",
    "UnreadableImage",
    "path_key",
    "Space",
]
