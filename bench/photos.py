"""Generated photos that behave like camera JPEGs: real size, real entropy, EXIF, rotation.

A flat or purely synthetic picture compresses to almost nothing and decodes unrealistically
fast. These have smooth lighting gradients, shapes with hard edges, mid-frequency texture and
sensor noise, saved at quality 90 with 4:2:0 chroma like a phone: a 12 MP photo is a few MB.
Every third photo carries EXIF orientation 6 or 8 (stored sideways, shown upright).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from bench.cache import cache_root

SIZES = {"12mp": (4000, 3000), "2mp": (1600, 1200)}


def photo_pixels(width: int, height: int, seed: int) -> Image.Image:
    """An RGB picture with gradients, edges, texture and noise."""
    rng = np.random.default_rng(seed)
    # Lighting: a coarse grid of colours, smoothly interpolated to full size.
    coarse = rng.integers(20, 235, size=(3, 4, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 14))):  # objects: hard edges in the picture
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = x0 + int(rng.integers(width // 20, width // 3)), y0 + int(rng.integers(height // 20, height // 3))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1.2))  # lens softness, so edges are not aliased
    pixels = np.asarray(img, dtype=np.int16)
    # Texture (foliage, fabric): noise at 1/3 scale, upsampled; then per-pixel sensor noise.
    small = rng.normal(0, 16, size=(height // 3, width // 3, 1)).astype(np.float32)
    texture = np.asarray(
        Image.fromarray(((small[..., 0] + 128).clip(0, 255)).astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR),
        dtype=np.int16,
    )[..., None] - 128
    noise = rng.integers(-6, 7, size=(height, width, 3), dtype=np.int16)
    return Image.fromarray(np.clip(pixels + texture + noise, 0, 255).astype(np.uint8))


def write_photo(path: Path, width: int, height: int, seed: int) -> Path:
    """A JPEG at `path` with camera EXIF; seeds divisible by 3 are stored rotated."""
    orientation = {0: 6, 3: 8}.get(seed % 6)  # 1 in 3: sideways on disk, upright when shown
    if orientation:
        width, height = height, width  # a portrait shot stored as landscape pixels
    img = photo_pixels(width, height, seed)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "BenchCam", f"Model {seed % 4}"
    taken = datetime(2015, 1, 1) + timedelta(days=int(seed * 37 % 3650), seconds=seed * 101)
    exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if orientation:
        exif[0x0112] = orientation
    img.save(path, format="JPEG", quality=90, subsampling="4:2:0", exif=exif)
    return path


def photo_set(kind: str, count: int) -> list[Path]:
    """`count` cached JPEGs of size `kind` ('12mp' or '2mp'), in a folder holding exactly those.

    Photos are made once into a pool shared by every count (only missing ones are made);
    each count gets its own folder of hard links, since indexing takes a whole folder.
    """
    width, height = SIZES[kind]
    pool = cache_root() / f"photos-{kind}-v1"
    pool.mkdir(parents=True, exist_ok=True)
    view = cache_root() / "photo-sets-v1" / f"{kind}-{count}"
    view.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        name = f"IMG_{i:04d}.jpg"
        source = pool / name
        if not source.exists():
            tmp = pool / f".{name}.{os.getpid()}.tmp"
            write_photo(tmp, width, height, seed=i)
            os.replace(tmp, source)
        link = view / name
        if not link.exists():
            os.link(source, link)
        paths.append(link)
    return paths
