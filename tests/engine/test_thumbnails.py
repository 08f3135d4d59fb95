"""Thumbnails: made from real files, cached by content, safe for concurrent threads."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from engine.images import UnreadableImage
from engine.thumbnails import Thumbnails
from tests.factories import make_photo


def test_thumbnail_fits_the_edge_and_keeps_orientation_and_aspect(tmp_path: Path):
    # Orientation 6: stored landscape, shown portrait (rotated 90 degrees).
    photo = make_photo(tmp_path / "p.jpg", "blue_checks", size=(1200, 800), orientation=6)
    thumb = Thumbnails(tmp_path / "cache").get(photo, edge=128)
    with Image.open(thumb) as img:
        assert img.format == "JPEG"
        assert max(img.size) == 128
        assert img.size[1] > img.size[0]  # portrait, as a viewer shows it
        assert abs(img.size[0] / img.size[1] - 800 / 1200) < 0.02


def test_moved_file_keeps_its_thumbnail(tmp_path: Path):
    photo = make_photo(tmp_path / "a" / "p.jpg", "red_stripes", size=(640, 480))
    thumbs = Thumbnails(tmp_path / "cache")
    first = thumbs.get(photo)
    stamp = first.stat().st_mtime_ns
    moved = tmp_path / "b" / "renamed.jpg"
    moved.parent.mkdir()
    shutil.move(photo, moved)
    again = thumbs.get(moved)
    assert again == first and again.stat().st_mtime_ns == stamp  # reused, not remade


def test_sizes_are_cached_separately(tmp_path: Path):
    photo = make_photo(tmp_path / "p.png", "green_noise", size=(500, 300))
    thumbs = Thumbnails(tmp_path / "cache")
    small, large = thumbs.get(photo, edge=64), thumbs.get(photo, edge=200)
    assert small != large
    assert Image.open(small).size == (64, 38) and max(Image.open(large).size) == 200


def test_concurrent_makers_of_one_thumbnail_agree(tmp_path: Path):
    photo = make_photo(tmp_path / "p.jpg", "yellow_rings", size=(800, 600))
    thumbs = Thumbnails(tmp_path / "cache")
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: thumbs.get(photo, edge=96), range(16)))
    assert len(set(made)) == 1
    Image.open(made[0]).verify()  # a complete, valid file
    leftovers = [p for p in made[0].parent.iterdir() if p.name.startswith(".thumb-")]
    assert leftovers == []


def test_unreadable_and_missing_files_raise_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all" * 10)
    thumbs = Thumbnails(tmp_path / "cache")
    with pytest.raises(UnreadableImage):
        thumbs.get(bad)
    with pytest.raises(UnreadableImage, match="cannot read file|not found"):
        thumbs.get(tmp_path / "gone.jpg")
    with pytest.raises(UnreadableImage, match="not found"):
        thumbs.get(tmp_path / "gone.jpg", digest="abcdef")
    assert not any(p.is_file() and p.suffix == ".jpg" for p in (tmp_path / "cache").rglob("*"))
