"""Thumbnails for the grid, made off the GUI thread and kept in memory for what is on screen.

The grid asks for many thumbnails while scrolling; requests are served newest first (what
the person is looking at now), at most a couple at a time, through the app's one worker
abstraction on a pool of its own so that thumbnails never wait behind indexing.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from app.worker import Jobs
from engine.images import UnreadableImage
from engine.thumbnails import DEFAULT_EDGE, Thumbnails


def _load(thumbnails: Thumbnails, path: str, digest: str, edge: int) -> QImage | None:
    """On a pool thread: the cached (or newly made) thumbnail as a QImage; None if unreadable."""
    try:
        file = thumbnails.get(path, digest, edge)
    except UnreadableImage:
        return None
    image = QImage(str(file))  # QImage (not QPixmap) is safe to build off the GUI thread
    return None if image.isNull() else image


class ThumbnailLoader(QObject):
    """`pixmap(path, digest)` returns a thumbnail if ready, else None and asks for it."""

    ready = Signal(str)  # a content hash whose thumbnail just became available

    def __init__(self, thumbnails: Thumbnails, edge: int = DEFAULT_EDGE, memory: int = 800, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.edge = edge
        self.memory = memory  # pixmaps kept in memory, least recently used dropped first
        self.threads = threads
        self.jobs = Jobs(max_threads=threads, parent=self)
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._wanted: OrderedDict[str, str] = OrderedDict()  # digest -> path, newest last
        self._in_flight: set[str] = set()

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
        """Drop queued requests (the results changed; what is on screen asks again)."""
        self._wanted.clear()

    @property
    def busy(self) -> bool:
        return bool(self._wanted or self._in_flight)

    def _pump(self) -> None:
        while self._wanted and len(self._in_flight) < self.threads:
            digest, path = self._wanted.popitem(last=True)  # newest request first
            self._in_flight.add(digest)
            job = self.jobs.start(_load, self.thumbnails, path, digest, self.edge, name="thumbnail")
            job.signals.result.connect(lambda image, d=digest: self._arrived(d, image))
            job.signals.error.connect(lambda _message, d=digest: self._arrived(d, None))

    def _arrived(self, digest: str, image: QImage | None) -> None:
        self._in_flight.discard(digest)
        if image is None:
            self._failed.add(digest)
        else:
            self._pixmaps[digest] = QPixmap.fromImage(image)
            while len(self._pixmaps) > self.memory:
                self._pixmaps.popitem(last=False)
        self.ready.emit(digest)
        self._pump()
