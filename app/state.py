"""What the app's views share: the library, the job runner, and change notifications."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.worker import Jobs


class AppState(QObject):
    """Handed to every view. Views talk to each other only through these signals."""

    selection_changed = Signal(list)  # photo ids selected in the results grid
    library_changed = Signal()  # photos added/removed/moved (after indexing, watching)
    text_tower_changed = Signal(str)  # a text-tower version was activated (or 'base')
    categories_changed = Signal()
    status_message = Signal(str)  # a line for the status bar
    index_requested = Signal(list)  # paths to (re)index, [] for every folder: queued behind any run

    def __init__(self, library, jobs: Jobs, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.library = library  # engine.library.Library (opened off the GUI thread by the window)
        self.jobs = jobs
        self.selection: list[int] = []

    def select(self, photo_ids: list[int]) -> None:
        self.selection = list(photo_ids)
        self.selection_changed.emit(self.selection)
