"""Real image files for tests: photos with distinct visual concepts, EXIF, and bad files."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

# Concepts a random-weights model still tells apart: colour and structure differ a lot.
CONCEPTS = {
    "red_stripes": ((200, 30, 30), "stripes"),
    "blue_checks": ((30, 60, 200), "checks"),
    "green_noise": ((40, 170, 60), "noise"),
    "yellow_rings": ((220, 200, 40), "rings"),
}


def concept_pixels(concept: str, seed: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """An RGB uint8 array showing `concept`, varied by `seed`."""
    color, pattern = CONCEPTS[concept]
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    period = 16 + int(rng.integers(0, 8))
    if pattern == "stripes":
        mask = (xx // period) % 2 == 0
    elif pattern == "checks":
        mask = ((xx // period) + (yy // period)) % 2 == 0
    elif pattern == "rings":
        cx, cy = w / 2 + rng.normal(0, 10), h / 2 + rng.normal(0, 10)
        mask = (np.hypot(xx - cx, yy - cy) // period) % 2 == 0
    else:
        mask = rng.random((h, w)) > 0.5
    base = np.zeros((h, w, 3), np.float32)
    base[mask] = color
    base[~mask] = np.asarray(color) * 0.35
    base += rng.normal(0, 12, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def make_photo(
    path: Path,
    concept: str = "red_stripes",
    seed: int = 0,
    size: tuple[int, int] = (320, 240),
    taken: datetime | None = None,
    camera: tuple[str, str] | None = None,
    orientation: int | None = None,
    fmt: str | None = None,
) -> Path:
    """Write a real photo file (format from the suffix) with optional EXIF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(concept_pixels(concept, seed, size))
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if camera is not None:
        exif[0x010F], exif[0x0110] = camera
    if orientation is not None:
        exif[0x0112] = orientation
    kwargs = {"exif": exif} if len(exif) or exif.get_ifd(0x8769) else {}
    if path.suffix.lower() in (".jpg", ".jpeg"):
        kwargs["quality"] = 90
    img.save(path, format=fmt, **kwargs)
    return path


def make_library(root: Path, per_concept: int = 5, size: tuple[int, int] = (160, 120)) -> dict[str, list[Path]]:
    """A folder of photos, `per_concept` of each concept, in sub-folders by concept."""
    out: dict[str, list[Path]] = {}
    for c_index, concept in enumerate(CONCEPTS):
        out[concept] = [
            make_photo(root / concept / f"{concept}_{i}.jpg", concept, seed=100 * c_index + i, size=size)
            for i in range(per_concept)
        ]
    return out


def png_bomb(path: Path, width: int = 40000, height: int = 40000) -> Path:
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path
