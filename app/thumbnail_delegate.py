"""Paints one grid cell: the thumbnail, a score badge, the file name; placeholder until loaded."""

from __future__ import annotations

import math

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.results_model import Role


CELL = 160  # px, the edge of a thumbnail in the grid


class ThumbnailDelegate(QStyledItemDelegate):
    """Cells of `edge` px thumbnails with a caption line below."""

    def __init__(self, edge: int = CELL, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edge = edge
        self.padding = 8

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        line = option.fontMetrics.height()
        return QSize(self.edge + 2 * self.padding, self.edge + 2 * self.padding + line + 4)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        palette: QPalette = option.palette
        cell = QRectF(option.rect).adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            highlight = palette.color(QPalette.ColorRole.Highlight)
            fill = QColor(highlight)
            fill.setAlpha(60)
            painter.setPen(highlight)
            painter.setBrush(fill)
            painter.drawRoundedRect(cell, 8, 8)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            hover = QColor(palette.color(QPalette.ColorRole.Text))
            hover.setAlpha(18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(hover)
            painter.drawRoundedRect(cell, 8, 8)

        left = option.rect.x() + (option.rect.width() - self.edge) // 2
        area = QRect(left, option.rect.y() + self.padding, self.edge, self.edge)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        result = index.data(Role.RESULT)
        available = bool(result.available) if result is not None else True
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            # Square cells filled edge to edge (centre crop), as photo browsers do: a tight,
            # even grid; the preview shows the whole picture. The loader delivers the pixmap
            # cropped, rounded and at the cell's size, so this is a 1:1 copy.
            target = area
            if not available:
                painter.setOpacity(0.35)
            painter.drawPixmap(target, pixmap)
            painter.setOpacity(1.0)
        else:
            placeholder = QColor(palette.color(QPalette.ColorRole.Text))
            placeholder.setAlpha(22)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(placeholder)
            box = QRectF(area)
            painter.drawRoundedRect(box, 6, 6)
            if index.data(Role.THUMBNAIL_FAILED):
                painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "unavailable" if not available else "cannot read")
            target = box.toRect()

        score = index.data(Role.SCORE)
        if isinstance(score, float) and not math.isnan(score):
            font = painter.font()
            font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
            painter.setFont(font)
            text = f"{score:.2f}"
            width = painter.fontMetrics().horizontalAdvance(text) + 10
            height = painter.fontMetrics().height() + 2
            badge = QRectF(target.right() - width - 4, target.bottom() - height - 4, width, height)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(badge, height / 2, height / 2)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
            painter.setFont(option.font)

        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        caption = QRect(left, area.bottom() + 4, self.edge, option.fontMetrics.height())
        role = QPalette.ColorRole.Text if available else QPalette.ColorRole.PlaceholderText
        painter.setPen(palette.color(role))
        painter.drawText(caption, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter,
                         option.fontMetrics.elidedText(name, Qt.TextElideMode.ElideMiddle, self.edge))
        painter.restore()
