"""Drives mounted inside a chosen folder: unmounting one is not deleting its photos."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from engine.captions import add_captions, list_captions
from engine.catalog import Mount, Photo
from engine.indexer import DRIVE_NOT_CONNECTED
from tests.conftest import run_all
from tests.factories import make_library, make_photo


def photo_ids(library) -> dict[str, int]:
    with library.catalog.reading() as s:
        return dict(s.execute(select(Photo.path, Photo.id)).all())


@pytest.fixture
def other_drive(tmp_path: Path):
    """A folder on another file system than tmp_path (tmpfs), as a second drive would be.

    Mounting needs privileges that tests may not have; a folder link into another file system
    is a real change of device that needs none.
    """
    base = Path("/dev/shm")
    assert base.is_dir() and os.stat(base).st_dev != os.stat(tmp_path).st_dev, (
        "this test needs /dev/shm to be another file system than the temporary folder"
    )
    drive = base / f"litphotos-test-{uuid.uuid4().hex}"
    drive.mkdir()
    yield drive
    shutil.rmtree(drive, ignore_errors=True)
    shutil.rmtree(drive.with_name(drive.name + "-away"), ignore_errors=True)


def test_a_drive_inside_a_chosen_folder_that_goes_away_keeps_its_photos(library, tmp_path: Path, other_drive: Path):
    root = tmp_path / "pics"
    make_library(root, per_concept=1)
    make_library(other_drive, per_concept=2)
    (root / "usb").symlink_to(other_drive, target_is_directory=True)
    report = run_all(library.index_folders([root]))
    assert report.added == 4 + 8
    with library.catalog.reading() as s:
        assert s.execute(select(Mount.path, Mount.device)).all() == [(str(root / "usb"), os.stat(other_drive).st_dev)]
    before = photo_ids(library)
    on_drive = sorted(p for p in before if p.startswith(str(root / "usb") + "/"))
    add_captions(library.catalog, [before[on_drive[0]]], "the lake house")

    away = other_drive.with_name(other_drive.name + "-away")
    other_drive.rename(away)  # the drive is unplugged: its files are not there, nor deleted
    report = run_all(library.index_folders())
    assert (report.removed, report.failed, report.offline) == (0, 0, [str(root / "usb")])
    assert photo_ids(library) == before
    ((path, reason),) = [(f.path, f.reason) for f in library.failures()]
    assert (path, reason) == (str(root / "usb"), DRIVE_NOT_CONNECTED)
    results = {r.path: r.available for r in library.search("a photo", limit=50)}
    assert {p for p, available in results.items() if not available} == set(on_drive)
    assert [c.text for c in list_captions(library.catalog)] == ["the lake house"]

    away.rename(other_drive)  # plugged in again
    report = run_all(library.index_folders())
    assert (report.removed, report.added, report.unchanged, report.offline) == (0, 0, 12, [])
    assert photo_ids(library) == before and library.failures() == []
    assert all(r.available for r in library.search("a photo", limit=50))


def test_an_empty_mount_point_inside_a_folder_is_offline_even_for_a_scan_below_it(library, tmp_path: Path):
    root = tmp_path / "pics"
    make_library(root, per_concept=1)
    make_photo(root / "card" / "2024" / "a.jpg", "red_stripes", seed=3, size=(64, 48))
    make_photo(root / "card" / "2024" / "b.jpg", "blue_checks", seed=4, size=(64, 48))
    run_all(library.index_folders([root]))
    before = photo_ids(library)
    # As a scan saw it while a card was mounted on `card` (another device, as the first test
    # shows with a real one); unmounted, the folder is an empty one of the drive beneath.
    with library.catalog.writing() as s:
        s.execute(insert(Mount).values(path=str(root / "card"), folder_id=library.folders()[0].id, device=os.stat(root).st_dev + 1))
    shutil.move(root / "card" / "2024", tmp_path / "unmounted")

    report = run_all(library.indexer().run([root / "card" / "2024"]))  # the watcher's scope: below it
    assert (report.removed, report.offline) == (0, [str(root / "card")])
    report = run_all(library.index_folders())
    assert (report.removed, report.offline) == (0, [str(root / "card")])
    assert photo_ids(library) == before

    # The person keeps photos in that folder itself now: it is a plain folder again, and what
    # was on the card is gone from it.
    make_photo(root / "card" / "new.jpg", "yellow_rings", seed=5, size=(64, 48))
    report = run_all(library.index_folders())
    assert (report.added, report.removed, report.offline) == (1, 2, [])
    with library.catalog.reading() as s:
        assert s.scalars(select(Mount.path)).all() == []
    assert library.failures() == []


def test_a_subfolder_emptied_on_purpose_is_emptied_in_the_library(library, tmp_path: Path):
    root = tmp_path / "pics"
    photos = make_library(root, per_concept=2)
    run_all(library.index_folders([root]))
    shutil.rmtree(root / "red_stripes")
    (root / "red_stripes").mkdir()  # emptied, on the same drive: not a mount point
    report = run_all(library.index_folders())
    assert (report.removed, report.offline) == (len(photos["red_stripes"]), [])
