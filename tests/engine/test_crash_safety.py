"""Killing the indexer at any moment loses at most the batch in flight; the next run completes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO
from tests.factories import make_photo


def count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def start_indexing(home: Path, folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "--home", str(home), "--model", "tiny-test", "--offline", "index", str(folder), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


def test_sigkill_mid_index_then_resume_completes_without_duplicates(tmp_path: Path):
    folder = tmp_path / "pics"
    total = 160
    for i in range(total):
        make_photo(folder / f"{i // 60}" / f"p{i:03d}.jpg", ["red_stripes", "blue_checks", "green_noise", "yellow_rings"][i % 4], seed=i, size=(256, 192))
    home = tmp_path / "home"
    db = home / "catalog.sqlite"

    proc = start_indexing(home, folder)
    deadline = time.monotonic() + 120
    while count(db, "SELECT count(*) FROM vectors") < 32:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = count(db, "SELECT count(*) FROM vectors")
    assert 0 < done_before < total, "the kill must land mid-run for this test to mean anything"

    proc = start_indexing(home, folder)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    import json

    report = json.loads(out)
    assert report["added"] == total - done_before
    assert report["unchanged"] == done_before
    assert count(db, "SELECT count(*) FROM photos") == total
    assert count(db, "SELECT count(*) FROM vectors") == total
    assert count(db, "SELECT count(*) FROM (SELECT path FROM photos GROUP BY path HAVING count(*) > 1)") == 0
    assert count(db, "SELECT count(*) FROM photos WHERE id NOT IN (SELECT photo_id FROM vectors)") == 0

    # The vector index agrees with the catalog, in a fresh process too.
    status = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--home", str(home), "--offline", "status", "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    data = json.loads(status.stdout)
    assert data["photos"] == total and data["index"]["count"] == total


def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(tmp_path: Path):
    folder = tmp_path / "pics"
    total = 160
    for i in range(total):
        make_photo(folder / f"p{i:03d}.jpg", "green_noise", seed=i, size=(256, 192))
    home = tmp_path / "home"
    db = home / "catalog.sqlite"
    proc = start_indexing(home, folder)
    deadline = time.monotonic() + 120
    while count(db, "SELECT count(*) FROM vectors") < 16:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "run `index` again" in err
    import json

    first = json.loads(out)
    assert first["cancelled"] is True and 0 < first["added"] < total
    proc = start_indexing(home, folder)
    out, _ = proc.communicate(timeout=300)
    assert json.loads(out)["added"] == total - first["added"]
    assert count(db, "SELECT count(*) FROM vectors") == total
