"""Folder watching in the app: the engine watcher on a worker, its batches turned into signals.

    watching = LibraryWatching(state)      # after state.library is open
    watching.start()                       # reconciles, then follows the folders
    watching.start(reconcile=False)        # follows the folders (after a cancelled run)
    watching.reconcile()                   # "check folders now" (a stat-only scan)
    watching.set_polling(60.0)             # look every 60 s instead of waiting for events (shares)
    watching.shutdown()                    # on quit: stop and wait (the graph is saved)

The engine watcher runs for as long as the app does, so it has a thread of its own (its own
`Jobs` of one) rather than holding one of the shared pool's. It never touches Qt: each batch
travels to the GUI thread as a queued signal, where it becomes `state.library_changed`
(when something changed) and a `state.status_message` line.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.state import AppState
from app.worker import Jobs, Worker
from engine.indexer import Progress
from engine.watcher import Batch, Watcher, observer_for


class LibraryWatching(QObject):
    """Starts and stops the engine watcher for one AppState."""

    batch = Signal(object)  # engine.watcher.Batch, on the GUI thread
    progress = Signal(object)  # engine.indexer.Progress while a batch embeds photos
    stopped = Signal()

    def __init__(self, state: AppState, parent: QObject | None = None, **watcher_options: float) -> None:
        super().__init__(parent)
        self.state = state
        self.watcher_options = watcher_options  # Watcher(...) keywords: debounce_s, poll_s, ...
        self.jobs = Jobs(max_threads=1, parent=self)
        self._watcher: Watcher | None = None
        self._job: Worker | None = None
        self.polling_s: float | None = None  # None: the system's change events
        self._restart = False

    @property
    def running(self) -> bool:
        return self._job is not None

    @property
    def watcher(self) -> Watcher | None:
        """The engine watcher while one runs."""
        return self._watcher

    def start(self, reconcile: bool = True) -> None:
        """Start watching every registered folder (idempotent); first reconcile them, unless told not to."""
        if self._job is not None:
            return
        self._watcher = Watcher(self.state.library, **self.watcher_options)
        job = self.jobs.start(self._watcher.run, name="watcher", reconcile=reconcile)
        job.signals.progress.connect(self._on_event)
        job.signals.error.connect(self._on_error)
        job.signals.finished.connect(self._on_finished)
        self._job = job

    def reconcile(self) -> None:
        """Ask for a full stat-only scan now (after a network share changed, say)."""
        if self._watcher is not None:
            self._watcher.request_reconcile()

    def set_polling(self, seconds: float | None) -> None:
        """Look at every file each `seconds` (network shares send no change events), or
        follow change events again (None). A running watcher restarts with a reconcile, so
        that nothing changed in between is missed."""
        if seconds == self.polling_s:
            return
        self.polling_s = seconds
        self.watcher_options["observer_factory"] = observer_for(seconds)
        if self._job is not None:
            self._restart = True
            self._job.cancel()

    def skip_batch(self) -> None:
        """Stop the batch in flight (the person pressed Cancel); watching goes on."""
        if self._watcher is not None:
            self._watcher.skip_batch()

    def stop(self) -> None:
        """Ask the watcher to stop; `stopped` is emitted once it has (the graph saved)."""
        self._restart = False
        if self._job is not None:
            self._job.cancel()

    def wait(self, timeout_s: float = 10.0) -> bool:
        """Block until stopped: for quitting only, never from a normal slot."""
        return self._job is None or self._job.done.wait(timeout_s)

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Stop watching and wait for the thread (on quit only); a later `start()` is refused."""
        self._restart = False
        return self.jobs.shutdown(timeout_ms)

    # -- slots (GUI thread) --------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        if isinstance(event, Batch):
            self.batch.emit(event)
            if event.changed:
                self.state.library_changed.emit()
                self.state.status_message.emit(event.summary())
        elif isinstance(event, Progress) and event.phase == "embedding" and event.total:
            self.progress.emit(event)

    def _on_error(self, message: str) -> None:
        self.state.status_message.emit(f"folder watching stopped: {message}")

    def _on_finished(self) -> None:
        self._job, self._watcher = None, None
        if self._restart:  # set_polling changed how changes are seen: same watching, new eyes
            self._restart = False
            self.start()
            return
        self.stopped.emit()
