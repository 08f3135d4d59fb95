"""Decoding photos for the image tower, fast, and reading their metadata.

JPEGs are decoded with DCT scaling (`Image.draft`) straight to the smallest size at or above
the model input: a 12 MP photo decodes about 5x faster than in full. EXIF orientation is
applied after the draft (rotating a small image costs ~1 ms instead of ~30).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.encoder import Preprocess

try:  # HEIC/HEIF (iPhone photos) when pillow-heif is installed
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - optional
    pillow_heif = None

EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
)

# Pillow raises DecompressionBombError above twice this many pixels; we treat its warning
# band (between 1x and 2x) as fine: large panoramas are real photos.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)


class UnreadableImage(Exception):
    """A file that cannot be used as a photo; the message is the reason shown to the person."""


@dataclass(frozen=True)
class ImageInfo:
    width: int  # after EXIF orientation, as a person sees it
    height: int
    format: str
    taken_at: datetime | None  # EXIF DateTimeOriginal, None when absent
    camera_make: str | None
    camera_model: str | None


@dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray  # float32 [3, size, size], normalised for the model
    info: ImageInfo


_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME = 0x0132
_MAKE = 0x010F
_MODEL = 0x0110
_ORIENTATION = 0x0112


def _clean(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    text = text.replace("\x00", "").strip()
    return text or None


def _parse_exif_time(value: object) -> datetime | None:
    text = _clean(value)
    if not text:
        return None
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M"):
        try:
            return datetime.strptime(text[:19], fmt)  # naive: EXIF has no time zone
        except ValueError:
            continue
    return None


def read_info(img: Image.Image) -> ImageInfo:
    """Dimensions (oriented), format, capture time and camera from an opened image."""
    width, height = img.size
    taken = make = model = None
    orientation = 1
    try:
        exif = img.getexif()
        orientation = int(exif.get(_ORIENTATION, 1) or 1)
        make, model = _clean(exif.get(_MAKE)), _clean(exif.get(_MODEL))
        sub = exif.get_ifd(_EXIF_IFD)
        taken = _parse_exif_time(sub.get(_DATETIME_ORIGINAL)) or _parse_exif_time(exif.get(_DATETIME))
    except Exception:  # noqa: BLE001 - broken EXIF is common; the photo itself is still fine
        pass
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageInfo(width, height, (img.format or "").upper(), taken, make, model)


def _open(path: Path) -> Image.Image:
    try:
        img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(f"image too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Pillow can read (corrupt, or not really an image)") from None
    return img


def open_oriented(path: Path, min_side: int | None = None) -> tuple[Image.Image, ImageInfo]:
    """Decode `path` to RGB with EXIF orientation applied; JPEGs drafted down to `min_side`."""
    img = _open(path)
    try:
        info = read_info(img)
        if min_side and img.format == "JPEG":
            img.draft("RGB", (min_side, min_side))
        img.load()  # decode now, inside the error handling
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        img = ImageOps.exif_transpose(img)
        if img.mode != "RGB":
            img = _to_rgb(img)
        return img, info
    except UnreadableImage:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(_reason(exc)) from None


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten transparency onto white (as a viewer shows it) and convert to RGB."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32)
        top = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / top)).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return "file is truncated (incomplete copy or download?)"
    return f"cannot decode: {text}"


def to_model_input(img: Image.Image, pre: Preprocess) -> np.ndarray:
    """Resize (bicubic) and centre-crop an RGB image exactly as open_clip's preprocess does."""
    size = pre.size
    w, h = img.size
    if pre.resize_mode == "squash":
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    else:
        # torchvision's Resize(int) rule: short side to `size`, long side truncated.
        nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=None)
        left = int(round((nw - size) / 2.0))
        top = int(round((nh - size) / 2.0))
        img = img.crop((left, top, left + size, top + size))
    arr = np.asarray(img, dtype=np.float32) * (1.0 / 255.0)
    arr = (arr - np.asarray(pre.mean, np.float32)) / np.asarray(pre.std, np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def decode_for_model(path: Path, pre: Preprocess) -> Decoded:
    """The fast path: draft-decode, orient, resize, crop, normalise. Raises UnreadableImage."""
    img, info = open_oriented(path, min_side=pre.size)
    try:
        return Decoded(to_model_input(img, pre), info)
    except (OSError, ValueError) as exc:
        raise UnreadableImage(_reason(exc)) from None
