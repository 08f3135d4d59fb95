"""The one worker abstraction: run an engine generator off the GUI thread, report by signals.

    job = jobs.start(library.index_folders, paths)          # fn(*args, cancel=Event) -> iterator
    job.signals.progress.connect(...)   # each yielded event
    job.signals.result.connect(...)     # the generator's last event (or a plain function's return)
    job.signals.error.connect(...)      # str message of an exception
    job.signals.finished.connect(...)   # always, last
    job.cancel()                        # cooperative: the generator stops between yields

A plain function that takes a `report` parameter gets a callable that emits `progress` from
its own thread (for engine code that reports through a callback, such as a weights download).

Signals cross threads as queued connections, so slots run on the GUI thread and may touch
widgets. Nothing here ever blocks the GUI thread. A job starts on the next turn of the event
loop, so connections made right after `start()` returns never miss an early signal.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    progress = Signal(object)
    result = Signal(object)
    error = Signal(str)
    finished = Signal()


class Worker(QRunnable):
    """Runs `fn(*args, cancel=event, **kwargs)`; a generator is iterated and each event emitted."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Jobs registry owns it until it finishes
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.name = name or getattr(fn, "__name__", "job")
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        self.done = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def _accepts(self, name: str) -> bool:
        try:
            return name in inspect.signature(self.fn).parameters
        except (TypeError, ValueError):
            return False

    def _accepts_cancel(self) -> bool:
        return self._accepts("cancel")

    def run(self) -> None:  # on a pool thread
        try:
            kwargs = dict(self.kwargs)
            if self._accepts_cancel():
                kwargs["cancel"] = self.cancel_event
            if self._accepts("report") and "report" not in kwargs:
                kwargs["report"] = self.signals.progress.emit
            outcome = self.fn(*self.args, **kwargs)
            if inspect.isgenerator(outcome):
                last = None
                try:
                    for event in outcome:
                        last = event
                        self.signals.progress.emit(event)
                        if self.cancel_event.is_set() and not self._accepts_cancel():
                            break
                finally:
                    outcome.close()
                outcome = last
            self.signals.result.emit(outcome)
        except Exception as exc:  # a bug or an expected failure: the GUI shows it, the log keeps it
            log.exception("job %s failed", self.name)
            self.signals.error.emit(str(exc) or type(exc).__name__)
        finally:
            self.done.set()
            self.signals.finished.emit()


class Jobs(QObject):
    """One pool, one registry of running jobs, cancel-all on quit."""

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._running: set[Worker] = set()
        self._closed = False

    def start(self, fn: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any) -> Worker:
        worker = Worker(fn, *args, name=name, **kwargs)
        self._running.add(worker)
        worker.signals.finished.connect(lambda w=worker: self._running.discard(w))
        # Handed to the pool from the event loop: a fast job could otherwise emit its result
        # before the caller had connected to it, and the result would be lost.
        QTimer.singleShot(0, self, lambda w=worker: self._launch(w))
        return worker

    def _launch(self, worker: Worker) -> None:
        if self._closed:
            self._running.discard(worker)
            return
        self.pool.start(worker)

    @property
    def running(self) -> list[Worker]:
        return list(self._running)

    def cancel_all(self) -> None:
        for worker in list(self._running):
            worker.cancel()

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel everything and wait for the pool (on quit only); jobs not begun never run."""
        self._closed = True
        self.cancel_all()
        return self.pool.waitForDone(timeout_ms)
