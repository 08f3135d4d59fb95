"""Data homes of synthetic libraries: a catalog of N photos with vectors and a saved graph.

Embedding a million photos to test search would take days, so the catalog is written
directly, the way the indexer would leave it: photo rows, float16 vectors of the space and
a saved hnswlib graph stamped with the catalog generation. Rows go in with SQLAlchemy Core
bulk inserts (about 1 s per 100k); the graph is built once and cached with the home.
With `files=True` every photo also exists on disk as a tiny file (for re-scan timing).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, update

from bench.cache import cached_dir
from bench.vectors import ClusteredVectors
from engine.catalog import Catalog, Folder, Photo, Space, Vector, ensure_space, pack_vector
from engine.encoder import Encoder
from engine.paths import Paths
from engine.vector_index import GRAPH_EF_CONSTRUCTION, GRAPH_M, VectorIndex
from engine.weights import weights_identity

CAMERAS = [("Apple", "iPhone 13"), ("Canon", "EOS R6"), ("Nikon", "D750"), ("Sony", "ILCE-7M3"), ("FUJIFILM", "X-T4"), (None, None)]
FORMATS = ["JPEG"] * 8 + ["HEIF", "PNG"]
CHUNK = 50_000
FILES_PER_FOLDER = 1000


@dataclass(frozen=True)
class SyntheticHome:
    paths: Paths
    photos_root: Path  # the registered folder
    count: int
    build_seconds: float  # 0 when it came from the cache (see build.txt in the home)


def synthetic_home(count: int, encoder: Encoder, files: bool, seed: int = 0) -> SyntheticHome:
    """A cached data home with `count` photos of `encoder`'s space (clustered vectors)."""
    started = time.monotonic()
    built = False

    def build(folder: Path) -> None:
        nonlocal built
        built = True
        _build(folder, count, encoder, files, seed)

    graph = f"m{GRAPH_M}-efc{GRAPH_EF_CONSTRUCTION}"  # the graph's build settings are part of the recipe
    key = f"home-{count}-{'files' if files else 'nofiles'}-{encoder.space_id}-s{seed}-{graph}-v2"
    folder = cached_dir(key, build)
    return SyntheticHome(Paths(folder / "home"), folder / "photos", count, time.monotonic() - started if built else 0.0)


def _build(folder: Path, count: int, encoder: Encoder, files: bool, seed: int) -> None:
    paths = Paths(folder / "home").ensure()
    root = folder / "photos"
    root.mkdir()
    rng = np.random.default_rng(seed)
    names = [str(root / f"{i // FILES_PER_FOLDER:04d}" / f"IMG_{i:07d}.jpg") for i in range(count)]
    sizes = rng.integers(1_500_000, 6_000_000, count)
    mtimes = np.full(count, 1_600_000_000 * 10**9, np.int64)
    if files:
        for i, name in enumerate(names):
            if i % FILES_PER_FOLDER == 0:
                os.makedirs(os.path.dirname(name), exist_ok=True)
            with open(name, "wb") as f:
                f.write(b"\xff\xd8 bench %d" % i)
            st = os.stat(name)
            sizes[i], mtimes[i] = st.st_size, st.st_mtime_ns
    dim = encoder.dim
    vectors = ClusteredVectors(count, dim, seed).sample(count, stream=0)
    start = datetime(2015, 1, 1)
    days = rng.integers(0, 3650, count)
    cameras = rng.integers(0, len(CAMERAS), count)
    formats = rng.integers(0, len(FORMATS), count)
    catalog = Catalog(paths.catalog)
    try:
        with catalog.writing() as s:
            folder_id = s.execute(insert(Folder).values(path=str(root), online=True)).inserted_primary_key[0]
            ensure_space(s, encoder.space_id, encoder.spec.key, weights_identity(encoder.spec, encoder.weights_file), dim)
            for lo in range(0, count, CHUNK):
                hi = min(count, lo + CHUNK)
                s.execute(
                    insert(Photo),
                    [
                        dict(
                            id=i + 1, folder_id=folder_id, path=names[i], size=int(sizes[i]), mtime_ns=int(mtimes[i]),
                            content_hash=f"{i:032x}", width=4000, height=3000, format=FORMATS[formats[i]],
                            taken_at=start + timedelta(days=int(days[i]), seconds=i % 86400),
                            camera_make=CAMERAS[cameras[i]][0], camera_model=CAMERAS[cameras[i]][1],
                            indexed_at=start,
                        )
                        for i in range(lo, hi)
                    ],
                )
                s.execute(
                    insert(Vector),
                    [dict(photo_id=i + 1, space_id=encoder.space_id, vector=pack_vector(vectors[i]), generation=1) for i in range(lo, hi)],
                )
            s.execute(update(Space).where(Space.id == encoder.space_id).values(generation=1))
    finally:
        catalog.close()
    # The graph holds what the catalog holds: float16-rounded vectors, labels = photo ids.
    index = VectorIndex(paths.space_dir(encoder.space_id), encoder.space_id, dim)
    for lo in range(0, count, CHUNK):
        hi = min(count, lo + CHUNK)
        index.add(np.arange(lo + 1, hi + 1, dtype=np.int64), vectors[lo:hi].astype(np.float16).astype(np.float32))
    index.generation = 1
    index.save()
    (folder / "build.txt").write_text(f"{count} photos, built {datetime.now():%Y-%m-%d %H:%M}\n")
