"""Photo files carrying words the way real tools write them: XMP packets and sidecars, IPTC, EXIF."""

from __future__ import annotations

import struct
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

from tests.factories import concept_pixels


def xmp_packet(
    description: str | None = None,
    title: str | None = None,
    subjects: tuple[str, ...] = (),
    hierarchical: tuple[str, ...] = (),
    digikam_tags: tuple[str, ...] = (),
    headline: str | None = None,
) -> bytes:
    """An XMP packet in the shape digiKam and Lightroom write (xpacket wrapper, rdf containers)."""

    def alt(name: str, text: str) -> str:
        return f'<{name}><rdf:Alt><rdf:li xml:lang="x-default">{escape(text)}</rdf:li><rdf:li xml:lang="de-DE">{escape(text)} (de)</rdf:li></rdf:Alt></{name}>'

    def bag(name: str, items: tuple[str, ...], kind: str = "Bag") -> str:
        lis = "".join(f"<rdf:li>{escape(i)}</rdf:li>" for i in items)
        return f"<{name}><rdf:{kind}>{lis}</rdf:{kind}></{name}>"

    body = []
    if description is not None:
        body.append(alt("dc:description", description))
    if title is not None:
        body.append(alt("dc:title", title))
    if subjects:
        body.append(bag("dc:subject", subjects))
    if hierarchical:
        body.append(bag("lr:hierarchicalSubject", hierarchical))
    if digikam_tags:
        body.append(bag("digiKam:TagsList", digikam_tags, "Seq"))
    headline_attr = f' photoshop:Headline="{escape(headline)}"' if headline else ""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"\n'
        '    xmlns:digiKam="http://www.digikam.org/ns/1.0/"\n'
        f'    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"{headline_attr}>\n'
        + "\n".join(body)
        + "\n  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        + " " * 200
        + '\n<?xpacket end="w"?>'
    ).encode("utf-8")


def photo_with_xmp(path: Path, packet: bytes, concept: str = "red_stripes", seed: int = 0) -> Path:
    """A JPEG with the packet embedded in its APP1 XMP segment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(concept_pixels(concept, seed, (96, 72))).save(path, "JPEG", quality=85, xmp=packet)
    return path


def write_sidecar(photo: Path, packet: bytes, style: str = "darktable") -> Path:
    """`IMG.jpg.xmp` (darktable, digiKam) or `IMG.xmp` (Lightroom) next to the photo."""
    sidecar = photo.with_name(photo.name + ".xmp") if style == "darktable" else photo.with_suffix(".xmp")
    sidecar.write_bytes(packet)
    return sidecar


def _iptc_dataset(record: int, dataset: int, value: bytes) -> bytes:
    return struct.pack(">BBBH", 0x1C, record, dataset, len(value)) + value


def photo_with_iptc(path: Path, caption: str | None, keywords: tuple[str, ...] = (), concept: str = "blue_checks", utf8: bool = True) -> Path:
    """A JPEG with an IPTC-IIM block in a Photoshop APP13 segment, as Photoshop and exiftool write it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(concept_pixels(concept, 1, (96, 72))).save(path, "JPEG", quality=85)
    encoding = "utf-8" if utf8 else "latin-1"
    iim = _iptc_dataset(1, 90, b"\x1b%G") if utf8 else b""
    iim += _iptc_dataset(2, 0, b"\x00\x04")  # record version
    if caption is not None:
        iim += _iptc_dataset(2, 120, caption.encode(encoding))
    for keyword in keywords:
        iim += _iptc_dataset(2, 25, keyword.encode(encoding))
    if len(iim) % 2:
        iim += b"\x00"
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iim)) + iim
    payload = b"Photoshop 3.0\x00" + resource
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    data = path.read_bytes()
    path.write_bytes(data[:2] + segment + data[2:])  # right after SOI
    return path


def photo_with_exif_text(
    path: Path,
    description: str | None = None,
    xp_title: str | None = None,
    xp_comment: str | None = None,
    xp_keywords: str | None = None,
    xp_subject: str | None = None,
    concept: str = "green_noise",
) -> Path:
    """A JPEG with EXIF ImageDescription and Windows XP* tags (UTF-16LE), as Windows Explorer writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if description is not None:
        exif[0x010E] = description
    for tag, value in ((0x9C9B, xp_title), (0x9C9C, xp_comment), (0x9C9E, xp_keywords), (0x9C9F, xp_subject)):
        if value is not None:
            exif[tag] = value.encode("utf-16-le") + b"\x00\x00"
    Image.fromarray(concept_pixels(concept, 2, (96, 72))).save(path, "JPEG", quality=85, exif=exif)
    return path
