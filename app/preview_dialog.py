"""The preview: the photo (decoded off the GUI thread), its metadata, its score, and actions."""

from __future__ import annotations

import math
import os
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.file_actions import copy_paths, open_in_viewer, show_in_file_manager
from app.state import AppState
from engine.library import SearchResult

MAX_EDGE = 1600  # decoded size: sharp on a large screen, cheap for a 50 MP photo


def _decode(path: str, edge: int = MAX_EDGE) -> QImage:
    """On a pool thread: the photo, oriented by EXIF, scaled down while decoding."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > edge:
        reader.setScaledSize(size.scaled(QSize(edge, edge), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():  # a format Qt has no plugin for (HEIC, 16-bit TIFF...): Pillow's turn
        return _decode_with_pillow(path, edge)
    return image


def _decode_with_pillow(path: str, edge: int) -> QImage:
    """The engine's decoder (the one indexing uses), as a QImage."""
    from PIL import Image

    from engine.images import open_oriented

    img, _ = open_oriented(Path(path), min_side=edge)  # raises UnreadableImage with a reason
    img.thumbnail((edge, edge), Image.Resampling.BICUBIC)
    data = img.tobytes("raw", "RGB")
    return QImage(data, img.width, img.height, 3 * img.width, QImage.Format.Format_RGB888).copy()


def _human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)


class PreviewDialog(QDialog):
    """Escape closes; 'More like this' asks the window for a similar-photo search."""

    more_like_this = Signal(object)  # SearchResult

    def __init__(self, result: SearchResult, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        self.setWindowTitle(os.path.basename(result.path))
        self.setMinimumSize(720, 480)
        self._pixmap: QPixmap | None = None

        self.picture = QLabel("Loading…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(360, 300)
        self.picture.setStyleSheet("background: palette(dark); border-radius: 6px;")

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        score = "—" if math.isnan(result.score) else f"{result.score:.3f}"
        rows = [
            ("Name", os.path.basename(result.path)),
            ("Folder", os.path.dirname(result.path)),
            ("Score", score),
            ("Taken", f"{result.taken_at:%Y-%m-%d %H:%M}"),
            ("Size", f"{result.width} × {result.height} px"),
            ("Format", result.format or "?"),
            ("File", _human_size(result.size)),
            ("Camera", result.camera or "—"),
        ]
        if not result.available:
            rows.append(("State", "unavailable: its folder is offline or cannot be read"))
        self.fields: dict[str, QLabel] = {}
        for name, value in rows:
            label = QLabel(value)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[name] = label
            form.addRow(f"{name}:", label)

        self.open_button = QPushButton("Open")
        self.show_button = QPushButton("Show in folder")
        self.copy_button = QPushButton("Copy path")
        self.similar_button = QPushButton("More like this")
        self.open_button.setToolTip("Open with the system's viewer")
        self.open_button.clicked.connect(lambda: open_in_viewer(result.path))
        self.show_button.clicked.connect(lambda: show_in_file_manager(result.path))
        self.copy_button.clicked.connect(lambda: copy_paths([result.path]))
        self.similar_button.clicked.connect(self._similar)
        for button in (self.open_button, self.show_button):
            button.setEnabled(result.available)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        side = QVBoxLayout()
        side.addLayout(form)
        side.addStretch(1)
        for button in (self.similar_button, self.open_button, self.show_button, self.copy_button):
            side.addWidget(button)
        side.addWidget(close)
        body = QHBoxLayout(self)
        body.addWidget(self.picture, 1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(300)
        body.addWidget(side_widget)

        job = state.jobs.start(_decode, result.path, name="preview")
        job.signals.result.connect(self._show_image)
        job.signals.error.connect(lambda message: self.picture.setText(f"Cannot show this photo: {message}"))

    def _similar(self) -> None:
        self.more_like_this.emit(self.result)
        self.accept()

    def _show_image(self, image: QImage) -> None:
        self._pixmap = QPixmap.fromImage(image)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._pixmap is None:
            return
        if self._pixmap.width() <= self.picture.width() and self._pixmap.height() <= self.picture.height():
            self.picture.setPixmap(self._pixmap)  # small photos at their own size, never blown up
        else:
            self.picture.setPixmap(self._pixmap.scaled(self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))

    @property
    def image_loaded(self) -> bool:
        return self._pixmap is not None
