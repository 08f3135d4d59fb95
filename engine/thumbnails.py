"""Thumbnails for the results grid: made once, kept on disk under the data home.

A thumbnail is keyed by the photo's content hash and the requested edge, never by its path,
so a moved or renamed file keeps its thumbnail and two copies of one photo share one file.
JPEGs are drafted (DCT scaling) straight to about the requested size, so a 12 MP photo costs
a few milliseconds. Writes go to a temporary file that is renamed into place: threads (or
processes) making the same thumbnail at once never see a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PIL import Image

from engine.images import UnreadableImage, open_oriented
from engine.scanner import content_hash

DEFAULT_EDGE = 256  # px, the longer side: sharp on a 2x display for a 128 px grid cell


class Thumbnails:
    """A disk cache of JPEG thumbnails under one folder (e.g. `Paths.thumbnails`)."""

    def __init__(self, root: Path, quality: int = 85) -> None:
        self.root = Path(root)
        self.quality = quality

    def cached(self, digest: str, edge: int = DEFAULT_EDGE) -> Path:
        """Where the thumbnail of content `digest` at `edge` px lives (it may not exist yet)."""
        # Two-character fan-out keeps folders small for libraries of 100k photos.
        return self.root / digest[:2] / f"{digest}-{edge}.jpg"

    def get(self, path: str | Path, digest: str | None = None, edge: int = DEFAULT_EDGE) -> Path:
        """The thumbnail file of the photo at `path`, made now if missing. Raises UnreadableImage."""
        if digest is None:
            try:
                digest = content_hash(str(path), os.path.getsize(path))
            except OSError as exc:
                raise UnreadableImage(f"cannot read file: {exc.strerror or exc}") from None
        target = self.cached(digest, edge)
        if target.is_file():
            return target
        try:
            img, _ = open_oriented(Path(path), min_side=edge)
        except FileNotFoundError:
            raise UnreadableImage("file not found (moved, deleted, or its drive is unplugged)") from None
        except OSError as exc:
            raise UnreadableImage(f"cannot read file: {exc.strerror or exc}") from None
        img.thumbnail((edge, edge), Image.Resampling.BICUBIC, reducing_gap=2.0)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".thumb-", suffix=".jpg", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                img.save(f, "JPEG", quality=self.quality)
            os.replace(temp, target)  # atomic: a concurrent maker of the same file just wins or loses
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target
