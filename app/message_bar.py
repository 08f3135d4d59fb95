"""An inline message strip (not a modal box): errors and hints that never block the window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStyle, QToolButton, QWidget

LEVELS = {
    "info": (QStyle.StandardPixmap.SP_MessageBoxInformation, "#e8f0fe", "#1a3d7c"),
    "warning": (QStyle.StandardPixmap.SP_MessageBoxWarning, "#fff4e5", "#6b4100"),
    "error": (QStyle.StandardPixmap.SP_MessageBoxCritical, "#fdecea", "#7a1c13"),
}


class MessageBar(QFrame):
    """One message at a time, with an optional action button and a close button."""

    action_triggered = Signal(str)  # the action's key

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.hide()
        self.action.clicked.connect(lambda: self.action_triggered.emit(self._action_key))
        close = QToolButton()
        close.setAutoRaise(True)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.action)
        layout.addWidget(close)
        self.level = ""
        self._action_key = ""
        self.hide()

    def show_message(self, text: str, level: str = "error", action: tuple[str, str] | None = None) -> None:
        """Show `text`; `action` is (key, button label)."""
        icon, background, foreground = LEVELS[level]
        self.level = level
        self.setStyleSheet(
            f"#messageBar {{ background: {background}; border: 1px solid {foreground}40; border-radius: 6px; }}"
            f"#messageBar QLabel {{ color: {foreground}; }}"
        )
        self.icon.setPixmap(self.style().standardIcon(icon).pixmap(20, 20))
        self.text.setText(text)
        if action:
            self._action_key, label = action
            self.action.setText(label)
            self.action.show()
        else:
            self.action.hide()
        self.show()

    def message(self) -> str:
        return self.text.text() if self.isVisible() else ""
