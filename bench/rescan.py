"""Re-scan: a no-change re-index of 100k files must only stat them (target under 5 s).

Ours: `Library.index_folders()` (walk, stat, one diff against the catalog in bulk, nothing
decoded, the model never loaded). Baseline: the usual way, walk and stat each file and look
it up in the catalog with one query per file (what rclip-style tools do).
"""

from __future__ import annotations

import os
import sqlite3

from bench.homes import synthetic_home
from bench.model import bench_encoder
from bench.rows import row
from bench.sizes import sizes
from bench.timing import timed
from engine.catalog import Catalog
from engine.library import Library

TARGET_S = 5.0


def run(quick: bool) -> list[dict]:
    s = sizes(quick)
    encoder = bench_encoder(s.tiny)  # never loaded: nothing changed, nothing to embed
    home = synthetic_home(s.rescan_files, encoder, files=True)
    library = Library(home.paths, Catalog(home.paths.catalog), encoder)
    try:
        _ = library.index  # a running app has its graph open already
        changed = _per_file_lookup(home.paths.catalog, home.photos_root)  # warms the file system cache
        if changed:
            raise RuntimeError(f"the synthetic library changed on disk ({changed} files); delete the bench cache")
        ours, report = min((timed(lambda: _rescan(library)) for _ in range(2)), key=lambda t: t[0])
        base = min(timed(lambda: _per_file_lookup(home.paths.catalog, home.photos_root))[0] for _ in range(2))
    finally:
        library.catalog.close()
    if report.unchanged != s.rescan_files or report.added or report.updated or report.removed:
        raise RuntimeError(f"a no-change re-scan changed something: {report.as_dict()}")
    n = s.rescan_files
    label = f"{n // 1000}k" if n >= 1000 else str(n)
    return [
        row(
            f"re-scan {label} unchanged files", ours, base, "s", higher_is_better=False,
            target=f"< {TARGET_S:.0f} s" if not s.tiny else "", met=(ours < TARGET_S) if not s.tiny else None,
            note=f"{n / ours:,.0f} files/s; model loaded: {'yes' if encoder.loaded else 'no'}; "
            "baseline: walk + stat + one catalog query per file; warm file-system cache",
        )
    ]


def _rescan(library: Library):  # noqa: ANN202 - IndexReport
    report = None
    for event in library.index_folders():
        report = event.report or report
    return report


def _per_file_lookup(catalog_path, root) -> int:  # noqa: ANN001
    """Walk, stat, and one indexed SELECT per file; returns how many files differ from the catalog."""
    db = sqlite3.connect(f"file:{catalog_path}?mode=ro", uri=True)
    changed = 0
    try:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                st = os.stat(path)
                found = db.execute("SELECT size, mtime_ns FROM photos WHERE path = ?", (os.fsencode(path),)).fetchone()
                changed += found != (st.st_size, st.st_mtime_ns)
    finally:
        db.close()
    return changed
