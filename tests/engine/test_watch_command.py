"""`main.py watch` as a home server runs it: a model switch waiting for a drive finishes when it is back."""

from __future__ import annotations

import signal
from pathlib import Path

from main import build_parser, compose
from tests.conftest import run_all
from tests.factories import make_library
from tests.processes import Lines, start


def test_watch_finishes_a_switch_that_waited_for_a_drive_once_it_is_plugged_in(home: Path, tmp_path: Path):
    pics, drive = tmp_path / "pics", tmp_path / "drive"
    make_library(pics, per_concept=2, size=(64, 48))
    make_library(drive, per_concept=1, size=(64, 48))
    lib = compose(build_parser().parse_args(["--home", str(home), "--offline", "--model", "tiny-test", "status"]))
    run_all(lib.index_folders([pics, drive]))
    lib.close()
    drive.rename(tmp_path / "unplugged")

    watcher = start(home, "--model", "tiny-test-b", "watch", "--debounce", "0.3", "--poll", "0.3")
    out, err = Lines(watcher.stdout), Lines(watcher.stderr)
    try:
        out.wait_for("4 photos wait for a folder that is offline", timeout=120)
        (tmp_path / "unplugged").rename(drive)  # plugged in again
        out.wait_for("folder back online", timeout=60)
        out.wait_for("searching with tiny-test-b now", timeout=120)
    finally:
        watcher.send_signal(signal.SIGINT)
        code = watcher.wait(timeout=60)
    assert code == 0, err.text
    lib = compose(build_parser().parse_args(["--home", str(home), "--offline", "status"]))
    try:
        assert lib.encoder.spec.key == "tiny-test-b" and lib.index.count == 12
    finally:
        lib.close()
