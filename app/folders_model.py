"""The folders list's item model: each registered folder with its photo count and state."""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication, QStyle

from engine.library import FolderInfo

Index = QModelIndex | QPersistentModelIndex


class FolderRole(IntEnum):
    INFO = Qt.ItemDataRole.UserRole + 1  # the engine's FolderInfo
    STATE = Qt.ItemDataRole.UserRole + 2  # 'ready', 'indexing', 'offline'


class FoldersModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._folders: list[FolderInfo] = []
        self._busy: set[str] = set()

    def set_folders(self, folders: Sequence[FolderInfo]) -> None:
        self.beginResetModel()
        self._folders = list(folders)
        self.endResetModel()

    def set_busy(self, paths: Sequence[str]) -> None:
        """Mark the folders being indexed now (and only those)."""
        self._busy = set(paths)
        if self._folders:
            self.dataChanged.emit(self.index(0), self.index(len(self._folders) - 1))

    def folders(self) -> list[FolderInfo]:
        return list(self._folders)

    def state(self, info: FolderInfo) -> str:
        if not info.online:
            return "offline"
        if info.path in self._busy or "" in self._busy:
            return "indexing"
        return "ready"

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._folders)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201 - any Qt value
        if not index.isValid() or index.row() >= len(self._folders):
            return None
        info = self._folders[index.row()]
        state = self.state(info)
        if role == Qt.ItemDataRole.DisplayRole:
            name = os.path.basename(info.path.rstrip("/")) or info.path
            count = f"{info.photos:,} photo{'s' if info.photos != 1 else ''}"
            detail = {"ready": count, "indexing": f"{count} · indexing…", "offline": f"{count} · offline (drive unplugged?)"}[state]
            return f"{name}\n{detail}"
        if role == Qt.ItemDataRole.ToolTipRole:
            scanned = f"last scanned {info.last_scan_at:%Y-%m-%d %H:%M}" if info.last_scan_at else "not scanned yet"
            extra = "\nThe folder is missing: its photos stay in the catalog, shown as unavailable." if state == "offline" else ""
            return f"{info.path}\n{scanned}{extra}"
        if role == Qt.ItemDataRole.DecorationRole:
            style = QApplication.style()
            icon = QStyle.StandardPixmap.SP_MessageBoxWarning if state == "offline" else QStyle.StandardPixmap.SP_DirIcon
            return style.standardIcon(icon)
        if role == FolderRole.INFO:
            return info
        if role == FolderRole.STATE:
            return state
        return None
