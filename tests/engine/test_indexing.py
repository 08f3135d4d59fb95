"""Indexing through the engine API: incremental, moves, changes, deletions."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from engine.catalog import Photo, Vector
from tests.conftest import run_all
from tests.factories import make_library, make_photo


def vectors_by_path(library) -> dict[str, bytes]:
    with library.catalog.reading() as s:
        rows = s.execute(select(Photo.path, Photo.id, Vector.vector, Vector.generation).join(Vector, Vector.photo_id == Photo.id)).all()
    return {r.path: (r.id, r.vector, r.generation) for r in rows}


def test_first_index_embeds_every_photo_and_search_finds_them(library, tmp_path: Path):
    photos = make_library(tmp_path / "pics", per_concept=3)
    report = run_all(library.index_folders([tmp_path / "pics"]))
    assert (report.added, report.failed, report.removed) == (12, 0, 0)
    results = library.search("a photo of stripes", limit=50)
    assert {r.path for r in results} == {str(p) for ps in photos.values() for p in ps}
    assert all(-1.0 <= r.score <= 1.0 for r in results)
    assert results == sorted(results, key=lambda r: -r.score)


def test_reindex_without_changes_decodes_nothing(library, tmp_path: Path, monkeypatch):
    make_library(tmp_path / "pics", per_concept=2)
    run_all(library.index_folders([tmp_path / "pics"]))
    before = vectors_by_path(library)

    import engine.indexer

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged photo was decoded again")

    monkeypatch.setattr(engine.indexer, "decode_for_model", refuse)
    report = run_all(library.index_folders())
    assert (report.added, report.updated, report.unchanged) == (0, 0, 8)
    assert vectors_by_path(library) == before


def test_changed_file_is_reembedded_in_place(library, tmp_path: Path):
    paths = make_library(tmp_path / "pics", per_concept=2)
    run_all(library.index_folders([tmp_path / "pics"]))
    target = paths["red_stripes"][0]
    old_id, old_vec, _ = vectors_by_path(library)[str(target)]
    make_photo(target, "blue_checks", seed=999, size=(160, 120))
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))
    report = run_all(library.index_folders())
    assert (report.updated, report.added) == (1, 0)
    new_id, new_vec, _ = vectors_by_path(library)[str(target)]
    assert new_id == old_id and new_vec != old_vec


def test_moved_and_renamed_files_keep_their_id_and_vector(library, tmp_path: Path):
    paths = make_library(tmp_path / "pics", per_concept=2)
    run_all(library.index_folders([tmp_path / "pics"]))
    before = vectors_by_path(library)
    src = paths["green_noise"][1]
    dst = tmp_path / "pics" / "elsewhere" / "renamed.jpg"
    dst.parent.mkdir()
    shutil.move(src, dst)
    report = run_all(library.index_folders())
    assert (report.moved, report.added, report.removed) == (1, 0, 0)
    after = vectors_by_path(library)
    assert str(src) not in after
    assert after[str(dst)][:2] == before[str(src)][:2]


def test_deleted_file_leaves_catalog_and_search(library, tmp_path: Path):
    paths = make_library(tmp_path / "pics", per_concept=2)
    run_all(library.index_folders([tmp_path / "pics"]))
    gone = paths["yellow_rings"][0]
    gone.unlink()
    report = run_all(library.index_folders())
    assert report.removed == 1
    assert str(gone) not in {r.path for r in library.search("rings", limit=50)}
    assert library.status()["photos"] == 7


def test_similar_returns_the_photo_itself_first(library, tmp_path: Path):
    paths = make_library(tmp_path / "pics", per_concept=3)
    run_all(library.index_folders([tmp_path / "pics"]))
    probe = paths["blue_checks"][2]
    results = library.similar(probe, limit=5)
    assert results[0].path == str(probe)
    assert results[0].score > 0.99


def test_similar_puts_the_photo_itself_before_its_exact_duplicates(library, tmp_path: Path):
    paths = make_library(tmp_path / "pics", per_concept=2)
    original = paths["red_stripes"][0]
    copies = [original.with_name(f"{n}-copy.jpg") for n in ("a", "b", "c")]
    for copy in copies:  # same bytes: the same vector, a tie the graph may break either way
        shutil.copy(original, copy)
    run_all(library.index_folders([tmp_path / "pics"]))
    for probe in [original, *copies]:
        results = library.similar(probe, limit=4)
        assert results[0].path == str(probe) and len(results) == 4
        assert {r.path for r in results} == {str(p) for p in [original, *copies]}


def test_similar_works_for_a_photo_outside_the_library(library, tmp_path: Path):
    paths = make_library(tmp_path / "pics", per_concept=3)
    run_all(library.index_folders([tmp_path / "pics"]))
    outside = make_photo(tmp_path / "outside.jpg", "blue_checks", seed=101, size=(160, 120))
    shutil.copy(paths["blue_checks"][1], tmp_path / "copy.jpg")
    results = library.similar(tmp_path / "copy.jpg", limit=3)
    assert results[0].path == str(paths["blue_checks"][1])
    assert library.similar(outside, limit=3)  # not indexed: embedded on the fly


def test_vector_index_survives_reopen_and_agrees_with_catalog(make_library_obj, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=2)
    lib = make_library_obj()
    run_all(lib.index_folders([tmp_path / "pics"]))
    query = lib.query_vector("checks")
    first = [(r.id, round(r.score, 4)) for r in lib.search(query, limit=8)]
    lib.close()
    again = make_library_obj()
    assert again.index.count == 8
    assert [(r.id, round(r.score, 4)) for r in again.search(query, limit=8)] == first


def test_stored_vectors_are_unit_length_float16(library, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=1)
    run_all(library.index_folders([tmp_path / "pics"]))
    for _, blob, _ in vectors_by_path(library).values():
        vec = np.frombuffer(blob, np.float16).astype(np.float32)
        assert abs(np.linalg.norm(vec) - 1.0) < 1e-2


def make_unreadable(folder: Path, how: str, monkeypatch) -> None:
    """Make `folder` impossible to list, the way a person's disk does it."""
    if how == "permission denied":
        # Tests run as root, for whom chmod 000 changes nothing: the one os-level call that
        # lists the folder fails as it does for a user without permission.
        real_scandir = os.scandir

        def guarded(path="."):
            if os.fspath(path) == str(folder):
                raise PermissionError(13, "Permission denied", str(folder))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", guarded)
    else:  # a link that cannot be followed stands where the folder was (ELOOP, for real)
        folder.rename(folder.with_name("." + folder.name + "-away"))
        folder.symlink_to(folder.name)


def make_readable(folder: Path, how: str, monkeypatch) -> None:
    if how == "permission denied":
        monkeypatch.undo()
    else:
        folder.unlink()
        folder.with_name("." + folder.name + "-away").rename(folder)


@pytest.mark.parametrize("how", ["permission denied", "link loop"])
def test_a_subfolder_that_cannot_be_read_keeps_its_photos(library, tmp_path: Path, monkeypatch, how: str):
    from engine.captions import add_captions, list_captions
    from engine.categories import Categories, CategoryDraft

    paths = make_library(tmp_path / "pics", per_concept=2)
    run_all(library.index_folders([tmp_path / "pics"]))
    before = {path: ids[0] for path, ids in vectors_by_path(library).items()}
    blue = [str(p) for p in paths["blue_checks"]]
    add_captions(library.catalog, [before[blue[0]]], "grandma's kitchen tiles")
    cats = Categories(library)
    cats.add(CategoryDraft("tiles", threshold=-1.0))
    cats.pin("tiles", [blue[1]])
    captions = [(c.photo_id, c.text) for c in list_captions(library.catalog)]
    assert len(captions) == 2  # the person's words, and the pin's

    sub = tmp_path / "pics" / "blue_checks"
    make_unreadable(sub, how, monkeypatch)
    report = run_all(library.index_folders())
    assert (report.removed, report.added, report.failed) == (0, 0, 1)
    assert library.status()["photos"] == 8
    (failure,) = library.failures()
    assert failure.path == str(sub) and failure.reason.startswith(("folder cannot be read", "cannot be read"))
    assert ("permission denied" if how == "permission denied" else "symbolic links") in failure.reason.lower()
    results = {r.path: r for r in library.search("checks", limit=50)}
    assert set(results) == set(before)  # still found, shown unavailable like an unplugged drive
    assert {p for p, r in results.items() if not r.available} == set(blue)
    assert [(c.photo_id, c.text) for c in list_captions(library.catalog)] == captions
    assert cats.get("tiles").pinned == 1

    make_readable(sub, how, monkeypatch)
    report = run_all(library.index_folders())
    assert (report.removed, report.added, report.unchanged, report.failed) == (0, 0, 8, 0)
    assert library.failures() == []
    assert {path: ids[0] for path, ids in vectors_by_path(library).items()} == before  # ids kept
    assert all(r.available for r in library.search("checks", limit=50))
    assert [(c.photo_id, c.text) for c in list_captions(library.catalog)] == captions
    assert cats.get("tiles").pinned == 1
