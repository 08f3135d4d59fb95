"""Two processes writing the catalog at once (a headless watcher and an indexer), a third reading."""

from __future__ import annotations

import shutil
import signal
import threading
import time
from pathlib import Path

from sqlalchemy import func, select, text

from engine.catalog import Catalog, Photo, prefix_range
from main import build_parser, compose
from tests.conftest import run_all
from tests.factories import make_photo
from tests.processes import Lines, start

BATCH = 16  # the indexer's commit batch
SECOND = 10 * BATCH  # photos in the indexer's folder: ten batches for the reader to catch


def test_watcher_and_indexer_processes_write_while_a_reader_sees_whole_batches(home: Path, tmp_path: Path):
    watched, second = tmp_path / "watched", tmp_path / "second"
    make_photo(watched / "first.jpg", "red_stripes", seed=1, size=(64, 48))
    for i in range(SECOND):
        make_photo(second / f"s{i:03d}.jpg", "blue_checks", seed=i, size=(64, 48))
    card = [make_photo(tmp_path / "card" / f"c{i:03d}.jpg", "yellow_rings", seed=500 + i, size=(64, 48)) for i in range(60)]
    lib = compose(build_parser().parse_args(["--home", str(home), "--offline", "--model", "tiny-test", "status"]))
    run_all(lib.index_folders([watched]))
    lib.close()

    # The watcher skips its start-up scan so that only the indexer process embeds `second`
    # (the reader checks that process's commit batches).
    watcher = start(home, "watch", "--debounce", "0.3", "--poll", "0.2", "--no-reconcile")
    out, err = Lines(watcher.stdout), Lines(watcher.stderr)
    indexer = None
    try:
        err.wait_for("Ctrl-C stops", timeout=120)

        # The reader starts before the indexer does, so that it sees the indexer's batches
        # arrive (not only the end): one snapshot at a time, never a photo without its
        # vector, and the other process's photos appear a whole commit batch at a time.
        reader = Catalog(home / "catalog.sqlite")
        low, high = prefix_range(second)
        seen_counts, problems = set(), []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                with reader.reading() as s:
                    orphans = s.execute(
                        text(
                            "SELECT count(*) FROM photos p WHERE NOT EXISTS (SELECT 1 FROM vectors v "
                            "WHERE v.photo_id = p.id AND v.space_id = 'tiny-test--random-seed0')"
                        )
                    ).scalar()
                    count = s.scalar(select(func.count()).select_from(Photo).where(Photo.path >= low, Photo.path < high))
                if orphans:
                    problems.append(f"{orphans} photos without a vector")
                if count % BATCH and count != SECOND:
                    problems.append(f"{count} photos of the indexer's folder: half a batch")
                seen_counts.add(count)
                time.sleep(0.01)

        reading = threading.Thread(target=read)
        reading.start()
        indexer = start(home, "index", str(second))
        deadline = time.monotonic() + 120
        while not any(0 < n for n in seen_counts):  # the indexer's first batch is in
            assert time.monotonic() < deadline, "the indexer never committed a batch"
            time.sleep(0.005)
        (watched / "card").mkdir()
        for src in card:  # meanwhile, a camera card is copied into the watched folder
            shutil.copy2(src, watched / "card" / src.name)
        indexer_out, indexer_err = indexer.communicate(timeout=180)
        deadline = time.monotonic() + 120
        while True:
            with reader.reading() as s:
                if s.scalar(select(func.count()).select_from(Photo)) == 1 + SECOND + len(card):
                    break
            assert time.monotonic() < deadline, "the watcher never indexed the copied card"
            time.sleep(0.2)
        stop.set()
        reading.join()
        reader.close()
    finally:
        watcher.send_signal(signal.SIGINT)  # Ctrl-C
        code = watcher.wait(timeout=60)
        if indexer is not None and indexer.poll() is None:
            indexer.kill()
            indexer.wait()

    assert indexer.returncode == 0, indexer_err
    assert f"added {SECOND}" in indexer_out
    assert code == 0, err.text
    assert "stopped" in err.text
    assert "locked" not in (err.text + indexer_err).lower()
    assert problems == []
    assert {0, SECOND} < seen_counts  # the reader saw before, during and after the indexer's batches
    batches = [line for line in out.text.splitlines() if "changes in" in line]
    assert sum(int(line.split("added ")[1].split(",")[0]) for line in batches) == 60
    lib = compose(build_parser().parse_args(["--home", str(home), "--offline", "status"]))
    try:
        assert lib.status()["photos"] == lib.status()["embedded"] == lib.index.count == 1 + SECOND + len(card)
    finally:
        lib.close()
