"""Benchmark: how many photos a model switch waits for (those out of reach), with many failures.

A switch to a new image model waits for photos on unplugged drives or below folders that
cannot be listed (`engine.spaces.waiting_count`); the app shows that count while it builds.
A big library also has thousands of corrupt or unreadable files in its failures table.

Ours: only folder failures are compared with each photo's path (`failures.folder`, indexed).
Baseline: the plain way, every failure compared with every photo path (what the catalog did
before schema 3). Synthetic catalog: every photo missing from the new space, 1 folder failure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import LargeBinary, cast, exists, func, insert, literal, select
from sqlalchemy.orm import Session

from bench.rows import row
from bench.sizes import sizes
from bench.timing import best_of, timed
from engine.catalog import Catalog, Failure, Folder, Photo, Space, Vector
from engine.spaces import waiting_count

SPACE = "new-model"
PER_FOLDER = 100


def run(quick: bool) -> list[dict]:
    s = sizes(quick)
    n, failures = s.waiting_photos, s.waiting_failures
    with tempfile.TemporaryDirectory(prefix="litphotos-bench-waiting-") as tmp:
        catalog = _catalog(Path(tmp) / "catalog.sqlite", n, failures)
        try:
            counted = _count(catalog, lambda session: waiting_count(session, SPACE))
            ours = best_of(3, lambda: _count(catalog, lambda session: waiting_count(session, SPACE)))
            base, plain = timed(lambda: _count(catalog, _plain_waiting_count))  # one run: it is slow
            if counted != plain or counted != PER_FOLDER:
                raise RuntimeError(f"the two counts disagree: ours {counted}, plain {plain}, expected {PER_FOLDER}")
        finally:
            catalog.close()
    return [
        row(
            f"model switch: photos out of reach, {n // 1000}k missing x {failures:,} failures", ours, base, "s",
            higher_is_better=False, target="< 1 s", met=ours < 1.0 if not s.tiny else None,
            note="baseline: every failure compared with every photo path (before catalog schema 3)",
        )
    ]


def _count(catalog: Catalog, how: Callable[[Session], int]) -> int:
    with catalog.reading() as session:
        return how(session)


def _plain_waiting_count(session: Session) -> int:
    below_any_failure = exists().where(
        Photo.path >= cast(Failure.path.op("||")(literal(b"/", LargeBinary)), LargeBinary),
        Photo.path < cast(Failure.path.op("||")(literal(b"0", LargeBinary)), LargeBinary),
    )
    lacking = ~exists().where(Vector.photo_id == Photo.id, Vector.space_id == SPACE)
    query = (
        select(func.count()).select_from(Photo).join(Folder, Folder.id == Photo.folder_id)
        .where(lacking, Folder.online.is_(False) | below_any_failure)
    )
    return int(session.scalar(query) or 0)


def _catalog(path: Path, n: int, failures: int) -> Catalog:
    """`n` photos, none embedded in SPACE; `failures` corrupt files and one unreadable folder."""
    catalog = Catalog(path)
    with catalog.writing() as s:
        folder_id = s.execute(insert(Folder).values(path="/photos", online=True)).inserted_primary_key[0]
        s.execute(insert(Space).values(id=SPACE, model_key="bench", weights_id="bench", dim=8))
        s.execute(insert(Photo), [
            dict(id=i + 1, folder_id=folder_id, path=f"/photos/{i // PER_FOLDER:05d}/IMG_{i:07d}.jpg", size=1, mtime_ns=1,
                 content_hash=f"{i:032x}", width=1, height=1, format="JPEG", taken_at=datetime(2020, 1, 1))
            for i in range(n)
        ])
        s.execute(insert(Failure), [
            dict(path=f"/photos/{i % (n // PER_FOLDER):05d}/broken_{i:07d}.jpg", folder_id=folder_id, size=1, mtime_ns=1,
                 reason="cannot identify image file")
            for i in range(failures)
        ])
        s.execute(insert(Failure).values(path="/photos/00007", folder_id=folder_id, size=0, mtime_ns=0,
                                         reason="folder cannot be read: Permission denied", folder=True))
    return catalog
