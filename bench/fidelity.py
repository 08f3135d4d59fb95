"""Fidelity: our fast decode must give the model the same picture as open_clip's own preprocess.

Per photo: cosine between the image-tower vector of our pipeline's input (draft decode,
orient, resize, crop) and that of open_clip's preprocess of the fully decoded, oriented
image. Target: at least 0.99 for every photo. The weights are random (no download), so
the row also shows how alike two *different* photos look to the same model: the gap between
the two numbers is what the test can detect. Pixel error is reported as well (weights-free).
"""

from __future__ import annotations

import numpy as np

from bench.indexing import open_clip_preprocess
from bench.model import bench_encoder
from bench.photos import photo_set
from bench.rows import row
from bench.sizes import sizes
from engine.images import decode_for_model

TARGET = 0.99


def run(quick: bool) -> list[dict]:
    import torch
    from PIL import Image, ImageOps

    s = sizes(quick)
    encoder = bench_encoder(s.tiny)
    encoder.load()
    pre, preprocess = encoder.preprocess, open_clip_preprocess(encoder)
    photos = photo_set("12mp", s.photos_12mp)[:16] + photo_set("2mp", s.photos_2mp)[:16]
    ours, plain = [], []
    for path in photos:
        ours.append(decode_for_model(path, pre).pixels)
        with Image.open(path) as img:
            plain.append(preprocess(ImageOps.exif_transpose(img)).numpy())
    ours_px, plain_px = np.stack(ours), np.stack(plain)
    a = np.concatenate([encoder.encode_images(torch.from_numpy(ours_px[i : i + 16])) for i in range(0, len(photos), 16)])
    b = np.concatenate([encoder.encode_images(torch.from_numpy(plain_px[i : i + 16])) for i in range(0, len(photos), 16)])
    cosines = np.sum(a * b, axis=1)
    others = (b @ b.T)[~np.eye(len(b), dtype=bool)]  # different photos, same (plain) preprocess
    # Pixel error in 0-255 units: undo the per-channel normalisation.
    std = np.asarray(pre.std, np.float32)[None, :, None, None]
    error = np.abs(ours_px - plain_px) * std * 255.0
    worst = photos[int(np.argmin(cosines))].name
    return [
        row(
            "fidelity: min cosine, ours vs open_clip preprocess", float(cosines.min()), None, "cosine",
            target=f">= {TARGET}", met=bool(cosines.min() >= TARGET) if not s.tiny else None,
            note=f"{len(photos)} photos (12 MP and 2 MP, a third EXIF-rotated); min {cosines.min():.5f}, mean {cosines.mean():.5f}, worst {worst}; "
            f"two different photos average {others.mean():.3f} (random weights)",
        ),
        row(
            "fidelity: mean abs pixel error", float(error.mean()), None, "of 255",
            note=f"model input after resize and crop; 99th percentile {np.percentile(error, 99):.1f}",
        ),
    ]
