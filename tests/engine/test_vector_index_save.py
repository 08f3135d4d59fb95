"""The saved search graph is rewritten only when it changed (a re-scan of a big library stays cheap)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import run_all
from tests.factories import make_library, make_photo


def graph_files(library) -> list[Path]:
    return sorted(library.paths.space_dir(library.space_id).glob("index-*.hnsw"))


def test_no_change_rescan_leaves_the_graph_file_alone_and_a_change_replaces_it(library, tmp_path: Path):
    photos = make_library(tmp_path / "pics", per_concept=2)
    run_all(library.index_folders([tmp_path / "pics"]))
    [saved] = graph_files(library)
    before = saved.stat()

    report = run_all(library.index_folders())
    assert report.unchanged == 8
    assert graph_files(library) == [saved]
    assert saved.stat().st_ino == before.st_ino and saved.stat().st_mtime_ns == before.st_mtime_ns

    target = photos["red_stripes"][0]
    make_photo(target, "blue_checks", seed=7, size=(160, 120))
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert run_all(library.index_folders()).updated == 1
    [newer] = graph_files(library)
    assert newer != saved  # a newer generation, and the old file is gone
    assert str(target) in {r.path for r in library.search("stripes", limit=8)}
