"""The results grid's item model: one row per SearchResult, thumbnails fetched lazily."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QObject, QPersistentModelIndex, Qt

from app.file_actions import file_mime
from app.thumbnail_loader import ThumbnailLoader
from engine.library import SearchResult

Index = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    RESULT = Qt.ItemDataRole.UserRole + 1  # the engine's SearchResult
    SCORE = Qt.ItemDataRole.UserRole + 2  # float, NaN when browsing without a query
    PATH = Qt.ItemDataRole.UserRole + 3  # str
    THUMBNAIL_FAILED = Qt.ItemDataRole.UserRole + 4  # bool: the file could not be read


class ResultsModel(QAbstractListModel):
    """Rows are results, best first. DecorationRole is the thumbnail (None until it arrives)."""

    def __init__(self, thumbnails: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self._results: list[SearchResult] = []
        self._rows_by_digest: dict[str, list[int]] = {}
        thumbnails.ready.connect(self._thumbnail_ready)

    # -- contents ------------------------------------------------------------------------
    def set_results(self, results: Sequence[SearchResult]) -> None:
        """Replace every row (a new search)."""
        self.beginResetModel()
        self.thumbnails.forget_requests()
        self._results = list(results)
        self._rows_by_digest = {}
        for row, r in enumerate(self._results):
            self._rows_by_digest.setdefault(r.content_hash, []).append(row)
        self.endResetModel()

    def results(self) -> list[SearchResult]:
        return list(self._results)

    def result(self, index: Index) -> SearchResult | None:
        return self._results[index.row()] if index.isValid() and index.row() < len(self._results) else None

    # -- Qt model API --------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._results)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201 - any Qt value
        r = self.result(index)
        if r is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(r.path)
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.pixmap(r.path, r.content_hash)
        if role == Qt.ItemDataRole.ToolTipRole:
            score = "" if math.isnan(r.score) else f"\nscore {r.score:.3f}"
            offline = "" if r.available else "\n(its folder is offline or cannot be read)"
            return f"{r.path}\n{r.taken_at:%Y-%m-%d %H:%M} · {r.width}×{r.height}{score}{offline}"
        if role == Role.RESULT:
            return r
        if role == Role.SCORE:
            return r.score
        if role == Role.PATH:
            return r.path
        if role == Role.THUMBNAIL_FAILED:
            return self.thumbnails.failed(r.content_hash)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """File URLs of the dragged results: any file manager, editor or mail client takes them."""
        return file_mime([self._results[i.row()].path for i in indexes if i.isValid()])

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def _thumbnail_ready(self, digest: str) -> None:
        for row in self._rows_by_digest.get(digest, []):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole, Role.THUMBNAIL_FAILED])
