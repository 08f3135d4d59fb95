"""What the grid area shows when there is nothing to show: first run, or no matches."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QStyle, QVBoxLayout, QWidget


class EmptyState(QWidget):
    """A centred icon, a title, a line of explanation and, on first run, an 'Add folder' button."""

    add_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title.setFont(font)
        self.body = QLabel()
        self.body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.setWordWrap(True)
        self.body.setFixedWidth(460)  # a fixed width lets the wrapped text get its full height
        self.button = QPushButton("Add a folder…")
        self.button.setDefault(True)
        self.button.clicked.connect(self.add_requested)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (self.icon, self.title, self.body):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        self.first_run()

    def _show(self, icon: QStyle.StandardPixmap, title: str, body: str, button: bool) -> None:
        self.icon.setPixmap(self.style().standardIcon(icon).pixmap(64, 64))
        self.title.setText(title)
        self.body.setText(body)
        # A wrapped label placed with an alignment gets its one-line height; ask for the real one.
        self.body.setMinimumHeight(self.body.heightForWidth(self.body.width()))
        self.button.setVisible(button)

    def first_run(self) -> None:
        self._show(
            QStyle.StandardPixmap.SP_DirIcon,
            "Find your photos by what they show",
            "Add a folder of photos (or drop one on this window). Each photo is looked at once, "
            "on this computer; then type what you are looking for: “a dog on the beach”.",
            True,
        )

    def indexing(self) -> None:
        self._show(
            QStyle.StandardPixmap.SP_BrowserReload,
            "Looking at your photos…",
            "The first photos appear here in a moment. You can search while indexing goes on.",
            False,
        )

    def no_results(self, query: str) -> None:
        self._show(
            QStyle.StandardPixmap.SP_FileDialogContentsView,
            "No photos match",
            f"Nothing matched “{query}” with these filters. Try other words, or loosen the filters."
            if query else "No photos match these filters.",
            False,
        )
