"""Thumbnails for the grid, made off the GUI thread and kept in memory for what is on screen.

The grid asks for many thumbnails while scrolling; requests are served newest first (what
the person is looking at now), at most a couple at a time, through the app's one worker
abstraction on a pool of its own so that thumbnails never wait behind indexing.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QImage, QPainter, QPainterPath, QPixmap

from app.worker import Jobs
from engine.images import UnreadableImage
from engine.thumbnails import DEFAULT_EDGE, Thumbnails


def _load(thumbnails: Thumbnails, path: str, digest: str, edge: int, cell_px: int) -> QImage | None:
    """On a pool thread: the thumbnail cropped square and scaled to the cell; None if unreadable."""
    try:
        file = thumbnails.get(path, digest, edge)
    except UnreadableImage:
        return None
    image = QImage(str(file))  # QImage (not QPixmap) is safe to build off the GUI thread
    if image.isNull():
        return None
    # Cropped and scaled here, once, so that painting a cell is a plain 1:1 copy: scaling in
    # the paint handler costs about a millisecond per cell, a stutter at 20 cells a frame.
    side = min(image.width(), image.height())
    square = image.copy((image.width() - side) // 2, (image.height() - side) // 2, side, side)
    scaled = square.scaled(cell_px, cell_px, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
    # Rounded corners are cut here too: an antialiased clip path in the paint handler costs
    # more than the copy itself.
    rounded = QImage(cell_px, cell_px, QImage.Format.Format_ARGB32_Premultiplied)
    rounded.fill(Qt.GlobalColor.transparent)
    painter = QPainter(rounded)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    radius = cell_px / 27  # about 6 px on a 160 px cell
    path.addRoundedRect(QRectF(0, 0, cell_px, cell_px), radius, radius)
    painter.fillPath(path, QBrush(scaled))
    painter.end()
    return rounded


class ThumbnailLoader(QObject):
    """`pixmap(path, digest)` returns a thumbnail if ready, else None and asks for it."""

    ready = Signal(str)  # a content hash whose thumbnail just became available

    def __init__(self, thumbnails: Thumbnails, cell_px: int = 160, edge: int = DEFAULT_EDGE, memory: int = 400,
                 threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.cell_px = cell_px  # the grid cell in device pixels
        self.edge = edge  # the size kept on disk
        self.memory = memory  # pixmaps kept in memory, least recently used dropped first
        self.threads = threads
        self.jobs = Jobs(max_threads=threads, parent=self)
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._wanted: OrderedDict[str, str] = OrderedDict()  # digest -> path, newest last
        self._in_flight: set[str] = set()
        self.device_ratio = 1.0  # set by the window from its screen (2.0 on a HiDPI display)

    def pixmap(self, path: str, digest: str) -> QPixmap | None:
        """The thumbnail of a photo if it is in memory; otherwise None, and it is requested."""
        found = self._pixmaps.get(digest)
        if found is not None:
            self._pixmaps.move_to_end(digest)
            return found
        if digest not in self._failed and digest not in self._in_flight:
            self._wanted[digest] = path
            self._wanted.move_to_end(digest)
            self._pump()
        return None

    def failed(self, digest: str) -> bool:
        return digest in self._failed

    def forget_requests(self) -> None:
        """Drop queued requests and past failures (the results changed: a drive may be back)."""
        self._wanted.clear()
        self._failed.clear()

    @property
    def busy(self) -> bool:
        return bool(self._wanted or self._in_flight)

    def _pump(self) -> None:
        while self._wanted and len(self._in_flight) < self.threads:
            digest, path = self._wanted.popitem(last=True)  # newest request first
            self._in_flight.add(digest)
            job = self.jobs.start(_load, self.thumbnails, path, digest, self.edge, self.cell_px, name="thumbnail")
            job.signals.result.connect(lambda image, d=digest: self._arrived(d, image))
            job.signals.error.connect(lambda _message, d=digest: self._arrived(d, None))

    def _arrived(self, digest: str, image: QImage | None) -> None:
        self._in_flight.discard(digest)
        if image is None:
            self._failed.add(digest)
        else:
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self.device_ratio)
            self._pixmaps[digest] = pixmap
            while len(self._pixmaps) > self.memory:
                self._pixmaps.popitem(last=False)
        self.ready.emit(digest)
        self._pump()
