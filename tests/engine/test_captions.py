"""Captions: typed, edited, imported from files, folders and category corrections; a stable split."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.captions import (
    CaptionError,
    add_captions,
    album_name,
    delete_captions,
    edit_caption,
    import_category_corrections,
    import_file,
    import_folder_names,
    is_held_out,
    list_captions,
    training_pairs,
)
from engine.catalog import Caption, Category, CategoryPin, Photo
from tests.conftest import run_all
from tests.factories import make_library


@pytest.fixture
def pics(library, tmp_path: Path) -> dict[str, int]:
    """An indexed library; file name -> photo id."""
    make_library(tmp_path / "pics", per_concept=2, size=(64, 48))
    run_all(library.index_folders([tmp_path / "pics"]))
    with library.catalog.reading() as s:
        return {Path(p).name: i for i, p in s.execute(select(Photo.id, Photo.path))}


def test_caption_edit_and_delete(library, pics):
    ids = [pics["red_stripes_0.jpg"], pics["red_stripes_1.jpg"]]
    report = add_captions(library.catalog, ids, "  Rex   asleep on the sofa ")
    assert (report.added, report.photos) == (2, 2)
    assert add_captions(library.catalog, ids, "Rex asleep on the sofa").existing == 2  # no duplicates
    captions = list_captions(library.catalog)
    assert [(c.text, c.source) for c in captions] == [("Rex asleep on the sofa", "user")] * 2

    edit_caption(library.catalog, captions[0].id, "Rex on the sofa")
    assert sorted(c.text for c in list_captions(library.catalog)) == ["Rex asleep on the sofa", "Rex on the sofa"]
    assert delete_captions(library.catalog, [captions[1].id]) == 1
    assert [c.text for c in list_captions(library.catalog, [ids[0]])] == ["Rex on the sofa"]
    assert list_captions(library.catalog, [ids[1]]) == []


def test_bad_captions_are_refused_with_a_clear_message(library, pics):
    with pytest.raises(CaptionError, match="needs some text"):
        add_captions(library.catalog, [pics["red_stripes_0.jpg"]], "   ")
    with pytest.raises(CaptionError, match="at least one photo"):
        add_captions(library.catalog, [], "Rex")
    with pytest.raises(CaptionError, match="no longer in the library"):
        add_captions(library.catalog, [999999], "Rex")
    assert list_captions(library.catalog) == []


def test_held_out_split_is_stable_and_about_a_fifth():
    split = [is_held_out(i) for i in range(1, 5001)]
    assert split == [is_held_out(i) for i in range(1, 5001)]
    assert 0.17 < sum(split) / len(split) < 0.23


def test_import_csv_and_jsonl_with_relative_paths_and_bad_lines(library, pics, tmp_path: Path):
    csv_file = tmp_path / "caps.csv"
    csv_file.write_text(
        "path,caption\n"
        "pics/red_stripes/red_stripes_0.jpg,\"Rex, in the garden\"\n"
        f"{tmp_path}/pics/blue_checks/blue_checks_1.jpg,the cabin\n"
        "pics/nowhere.jpg,ghost\n"
        "just one column\n"
    )
    report = import_file(library.catalog, csv_file)
    assert report.added == 2 and report.unknown == ["pics/nowhere.jpg"] and len(report.problems) == 1
    jsonl = tmp_path / "caps.jsonl"
    jsonl.write_text(
        json.dumps({"path": "pics/green_noise/green_noise_0.jpg", "caption": "Oma"}) + "\n"
        + "{not json}\n"
        + json.dumps({"path": "pics/red_stripes/red_stripes_0.jpg", "caption": "Rex, in the garden"}) + "\n"
    )
    report = import_file(library.catalog, jsonl)
    assert (report.added, report.existing, len(report.problems)) == (1, 1, 1)
    assert {(Path(c.path).name, c.text, c.source) for c in list_captions(library.catalog)} == {
        ("red_stripes_0.jpg", "Rex, in the garden", "import"),
        ("blue_checks_1.jpg", "the cabin", "import"),
        ("green_noise_0.jpg", "Oma", "import"),
    }
    with pytest.raises(CaptionError, match="cannot read"):
        import_file(library.catalog, tmp_path / "missing.csv")


def test_folder_names_become_album_captions(library, pics, tmp_path: Path):
    report = import_folder_names(library.catalog, tmp_path / "pics" / "yellow_rings")
    assert report.added == 2
    assert {c.text for c in list_captions(library.catalog)} == {"yellow rings"}
    assert album_name("/photos/2019 Cabin_trip/a.jpg") == "2019 Cabin trip"
    assert album_name("/card/DCIM/100CANON/IMG_1.JPG") is None and album_name("/p/2019/a.jpg") is None


def test_category_pins_become_captions(library, pics):
    with library.catalog.writing() as s:
        s.add(Category(id=1, name="Rex", prompts=json.dumps(["a dog"]), threshold=0.2))
        s.add(CategoryPin(category_id=1, photo_id=pics["red_stripes_0.jpg"], pinned=True))
        s.add(CategoryPin(category_id=1, photo_id=pics["red_stripes_1.jpg"], pinned=False))  # excluded: not Rex
    report = import_category_corrections(library.catalog)
    assert report.added == 1
    # The words pinning itself uses: the category's first prompt (what its prototype is made of).
    assert [(Path(c.path).name, c.text, c.source) for c in list_captions(library.catalog)] == [("red_stripes_0.jpg", "a dog", "category")]


def category_captions(library) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(Path(c.path).name, c.text) for c in list_captions(library.catalog) if c.source == "category"]


def test_a_pin_makes_one_caption_whichever_path_and_undoing_it_removes_it(library, pics):
    from engine.categories import Categories, CategoryDraft

    cats = Categories(library)
    cats.add(CategoryDraft("Rex", prompts=("a dog", "my dog")))
    rex, other = pics["red_stripes_0.jpg"], pics["red_stripes_1.jpg"]
    add_captions(library.catalog, [rex], "Rex")  # the person's own words are not a pin's to remove
    cats.pin("Rex", [rex, other])
    report = import_category_corrections(library.catalog)
    assert (report.added, report.existing) == (0, 2)
    assert category_captions(library) == [("red_stripes_0.jpg", "a dog"), ("red_stripes_1.jpg", "a dog")]

    # A caption an older import made in the category's name, as if pinning and importing disagreed.
    with library.catalog.writing() as s:
        s.add(Caption(photo_id=rex, text="Rex", source="category"))
    cats.clear("Rex", [rex])
    cats.exclude("Rex", [other])
    assert category_captions(library) == []
    assert [(c.text, c.source) for c in list_captions(library.catalog, [rex])] == [("Rex", "user")]
    assert {p.text for p in training_pairs(library.catalog)} == {"Rex"}  # nothing left to train the undone pins
    assert import_category_corrections(library.catalog).added == 0  # and an import does not bring them back


def test_an_import_drops_captions_of_pins_undone_before_it(library, pics):
    from engine.categories import Categories, CategoryDraft

    cats = Categories(library)
    cats.add(CategoryDraft("Rex", prompts=("a dog",)))
    rex = pics["red_stripes_0.jpg"]
    cats.pin("Rex", [rex])
    with library.catalog.writing() as s:  # left by an older version that captioned with the name
        s.add(Caption(photo_id=pics["blue_checks_0.jpg"], text="Rex", source="category"))
        s.add(Caption(photo_id=rex, text="Rex", source="category"))
    import_category_corrections(library.catalog)
    assert category_captions(library) == [("red_stripes_0.jpg", "a dog")]
    cats.update("Rex", CategoryDraft("Rex", prompts=("my dog",)))
    assert category_captions(library) == [("red_stripes_0.jpg", "my dog")]
    cats.remove("Rex")
    assert category_captions(library) == []


def test_a_moved_photo_keeps_its_captions_and_split(library, pics, tmp_path: Path):
    photo_id = pics["blue_checks_0.jpg"]
    add_captions(library.catalog, [photo_id], "the cabin")
    add_captions(library.catalog, [photo_id], "the cabin", source="import")
    (tmp_path / "pics" / "moved").mkdir()
    shutil.move(tmp_path / "pics" / "blue_checks" / "blue_checks_0.jpg", tmp_path / "pics" / "moved" / "cabin.jpg")
    run_all(library.index_folders())
    captions = list_captions(library.catalog)
    assert {(Path(c.path).name, c.photo_id) for c in captions} == {("cabin.jpg", photo_id)}
    # The same words from two sources are one training pair.
    assert [(p.photo_id, p.text, p.held_out) for p in training_pairs(library.catalog)] == [(photo_id, "the cabin", is_held_out(photo_id))]
