"""The categories view (placeholder until its issue lands: it says so in the window)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.state import AppState


class CategoriesView(QWidget):
    """Constructed by the main window with the shared AppState."""

    title = "Categories"

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Not available in this version yet."))
