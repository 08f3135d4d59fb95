"""The usual way to search a photo library: vectors in SQLite, every one of them read and scored per query.

This is the baseline the search benchmark compares against (what rclip-style tools do):
no graph, no vectors kept in memory; exact, and linear in the library's size.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np


class BruteForceSearch:
    """Exact top-k over every stored vector of a space, re-read from SQLite for each query."""

    def __init__(self, catalog_path: Path, space_id: str, dim: int) -> None:
        self.db = sqlite3.connect(f"file:{catalog_path}?mode=ro", uri=True)
        self.space_id = space_id
        self.dim = dim

    def search(self, query: np.ndarray, k: int = 20, after: date | None = None, before: date | None = None) -> list[tuple]:
        """(id, path, score, taken_at, camera) of the k best photos, best first."""
        sql = "SELECT v.photo_id, v.vector FROM vectors v"
        args: list = [self.space_id]
        if after or before:
            sql += " JOIN photos p ON p.id = v.photo_id WHERE v.space_id = ? AND p.taken_at BETWEEN ? AND ?"
            args += [f"{after or date.min} 00:00:00", f"{before or date.max} 23:59:59.999999"]
        else:
            sql += " WHERE v.space_id = ?"
        rows = self.db.execute(sql, args).fetchall()
        if not rows:
            return []
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float16).reshape(len(rows), self.dim)
        scores = vectors.astype(np.float32) @ np.asarray(query, np.float32)
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        top = top[np.argsort(-scores[top])]
        marks = ",".join("?" * len(top))
        found = {
            r[0]: r
            for r in self.db.execute(
                f"SELECT id, path, taken_at, camera_make, camera_model FROM photos WHERE id IN ({marks})",
                [int(ids[i]) for i in top],
            )
        }
        return [(int(ids[i]), found[int(ids[i])][1], float(scores[i]), found[int(ids[i])][2], found[int(ids[i])][3]) for i in top]

    def close(self) -> None:
        self.db.close()
