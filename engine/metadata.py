"""Words people already keep with their photos: XMP, IPTC, EXIF, and `.xmp` sidecar files.

digiKam, Lightroom and darktable users have years of keywords and descriptions in these;
they become captions for the trainer. Read-only: no photo or sidecar is ever written.

    XMP   dc:description, dc:title, dc:subject, lr:hierarchicalSubject (leaf), digiKam:TagsList
          (leaf), photoshop:Headline; embedded, or in `photo.xmp` / `photo.jpg.xmp` sidecars
    IPTC  caption/abstract (2:120), headline (2:105), object name (2:05), keywords (2:25)
    EXIF  ImageDescription, XPTitle, XPComment, XPKeywords, XPSubject
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, IptcImagePlugin, UnidentifiedImageError

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
LR = "{http://ns.adobe.com/lightroom/1.0/}"
DIGIKAM = "{http://www.digikam.org/ns/1.0/}"
PHOTOSHOP = "{http://ns.adobe.com/photoshop/1.0/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# XMP property -> (kind, separator of hierarchical values or None)
XMP_PROPERTIES = {
    DC + "description": ("description", None),
    DC + "title": ("title", None),
    PHOTOSHOP + "Headline": ("title", None),
    DC + "subject": ("keyword", None),
    LR + "hierarchicalSubject": ("keyword", "|"),
    DIGIKAM + "TagsList": ("keyword", "/"),
}
# Hierarchies that are bookkeeping, not words about the picture.
INTERNAL_TAG_ROOTS = {"color label", "pick label", "_digikam_internal_tags_", "digikam", "darktable", "lightroom"}

EXIF_DESCRIPTION = 0x010E
EXIF_XP = {0x9C9B: "title", 0x9C9C: "description", 0x9C9E: "keyword", 0x9C9F: "title"}  # XPTitle/Comment/Keywords/Subject
IPTC = {(2, 120): "description", (2, 105): "title", (2, 5): "title", (2, 25): "keyword"}

# What cameras write into ImageDescription when the person wrote nothing.
CAMERA_BOILERPLATE = re.compile(
    r"^(olympus digital camera|sony dsc|samsung camera pictures|exif_jpeg_picture|default|image|untitled|"
    r"digital camera|camera|dcim.*|kodak.*|<kenox.*>|lead technologies.*|\W*)$",
    re.I,
)


@dataclass(frozen=True)
class MetaCaption:
    text: str
    source: str  # 'xmp', 'iptc' or 'exif' (the Caption table's source)
    kind: str  # 'description', 'title' or 'keyword'


def sidecars(photo: Path) -> list[Path]:
    """Existing `.xmp` sidecars of a photo: `IMG_1.xmp` (Lightroom) and `IMG_1.jpg.xmp` (darktable, digiKam)."""
    candidates = [photo.with_suffix(".xmp"), photo.with_suffix(".XMP"), photo.with_name(photo.name + ".xmp"), photo.with_name(photo.name + ".XMP")]
    seen, found = set(), []
    for c in candidates:
        if c.is_file() and c.resolve() not in seen:
            seen.add(c.resolve())
            found.append(c)
    return found


def read_captions(photo: Path) -> list[MetaCaption]:
    """Captions from a photo's sidecars and embedded metadata, first of each text kept."""
    found: list[MetaCaption] = []
    for sidecar in sidecars(photo):
        found += parse_xmp(sidecar.read_bytes())
    try:
        with Image.open(photo) as image:
            found += parse_xmp(_embedded_xmp(image))
            found += _iptc(image)
            found += _exif(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError):
        pass  # not a readable image: its sidecars still count
    unique: dict[str, MetaCaption] = {}
    for item in found:
        unique.setdefault(item.text.casefold(), item)
    return list(unique.values())


def _clean(text: str) -> str:
    return " ".join(text.replace("\x00", " ").split())[:300]


def _embedded_xmp(image: Image.Image) -> bytes:
    for key in ("xmp", "XML:com.adobe.xmp"):  # JPEG/WebP/PNG (newer Pillow) and PNG iTXt
        value = image.info.get(key)
        if value:
            return value.encode("utf-8") if isinstance(value, str) else bytes(value)
    tag = getattr(image, "tag_v2", None)  # TIFF: tag 700
    if tag is not None and 700 in tag:
        value = tag[700]
        return value if isinstance(value, bytes) else str(value).encode("utf-8")
    return b""


def parse_xmp(packet: bytes) -> list[MetaCaption]:
    """Descriptions, titles and keywords from an XMP packet (embedded or a sidecar's contents)."""
    packet = packet.strip(b"\x00 \r\n\t")
    if not packet:
        return []
    start = packet.find(b"<x:xmpmeta")
    if start < 0:
        start = packet.find(b"<rdf:RDF")
    end_tag = b"</x:xmpmeta>" if packet[start : start + 10] == b"<x:xmpmeta" else b"</rdf:RDF>"
    end = packet.rfind(end_tag)
    if start < 0 or end < 0:
        return []
    try:
        root = ET.fromstring(packet[start : end + len(end_tag)])
    except ET.ParseError:
        return []  # a damaged packet: nothing to learn from it
    out: list[MetaCaption] = []
    for description in root.iter(RDF + "Description"):
        for name, value in description.attrib.items():  # simple properties may be attributes
            if name in XMP_PROPERTIES:
                out += _xmp_values(XMP_PROPERTIES[name], [value])
        for prop in description:
            if prop.tag in XMP_PROPERTIES:
                out += _xmp_values(XMP_PROPERTIES[prop.tag], _xmp_items(prop))
    return out


def _xmp_items(prop: ET.Element) -> list[str]:
    """Values of a property: an rdf:Alt (x-default first), rdf:Bag or rdf:Seq, or plain text."""
    items = list(prop.iter(RDF + "li"))
    if not items:
        return [prop.text or ""]
    items.sort(key=lambda li: li.get(XML_LANG) != "x-default")
    if prop.find(RDF + "Alt") is not None:
        items = items[:1]  # one language is enough: the others say the same
    return [li.text or "" for li in items]


def _xmp_values(spec: tuple[str, str | None], values: list[str]) -> list[MetaCaption]:
    kind, separator = spec
    out = []
    for value in values:
        if separator:
            parts = [p.strip() for p in value.split(separator) if p.strip()]
            if not parts or parts[0].casefold() in INTERNAL_TAG_ROOTS:
                continue
            value = parts[-1]  # "People|Family|Oma" -> "Oma": the leaf is the name
        text = _clean(value)
        if text:
            out.append(MetaCaption(text, "xmp", kind))
    return out


def _decode_iptc(value: bytes, utf8: bool) -> str:
    if utf8:
        return value.decode("utf-8", errors="replace")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")  # IPTC's historical default


def _iptc(image: Image.Image) -> list[MetaCaption]:
    try:
        info = IptcImagePlugin.getiptcinfo(image) or {}
    except (SyntaxError, ValueError, OSError, KeyError, IndexError):
        return []
    utf8 = b"\x1b%G" in (info.get((1, 90)) or b"")  # coded character set: UTF-8
    out = []
    for key, kind in IPTC.items():
        values = info.get(key)
        if values is None:
            continue
        for value in values if isinstance(values, list) else [values]:
            text = _clean(_decode_iptc(value, utf8))
            if text:
                out.append(MetaCaption(text, "iptc", kind))
    return out


def _exif_xp(value: object) -> str:
    """XP* tags are UTF-16LE bytes (Pillow gives bytes or a tuple of byte values)."""
    if isinstance(value, tuple):
        value = bytes(value)
    if isinstance(value, bytes):
        return value.decode("utf-16-le", errors="replace")
    return str(value)


def _exif(image: Image.Image) -> list[MetaCaption]:
    try:
        exif = image.getexif()
    except (SyntaxError, ValueError, OSError):
        return []
    out = []
    description = exif.get(EXIF_DESCRIPTION)
    if isinstance(description, bytes):
        description = description.decode("utf-8", errors="replace")
    if description and not CAMERA_BOILERPLATE.match(description.strip()):
        text = _clean(description)
        if text:
            out.append(MetaCaption(text, "exif", "description"))
    for tag, kind in EXIF_XP.items():
        if tag not in exif:
            continue
        value = _clean(_exif_xp(exif[tag]))
        values = [v.strip() for v in value.split(";")] if kind == "keyword" else [value]
        out += [MetaCaption(v, "exif", kind) for v in values if v]
    return out
