"""Words from XMP sidecars and embedded XMP/IPTC/EXIF become captions; files are only read."""

from __future__ import annotations

import hashlib
from pathlib import Path

from engine.captions import import_metadata, list_captions
from engine.metadata import parse_xmp, read_captions
from tests.conftest import run_all
from tests.factories import make_photo
from tests.metadata_factories import photo_with_exif_text, photo_with_iptc, photo_with_xmp, write_sidecar, xmp_packet


def texts(captions) -> dict[str, str]:  # noqa: ANN001
    return {c.text: c.source for c in captions}


def test_darktable_sidecar_with_digikam_and_lightroom_keywords(tmp_path: Path):
    photo = make_photo(tmp_path / "IMG_0001.jpg", size=(96, 72))
    write_sidecar(photo, xmp_packet(
        description="Rex asleep on the sofa",
        subjects=("Rex", "sofa"),
        hierarchical=("Places|Norway|the cabin", "People|Family|Oma"),
        digikam_tags=("People/Family/Oma", "Color Label/Red", "Pick Label/Accepted"),
    ), style="darktable")
    found = read_captions(photo)
    assert texts(found) == {"Rex asleep on the sofa": "xmp", "Rex": "xmp", "sofa": "xmp", "the cabin": "xmp", "Oma": "xmp"}
    assert {c.kind for c in found if c.text == "Rex asleep on the sofa"} == {"description"}


def test_lightroom_sidecar_of_a_raw_file_that_pillow_cannot_open(tmp_path: Path):
    raw = tmp_path / "DSC_0042.NEF"
    raw.write_bytes(b"not something Pillow can decode")
    write_sidecar(raw, xmp_packet(title="First snow at the cabin", subjects=("winter",)), style="lightroom")
    assert (tmp_path / "DSC_0042.xmp").exists()
    assert texts(read_captions(raw)) == {"First snow at the cabin": "xmp", "winter": "xmp"}


def test_embedded_xmp_in_a_jpeg(tmp_path: Path):
    photo = photo_with_xmp(tmp_path / "a.jpg", xmp_packet(description="Oma's 90th birthday", subjects=("Oma", "cake"), headline="Party"))
    assert texts(read_captions(photo)) == {"Oma's 90th birthday": "xmp", "Oma": "xmp", "cake": "xmp", "Party": "xmp"}


def test_iptc_caption_and_keywords_utf8_and_latin1(tmp_path: Path):
    utf8 = photo_with_iptc(tmp_path / "u.jpg", "Großmutter am See", ("Großmutter", "See"))
    latin = photo_with_iptc(tmp_path / "l.jpg", "Café in Zürich", ("Zürich",), utf8=False)
    assert texts(read_captions(utf8)) == {"Großmutter am See": "iptc", "Großmutter": "iptc", "See": "iptc"}
    assert texts(read_captions(latin)) == {"Café in Zürich": "iptc", "Zürich": "iptc"}


def test_exif_description_and_windows_xp_fields(tmp_path: Path):
    photo = photo_with_exif_text(
        tmp_path / "w.jpg", description="Harbour at dusk", xp_title="Bergen", xp_comment="with Rex",
        xp_keywords="boats;harbour; Rex", xp_subject="holiday",
    )
    assert texts(read_captions(photo)) == {
        "Harbour at dusk": "exif", "Bergen": "exif", "with Rex": "exif", "boats": "exif", "harbour": "exif", "Rex": "exif", "holiday": "exif",
    }


def test_camera_boilerplate_is_not_a_caption(tmp_path: Path):
    photo = photo_with_exif_text(tmp_path / "o.jpg", description="OLYMPUS DIGITAL CAMERA         ")
    assert read_captions(photo) == []


def test_damaged_xmp_is_skipped_without_losing_the_rest(tmp_path: Path):
    photo = photo_with_iptc(tmp_path / "d.jpg", "the old barn")
    (tmp_path / "d.jpg.xmp").write_bytes(b"<x:xmpmeta><rdf:RDF>broken")
    assert texts(read_captions(photo)) == {"the old barn": "iptc"}
    assert parse_xmp(b"\x00\x00") == [] and parse_xmp(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>&bad;</x:xmpmeta>") == []


def test_import_metadata_stores_captions_with_their_source_and_writes_nothing(library, tmp_path: Path):
    pics = tmp_path / "pics"
    xmp = photo_with_xmp(pics / "xmp.jpg", xmp_packet(description="Rex on the beach"))
    iptc = photo_with_iptc(pics / "iptc.jpg", "Oma at the cabin", ("Oma",))
    exif = photo_with_exif_text(pics / "sub" / "exif.jpg", xp_keywords="snow;cabin")
    side = make_photo(pics / "sub" / "side.jpg", size=(96, 72))
    write_sidecar(side, xmp_packet(subjects=("Rex",)))
    plain = make_photo(pics / "plain.jpg", size=(96, 72))
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in pics.rglob("*") if p.is_file()}
    run_all(library.index_folders([pics]))

    report = import_metadata(library.catalog)
    assert (report.added, report.photos, report.problems) == (6, 4, [])
    stored = {(Path(c.path).name, c.text, c.source) for c in list_captions(library.catalog)}
    assert stored == {
        ("xmp.jpg", "Rex on the beach", "xmp"),
        ("iptc.jpg", "Oma at the cabin", "iptc"),
        ("iptc.jpg", "Oma", "iptc"),
        ("exif.jpg", "snow", "exif"),
        ("exif.jpg", "cabin", "exif"),
        ("side.jpg", "Rex", "xmp"),
    }
    assert plain.name not in {n for n, _, _ in stored}
    again = import_metadata(library.catalog)
    assert (again.added, again.existing) == (0, 6)
    only_sub = import_metadata(library.catalog, folder=pics / "sub")
    assert only_sub.existing == 3
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in pics.rglob("*") if p.is_file()} == digest
