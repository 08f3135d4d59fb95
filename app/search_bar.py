"""The search field (typed, debounced, or on Enter) and the filters: folder, dates, minimum score."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from engine.library import Filters

NO_DATE = QDate(1900, 1, 1)  # the minimum of a date field, shown as "any"
PLACEHOLDER = 'Search photos: beach at sunset   ·   "2:beach" + sunset - people   ·   a path to a photo'


class SearchBar(QWidget):
    """Emits `search_requested` when the query or a filter changes (typing is debounced)."""

    search_requested = Signal()
    debounce_ms = 300

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QLineEdit()
        self.field.setObjectName("searchField")
        self.field.setPlaceholderText(PLACEHOLDER)
        self.field.setClearButtonEnabled(True)
        self.field.addAction(magnifier_icon(self.palette().color(QPalette.ColorRole.PlaceholderText)),
                             QLineEdit.ActionPosition.LeadingPosition)
        self.field.setMinimumHeight(32)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.debounce_ms)
        self._timer.timeout.connect(self.search_requested)
        self.field.textEdited.connect(lambda _text: self._timer.start())
        self.field.returnPressed.connect(self.search_now)
        # Clearing with the field's clear button (not "edited") shows everything again.
        self.field.textChanged.connect(lambda text: self.search_now() if not text else None)

        self.folder = QComboBox()
        self.folder.setMinimumContentsLength(18)
        self.folder.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.folder.addItem("All folders", "")
        self.after = self._date_field()
        self.before = self._date_field()
        self.min_score = QDoubleSpinBox()
        # Cosine similarity spans -1..1; the minimum, -1, keeps everything and reads "any".
        self.min_score.setRange(-1.0, 1.0)
        self.min_score.setSingleStep(0.05)
        self.min_score.setDecimals(2)
        self.min_score.setSpecialValueText("any")
        self.min_score.setValue(self.min_score.minimum())
        self.min_score.setToolTip("Hide results scoring below this (cosine similarity to the query)")
        for widget in (self.after, self.before):
            widget.dateChanged.connect(lambda _d: self.search_now())
        self.folder.currentIndexChanged.connect(lambda _i: self.search_now())
        self.min_score.valueChanged.connect(lambda _v: self.search_now())

        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.setSpacing(6)
        for label, widget in (("Folder", self.folder), ("From", self.after), ("To", self.before), ("Min. score", self.min_score)):
            caption = QLabel(label)
            caption.setBuddy(widget)
            caption.setForegroundRole(caption.foregroundRole())
            filters.addWidget(caption)
            filters.addWidget(widget)
            filters.addSpacing(8)
        filters.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.field)
        layout.addLayout(filters)

    def _date_field(self) -> QDateEdit:
        field = QDateEdit()
        field.setCalendarPopup(True)
        field.setDisplayFormat("yyyy-MM-dd")
        field.setMinimumDate(NO_DATE)
        field.setSpecialValueText("any")
        field.setDate(NO_DATE)
        return field

    # -- what the bar says ---------------------------------------------------------------
    def query(self) -> str:
        return self.field.text().strip()

    def filters(self) -> Filters:
        """The filters as the engine takes them."""

        def day(field: QDateEdit) -> date | None:
            value = field.date()
            return None if value == NO_DATE else date(value.year(), value.month(), value.day())

        score = self.min_score.value()
        return Filters(
            folder=self.folder.currentData() or None,
            after=day(self.after),
            before=day(self.before),
            min_score=None if score <= self.min_score.minimum() else score,
        )

    def set_filters(self, filters: Filters) -> None:
        """Show remembered filters (without searching for each field set)."""
        self.blockSignals(True)
        for widget in (self.folder, self.after, self.before, self.min_score):
            widget.blockSignals(True)
        if filters.folder:
            if self.folder.findData(filters.folder) < 0:
                self.folder.addItem(_short(filters.folder), filters.folder)
            self.folder.setCurrentIndex(self.folder.findData(filters.folder))
        for field, value in ((self.after, filters.after), (self.before, filters.before)):
            field.setDate(QDate(value.year, value.month, value.day) if value else NO_DATE)
        self.min_score.setValue(self.min_score.minimum() if filters.min_score is None else filters.min_score)
        for widget in (self.folder, self.after, self.before, self.min_score):
            widget.blockSignals(False)
        self.blockSignals(False)

    def set_folders(self, paths: list[str]) -> None:
        """The folder filter's choices; the current choice is kept when still there."""
        current = self.folder.currentData()
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", "")
        for path in paths:
            self.folder.addItem(_short(path), path)
            self.folder.setItemData(self.folder.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        index = self.folder.findData(current)
        self.folder.setCurrentIndex(max(index, 0))
        self.folder.blockSignals(False)
        if current and index < 0:
            self.search_now()

    def search_now(self) -> None:
        self._timer.stop()
        self.search_requested.emit()

    def focus(self) -> None:
        """Put the cursor in the search field, its text selected (the field must be shown)."""
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()


def magnifier_icon(color: QColor, size: int = 32) -> QIcon:
    """A drawn magnifying glass (icon themes are not available on every platform)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, size * 0.1)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    r = size * 0.27
    painter.drawEllipse(int(size * 0.16), int(size * 0.16), int(2 * r), int(2 * r))
    painter.drawLine(int(size * 0.62), int(size * 0.62), int(size * 0.84), int(size * 0.84))
    painter.end()
    return QIcon(pixmap)


def _short(path: str) -> str:
    parts = path.rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else path
