"""The status bar: photos indexed, failures (click for the list), model and text-tower version."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar, QWidget


class LibraryStatusBar(QStatusBar):
    """Shows a `Library.status()` dict; fetching it is the window's job (off the GUI thread)."""

    failures_clicked = Signal()
    switch_clicked = Signal()  # the model-switch progress was clicked: show the model dialog

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.photos = QLabel("Opening the library…")
        self.failures = QPushButton()
        self.failures.setFlat(True)
        self.failures.setToolTip("Show the files that could not be indexed, and why")
        self.failures.clicked.connect(self.failures_clicked)
        self.failures.hide()
        self.switch = QPushButton()
        self.switch.setFlat(True)
        self.switch.setToolTip("Re-embedding the library with another image model; searches keep using the current one")
        self.switch.clicked.connect(self.switch_clicked)
        self.switch.hide()
        self.model = QLabel()
        self.tower = QLabel()
        self.model.setToolTip("The locked image tower that embedded the photos")
        self.tower.setToolTip("The text tower that reads queries: 'base' or a version taught on your captions")
        self.addPermanentWidget(self.photos)
        self.addPermanentWidget(self.failures)
        self.addPermanentWidget(self.switch)
        self.addPermanentWidget(self.model)
        self.addPermanentWidget(self.tower)
        self.setSizeGripEnabled(True)

    def show_status(self, status: dict) -> None:
        photos, offline = status.get("photos", 0), status.get("offline_folders", 0)
        text = f"{photos:,} photo{'s' if photos != 1 else ''} indexed"
        if offline:
            text += f" · {offline} folder{'s' if offline != 1 else ''} offline"
        self.photos.setText(text)
        failures = status.get("failures", 0)
        self.failures.setText(f"⚠ {failures:,} could not be indexed")
        self.failures.setVisible(failures > 0)
        self.model.setText(f"Model: {status.get('model', '?')}")
        self.show_text_tower(status.get("text_tower", "base"))

    def show_text_tower(self, version: str) -> None:
        self.tower.setText(f"Text tower: {version}")

    def show_switch(self, done: int, total: int, message: str) -> None:
        """Progress of a model switch; hidden when `message` is empty (none running)."""
        if not message:
            self.switch.hide()
            return
        model = message.split(":", 1)[0] if ":" in message else ""
        self.switch.setText(f"Preparing {model}: {done:,} of {total:,}" if total and model else message)
        self.switch.show()
