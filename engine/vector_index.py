"""The hnswlib graph of one embedding space: derived from the catalog, never the truth.

The file is saved atomically (temp file, fsync, rename) under a name that carries the
catalog generation it reflects. At open, and before queries when another process wrote,
it catches up from the catalog: vectors written after its generation are (re-)added and
tombstoned ids are deleted. Labels are catalog photo ids.

Below `exact_below` candidates a query is answered exactly from the catalog's vectors, which
is as fast as the graph there (DESIGN.md, Search); the graph serves larger libraries.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import hnswlib
import numpy as np
from sqlalchemy import select

from engine.catalog import Catalog, Removal, Vector, space_generation, unpack_vectors

_FILE = re.compile(r"^index-(\d+)\.hnsw$")


# Measured on 1M clustered vectors (bench search): M=16, ef_construction=100 topped out at
# recall@20 0.957 however large ef_search was; M=32, ef_construction=200 reaches 0.99 at
# ef_search 512, for 1-2 ms more per query and twice the build time.
GRAPH_M = 32
GRAPH_EF_CONSTRUCTION = 200
GRAPH_EF_SEARCH = 512


class VectorIndex:
    """Approximate nearest neighbours by cosine similarity, with filters and exact fallback."""

    def __init__(
        self,
        folder: Path,
        space_id: str,
        dim: int,
        m: int = GRAPH_M,
        ef_construction: int = GRAPH_EF_CONSTRUCTION,
        ef_search: int = GRAPH_EF_SEARCH,
        exact_below: int = 2000,  # candidate sets up to this size are searched exactly
    ) -> None:
        self.folder = folder
        self.space_id = space_id
        self.dim = dim
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.exact_below = exact_below
        self.generation = 0
        self._lock = threading.RLock()
        self._index = self._empty(1024)
        self._live: set[int] = set()
        # The generation of the file on disk that holds exactly this graph; None while the
        # graph has changes no file has. Lets save() skip rewriting an unchanged graph
        # (hundreds of MB at 100k+) after every no-change re-scan.
        self._saved: int | None = None
        # Exact search reads candidates' vectors from here: hnswlib's get_items copies
        # through Python lists (about 0.1 ms per vector, 230 ms for 2000), SQLite is 20x faster.
        self._catalog: Catalog | None = None

    def _empty(self, capacity: int) -> hnswlib.Index:
        index = hnswlib.Index(space="ip", dim=self.dim)
        index.init_index(max_elements=capacity, ef_construction=self.ef_construction, M=self.m, allow_replace_deleted=False)
        index.set_ef(self.ef_search)
        return index

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self._live)

    @property
    def kind(self) -> str:
        """'exact' or 'hnsw': how an unfiltered query (for a page of results) is answered now."""
        return "exact" if self.count <= self.exact_below else "hnsw"

    def open(self, catalog: Catalog) -> "VectorIndex":
        """Load the newest saved file (if it is usable), then catch up with the catalog."""
        with self._lock:
            self._catalog = catalog
            newest = self._newest_file()
            if newest is not None:
                path, generation = newest
                try:
                    index = hnswlib.Index(space="ip", dim=self.dim)
                    index.load_index(str(path), max_elements=0)
                    index.set_ef(self.ef_search)
                    labels = set(int(i) for i in index.get_ids_list())
                    self._index, self.generation = index, generation
                    self._live = labels  # deleted ones are re-synced from tombstones below
                    self._saved = generation
                except (RuntimeError, OSError, ValueError):
                    newest = None  # unreadable: rebuild from the catalog
            with catalog.reading() as s:
                current = space_generation(s, self.space_id)
            if newest is not None and self.generation > current:
                newest = None  # the file is from a future the catalog does not know: rebuild
            if newest is None:
                self._index, self.generation, self._live = self._empty(1024), 0, set()
                self._saved = None
                self._rebuild(catalog)
            else:
                # Removals that the file may predate are replayed; labels marked deleted in the
                # file itself were also tombstoned, so replaying from 0 keeps _live correct.
                self._replay_removals(catalog, since=0)
                self.sync(catalog)
        return self

    def _rebuild(self, catalog: Catalog) -> None:
        with catalog.reading() as s:
            generation = space_generation(s, self.space_id)
            rows = s.execute(select(Vector.photo_id, Vector.vector).where(Vector.space_id == self.space_id)).all()
        if rows:
            ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            self.add(ids, unpack_vectors([r[1] for r in rows], self.dim))
        self.generation = generation

    def _replay_removals(self, catalog: Catalog, since: int) -> None:
        """Delete ids tombstoned after `since` (unless their vector is back in the catalog)."""
        with catalog.reading() as s:
            removed = s.scalars(
                select(Removal.photo_id).where(Removal.space_id == self.space_id, Removal.generation > since)
            ).all()
            present: set[int] = set()
            for start in range(0, len(removed), 900):
                chunk = removed[start : start + 900]
                present.update(
                    s.scalars(select(Vector.photo_id).where(Vector.space_id == self.space_id, Vector.photo_id.in_(chunk)))
                )
        self.remove(i for i in removed if i not in present)

    def sync(self, catalog: Catalog) -> bool:
        """Catch up with vectors written (by anyone) since our generation. True if anything changed."""
        with self._lock:
            with catalog.reading() as s:
                current = space_generation(s, self.space_id)
                if current == self.generation:
                    return False
                rows = s.execute(
                    select(Vector.photo_id, Vector.vector).where(
                        Vector.space_id == self.space_id, Vector.generation > self.generation
                    )
                ).all()
            since = self.generation
            if rows:
                ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
                self.add(ids, unpack_vectors([r[1] for r in rows], self.dim))
            self._replay_removals(catalog, since=since)
            self.generation = current
            return True

    def save(self) -> Path:
        """Write the graph atomically, named by the generation it reflects; drop older files.

        A graph already saved under its generation is not written again.
        """
        with self._lock:
            final = self.folder / f"index-{self.generation}.hnsw"
            if self._saved == self.generation and final.is_file():
                return final
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".index-{self.generation}.{os.getpid()}.tmp"
            self._index.save_index(str(tmp))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, final)
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            for path in self.folder.iterdir():
                match = _FILE.match(path.name)
                if match and int(match.group(1)) < self.generation:
                    path.unlink(missing_ok=True)
            self._saved = self.generation
            return final

    def _newest_file(self) -> tuple[Path, int] | None:
        if not self.folder.is_dir():
            return None
        best = None
        for path in self.folder.iterdir():
            match = _FILE.match(path.name)
            if match and (best is None or int(match.group(1)) > best[1]):
                best = (path, int(match.group(1)))
        return best

    # -- changes -------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace vectors (unit length) under photo ids."""
        if len(ids) == 0:
            return
        with self._lock:
            needed = self._index.element_count + len(ids)
            if needed > self._index.get_max_elements():
                self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
            self._index.add_items(np.asarray(vectors, np.float32), np.asarray(ids, np.int64))
            self._live.update(int(i) for i in ids)
            self._saved = None

    def remove(self, ids) -> None:  # noqa: ANN001 - any iterable of ints
        with self._lock:
            for i in ids:
                i = int(i)
                if i in self._live:
                    try:
                        self._index.mark_deleted(i)
                    except RuntimeError:  # already marked deleted in a loaded file
                        pass
                    self._live.discard(i)
                    self._saved = None

    # -- queries -------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Up to k (photo id, cosine similarity), best first; only ids in `allowed` if given."""
        with self._lock:
            candidates = self._live if allowed is None else (allowed & self._live)
            k = min(k, len(candidates))
            if k <= 0:
                return []
            query = np.asarray(query, np.float32).reshape(1, -1)
            if len(candidates) <= max(4 * k, self.exact_below):
                return self._exact(query, sorted(candidates), k)
            self._index.set_ef(max(self.ef_search, k))
            try:
                if allowed is None:
                    labels, distances = self._index.knn_query(query, k=k)
                else:
                    labels, distances = self._index.knn_query(query, k=k, filter=lambda label: label in candidates)
            except RuntimeError:  # too few reachable matches under the filter
                return self._exact(query, sorted(candidates), k)
            return [(int(i), float(1.0 - d)) for i, d in zip(labels[0], distances[0])]

    def _exact(self, query: np.ndarray, ids: list[int], k: int) -> list[tuple[int, float]]:
        if self._catalog is not None:
            ids, vectors = self._stored_vectors(ids)
        else:
            vectors = np.asarray(self._index.get_items(ids, return_type="numpy"), np.float32)
        scores = vectors @ query[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(ids[i], float(scores[i])) for i in top]

    def _stored_vectors(self, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """(ids found, float32 vectors) of the catalog, read without ORM overhead (ids are ints)."""
        found: list[int] = []
        blobs: list[bytes] = []
        with self._catalog.reading() as s:
            conn = s.connection()
            for start in range(0, len(ids), 5000):
                inline = ",".join(str(int(i)) for i in ids[start : start + 5000])
                for photo_id, blob in conn.exec_driver_sql(
                    f"SELECT photo_id, vector FROM vectors WHERE space_id = ? AND photo_id IN ({inline})",
                    (self.space_id,),
                ):
                    found.append(photo_id)
                    blobs.append(blob)
        return found, unpack_vectors(blobs, self.dim)

    def vectors(self, ids: list[int]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._index.get_items(ids, return_type="numpy"), np.float32)
