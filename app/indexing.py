"""Indexing in the background: one run at a time, queued requests, cancel and resume.

Adding folders checks them first (a folder that is missing or unreadable gets a clear
message and is not registered), then indexes them. When a run ends, `state.library_changed`
tells every view to refresh.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from app.engine_loader import EngineLoader
from app.state import AppState
from engine.library import FolderError


def _add_folders(library, paths: Sequence[str]) -> tuple[list[str], list[str]]:  # noqa: ANN001 - engine Library
    """On a pool thread: register each folder; returns (added paths, one error line per refusal)."""
    added, errors = [], []
    for path in paths:
        path = os.path.abspath(os.path.expanduser(path))
        if os.path.isdir(path) and not os.access(path, os.R_OK | os.X_OK):
            errors.append(f"Cannot read the folder {path}: permission denied.")
            continue
        try:
            added.append(library.add_folder(path).path)
        except FolderError as exc:
            errors.append(f"Cannot add {path}: {exc}.")
        except OSError as exc:
            errors.append(f"Cannot add {path}: {exc.strerror or exc}.")
    return added, errors


def _remove_folder(library, path: str) -> int:  # noqa: ANN001 - engine Library
    return library.remove_folder(path)


WAITING = object()  # the run slot is taken, the model is still loading


class Indexing(QObject):
    """`index(paths)` (None: every folder), `add_folders(paths)`, `remove_folder(path)`, `cancel()`."""

    started = Signal(list)  # the scopes being indexed ([] = every folder)
    progress = Signal(object)  # engine.indexer.Progress
    finished = Signal(object)  # engine.indexer.IndexReport (None when the run failed)
    folders_changed = Signal()  # a folder was added or removed
    problem = Signal(str)  # a one-line message for the person

    def __init__(self, state: AppState, loader: EngineLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.loader = loader
        self._job = None
        self._queue: list[list[str] | None] = []
        self.scopes: list[str] = []
        self.last_report = None
        loader.failed.connect(self._model_failed)

    @property
    def running(self) -> bool:
        return self._job is not None

    @property
    def idle(self) -> bool:
        """No run in progress, none waiting for the model and none queued."""
        return self._job is None and not self._queue

    def add_folders(self, paths: Sequence[str]) -> None:
        """Register folders (checked off the GUI thread), then index what was accepted."""
        job = self.state.jobs.start(_add_folders, self.state.library, list(paths), name="add folders")
        job.signals.result.connect(self._folders_added)
        job.signals.error.connect(self.problem)

    def remove_folder(self, path: str) -> None:
        """Forget a folder and its photos (the files are not touched)."""
        if self.running and (not self.scopes or path in self.scopes):
            self.cancel()
        job = self.state.jobs.start(_remove_folder, self.state.library, path, name="remove folder")
        job.signals.result.connect(lambda _n: (self.folders_changed.emit(), self.state.library_changed.emit()))
        job.signals.error.connect(self.problem)

    def index(self, paths: Sequence[str] | None = None) -> None:
        """Queue a run over `paths` (None or empty: every folder); starts when the model is ready."""
        request = list(paths) if paths else None
        if request is None:
            self._queue = [None]  # a full run covers anything queued
        elif None not in self._queue and request not in self._queue:
            self._queue.append(request)
        self._next()

    def cancel(self) -> None:
        """Stop after the batch in flight; what was indexed stays, a later run resumes."""
        self._queue.clear()
        if self._job is WAITING:
            self._job = None
            self.finished.emit(None)
        elif self._job is not None:
            self._job.cancel()

    def _folders_added(self, outcome: tuple[list[str], list[str]]) -> None:
        added, errors = outcome
        if errors:
            self.problem.emit(" ".join(errors))
        if added:
            self.folders_changed.emit()
            self.index(added)

    def _next(self) -> None:
        if self._job is not None or not self._queue:
            return
        # Hold the slot so that a second request waits while the model loads.
        self._job = WAITING
        self.loader.when_ready(self._start)

    def _model_failed(self, _message: str) -> None:
        self._queue.clear()
        if self._job is WAITING:
            self._job = None

    def _start(self) -> None:
        if self._job is not WAITING:  # cancelled while the model loaded, or already started
            return
        if not self._queue:
            self._job = None
            return
        request = self._queue.pop(0)
        self.scopes = request or []
        self._job = self.state.jobs.start(self.state.library.index_folders, request, name="index")
        self._job.signals.progress.connect(self.progress)
        self._job.signals.result.connect(self._finished)
        self._job.signals.error.connect(self._failed)
        self.started.emit(self.scopes)

    def _finished(self, last: object) -> None:
        report = getattr(last, "report", None)
        self.last_report = report
        self._job = None
        self.scopes = []
        self.finished.emit(report)
        self.state.library_changed.emit()
        if report is not None and report.offline:
            self.problem.emit(
                "Folder not found (unplugged drive?): " + ", ".join(report.offline)
                + ". Its photos stay in the catalog, marked unavailable."
            )
        self._next()

    def _failed(self, message: str) -> None:
        self._job = None
        self.scopes = []
        self.problem.emit(f"Indexing stopped: {message}")
        self.finished.emit(None)
        self.state.library_changed.emit()
        self._next()
