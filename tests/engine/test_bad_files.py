"""Bad input never stops a scan, is recorded with a reason, and is retried only when it changes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import run_all
from tests.factories import make_photo, png_bomb


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    root = tmp_path / "messy"
    good = make_photo(root / "good.jpg", "red_stripes", seed=1)
    make_photo(root / "also good.png", "blue_checks", seed=2)
    # Truncated JPEG: the first half of a real one.
    data = good.read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(3000))
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.jpg").write_text("this is a text file with an image extension\n")
    png_bomb(root / "bomb.png")
    os.mkfifo(root / "pipe.jpg")  # must not block the scan
    (root / "loop").symlink_to(root, target_is_directory=True)  # a symlink loop
    (root / "dangling.jpg").symlink_to(root / "does-not-exist.jpg")
    return root


def reasons(library) -> dict[str, str]:
    return {Path(f.path).name: f.reason for f in library.failures()}


def test_every_bad_file_is_recorded_with_a_reason_and_good_ones_indexed(library, messy: Path):
    report = run_all(library.index_folders([messy]))
    assert report.added == 2
    got = reasons(library)
    assert set(got) == {"truncated.jpg", "corrupt.jpg", "empty.jpg", "notes.jpg", "bomb.png", "pipe.jpg", "dangling.jpg"}
    assert "truncated" in got["truncated.jpg"]
    assert "empty" in got["empty.jpg"]
    assert "too large" in got["bomb.png"]
    assert "not a regular file" in got["pipe.jpg"]
    assert "broken symbolic link" in got["dangling.jpg"]
    assert report.failed == 7
    assert {Path(r.path).name for r in library.search("anything", limit=10)} == {"good.jpg", "also good.png"}


def test_failures_are_not_retried_until_the_file_changes(library, messy: Path, monkeypatch):
    run_all(library.index_folders([messy]))
    import engine.indexer

    decoded = []
    real = engine.indexer.decode_for_model
    monkeypatch.setattr(engine.indexer, "decode_for_model", lambda p, pre: decoded.append(p.name) or real(p, pre))
    run_all(library.index_folders())
    assert decoded == []  # nothing re-decoded: known failures and unchanged photos are skipped

    good = (messy / "good.jpg").read_bytes()
    (messy / "truncated.jpg").write_bytes(good)  # the user fixed the file
    later = time.time_ns() + 2 * 10**9
    os.utime(messy / "truncated.jpg", ns=(later, later))
    report = run_all(library.index_folders())
    assert decoded == ["truncated.jpg"]
    assert report.added == 1
    assert "truncated.jpg" not in reasons(library)


def test_removed_bad_file_leaves_the_failure_list(library, messy: Path):
    run_all(library.index_folders([messy]))
    (messy / "notes.jpg").unlink()
    run_all(library.index_folders())
    assert "notes.jpg" not in reasons(library)


def test_odd_and_non_utf8_file_names_round_trip(library, tmp_path: Path):
    root = tmp_path / "odd"
    names = ["späße 🐈.jpg", "new\nline.jpg", "-starts-with-dash.jpg", " spaced .jpg", "UPPER.JPEG"]
    for i, name in enumerate(names):
        make_photo(root / name, "green_noise", seed=i)
    raw = os.fsencode(root) + b"/caf\xe9-latin1.jpg"  # not valid UTF-8
    make_photo(Path(os.fsdecode(raw)), "yellow_rings", seed=9)
    report = run_all(library.index_folders([root]))
    assert report.added == 6 and report.failed == 0
    found = {r.path for r in library.search("noise", limit=10)}
    assert os.fsdecode(raw) in found
    assert all(os.path.exists(p) for p in found)  # stored paths open the real files
    run_all(library.index_folders())  # and the second scan sees them unchanged
    assert library.status()["photos"] == 6


def test_every_supported_format_is_indexed(library, tmp_path: Path):
    root = tmp_path / "formats"
    for i, ext in enumerate(["jpg", "png", "webp", "gif", "bmp", "tiff", "heic"]):
        make_photo(root / f"photo.{ext}", "blue_checks", seed=i)
    report = run_all(library.index_folders([root]))
    assert report.added == 7, library.failures()
    formats = {r.format for r in library.search("checks", limit=10)}
    assert formats == {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF"}


def test_exif_orientation_and_metadata_are_read(library, tmp_path: Path):
    from datetime import datetime

    root = tmp_path / "exif"
    make_photo(root / "rotated.jpg", "red_stripes", size=(320, 240), orientation=6,
               taken=datetime(2019, 7, 14, 9, 30), camera=("Canon", "EOS 5D"))
    run_all(library.index_folders([root]))
    (result,) = library.search("stripes", limit=1)
    assert (result.width, result.height) == (240, 320)  # as a person sees it
    assert result.taken_at == datetime(2019, 7, 14, 9, 30)
    assert result.camera == "Canon EOS 5D"


def test_a_file_vanishing_mid_scan_is_skipped_quietly(library, tmp_path: Path, monkeypatch):
    root = tmp_path / "vanish"
    for i in range(4):
        make_photo(root / f"p{i}.jpg", "red_stripes", seed=i)
    import engine.indexer

    real = engine.indexer.decode_for_model

    def delete_then_decode(path, pre):
        if path.name == "p2.jpg":
            path.unlink()
        return real(path, pre)

    monkeypatch.setattr(engine.indexer, "decode_for_model", delete_then_decode)
    report = run_all(library.index_folders([root]))
    assert report.added == 3 and report.failed == 0
    assert library.failures() == []


@pytest.mark.parametrize(
    "error, reason",
    [(PermissionError(13, "Permission denied"), "permission denied"), (OSError(5, "Input/output error"), "input/output error")],
)
def test_a_file_that_cannot_be_opened_is_a_failure_not_a_vanished_file(library, tmp_path: Path, monkeypatch, error, reason):
    root = tmp_path / "locked"
    for i in range(3):
        make_photo(root / f"p{i}.jpg", "red_stripes", seed=i)
    locked = str(root / "p1.jpg")
    import builtins

    import engine.scanner

    # Tests run as root, for whom chmod 000 changes nothing: the one open() of the file the
    # indexer makes first (to hash it) fails the way it would for a user without permission,
    # or on a failing disk.
    real_open = builtins.open

    def guarded_open(path, *args, **kwargs):
        if str(path) == locked:
            raise error
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(engine.scanner, "open", guarded_open, raising=False)
    report = run_all(library.index_folders([root]))
    assert (report.added, report.failed) == (2, 1)
    assert reason in reasons(library)["p1.jpg"].lower()

    report = run_all(library.index_folders())  # unchanged: still a failure, not retried
    assert (report.added, report.unchanged, report.failed) == (0, 2, 1)

    monkeypatch.undo()  # readable again, and the file changed: it is retried and indexed
    later = time.time_ns() + 2 * 10**9
    os.utime(locked, ns=(later, later))
    report = run_all(library.index_folders())
    assert (report.added, report.failed) == (1, 0)
    assert reasons(library) == {}
