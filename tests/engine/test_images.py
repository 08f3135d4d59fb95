"""Decoding: the picture the model sees is the one a person sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.encoder import Preprocess
from engine.images import decode_for_model, open_oriented

RED, BLUE = (220, 20, 20), (20, 20, 220)


def two_halves(path: Path, orientation: int) -> Path:
    """A 320x240 JPEG stored with a red top half and a blue bottom half, tagged `orientation`."""
    pixels = np.zeros((240, 320, 3), np.uint8)
    pixels[:120] = RED
    pixels[120:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, quality=95, exif=exif)
    return path


def colour(rgb: np.ndarray) -> str:
    r, _, b = (float(c) for c in rgb)
    return "red" if r > b + 100 else "blue" if b > r + 100 else "mixed"


# Orientation 6: the camera was turned clockwise; a viewer turns the stored picture 90 degrees
# clockwise, so the stored top edge is on the right. Orientation 8 is the other way round.
@pytest.mark.parametrize("orientation, left, right", [(6, "blue", "red"), (8, "red", "blue")])
def test_exif_orientation_turns_the_pixels(tmp_path: Path, orientation: int, left: str, right: str):
    path = two_halves(tmp_path / f"turned-{orientation}.jpg", orientation)

    img, info = open_oriented(path, min_side=64)  # the drafted JPEG path the indexer uses
    arr = np.asarray(img)
    assert (info.width, info.height) == (240, 320)
    assert img.size[0] * 4 == img.size[1] * 3  # drafted smaller, but upright like the info says
    h, w, _ = arr.shape
    assert colour(arr[h // 2, w // 4]) == left and colour(arr[h // 2, 3 * w // 4]) == right
    assert colour(arr[h // 8, w // 4]) == left and colour(arr[7 * h // 8, 3 * w // 4]) == right

    # And the model input (resized, centre-cropped, normalised, channels first) agrees.
    pre = Preprocess(size=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    chw = decode_for_model(path, pre).pixels
    rgb = (chw.transpose(1, 2, 0) * 0.5 + 0.5) * 255
    assert colour(rgb[16, 4]) == left and colour(rgb[16, 28]) == right
