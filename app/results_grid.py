"""The results grid: a list view in icon mode, smooth for thousands of rows."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyleOptionViewItem, QWidget

from app.results_model import ResultsModel, Role
from app.thumbnail_delegate import ThumbnailDelegate
from engine.library import SearchResult


class ResultsGrid(QListView):
    """Arrow keys move, Enter or double-click previews, drag carries file URLs out."""

    preview_requested = Signal(object)  # SearchResult
    selection_changed_ids = Signal(list)  # photo ids

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)  # layout of 10k rows stays instant
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(2)
        self.setWrapping(True)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setItemDelegate(ThumbnailDelegate(parent=self))
        self.setModel(model)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.doubleClicked.connect(self._preview)
        self.selectionModel().selectionChanged.connect(self._publish_selection)
        model.modelReset.connect(self._publish_selection)

    def current_result(self) -> SearchResult | None:
        index = self.currentIndex()
        return index.data(Role.RESULT) if index.isValid() else None

    def selected_results(self) -> list[SearchResult]:
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        model = self.model()
        return [model.index(r).data(Role.RESULT) for r in rows]

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Spread the columns over the whole width instead of leaving a gap on the right."""
        super().resizeEvent(event)
        hint = self.itemDelegate().sizeHint(self.viewOptions() if hasattr(self, "viewOptions") else QStyleOptionViewItem(), QModelIndex())
        width = max(1, self.viewport().width() - 1)
        columns = max(1, width // hint.width())
        cell = QSize(width // columns, hint.height())
        if cell != self.gridSize():
            self.setGridSize(cell)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._preview(self.currentIndex())
            return
        super().keyPressEvent(event)

    def _preview(self, index: QModelIndex) -> None:
        result = index.data(Role.RESULT)
        if result is not None:
            self.preview_requested.emit(result)

    def _publish_selection(self, *_args: object) -> None:
        self.selection_changed_ids.emit([r.id for r in self.selected_results()])
