"""Loads the model and opens the vector index off the GUI thread, once, the first time needed.

Whoever needs the model (a search, indexing) calls `when_ready(fn)`: `fn` runs on the GUI
thread as soon as the model is loaded, at once if it already is. Weights that must be
downloaded report their bytes through `download_progress`.

`ready` is emitted once this loader has run, even when something else loaded the model
first (the window starts watching on it): the model facade loads itself on first use, so
"the model is loaded" alone does not mean the index is open and the window was told.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.state import AppState


def _load(library, report: Callable[[object], None]) -> bool:  # noqa: ANN001 - engine Library
    """On a pool thread: build the model (downloading if needed), then open the vector index."""
    library.encoder.load(on_download=lambda done, total: report((done, total)))
    # The first text query imports the tokenizer's dependencies and builds its tables: do it
    # now, in the background, rather than when the person types.
    library.encoder.encode_texts(["a photo"])
    library.index  # noqa: B018 - opening (and if needed repairing) the index is the point
    return True


def _import_model_code() -> None:
    """On a pool thread: import open_clip (and torch's compiler stack behind it), nothing more.

    Big imports hold Python's GIL for up to a few hundred ms at a time, which would stall the
    window if it happened when the person first searches or adds a folder.
    """
    import open_clip  # noqa: F401


class EngineLoader(QObject):
    started = Signal()
    ready = Signal()
    failed = Signal(str)  # a one-line message (e.g. the weights are missing and we are offline)
    download_progress = Signal(int, int)  # bytes done, bytes total

    def __init__(self, state: AppState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._waiting: list[Callable[[], None]] = []
        self._job = None
        self._ran = False  # `ready` was emitted; from then on `loaded` follows the serving model
        self.error: str | None = None

    @property
    def loaded(self) -> bool:
        return self._ran and self.state.library.encoder.loaded and self._job is None

    @property
    def loading(self) -> bool:
        return self._job is not None

    def prepare(self) -> None:
        """Import the model's code in the background (the window does this once it is up)."""
        self.state.jobs.start(_import_model_code, name="import model code")

    def when_ready(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the model is loaded (now, if it is)."""
        if self.loaded:
            fn()
            return
        self._waiting.append(fn)
        self.start()

    def start(self) -> None:
        """Begin loading in the background (no-op when loaded or loading)."""
        if self._job is not None or self.loaded:
            return
        self.error = None
        self._job = self.state.jobs.start(_load, self.state.library, name="load model")
        self._job.signals.progress.connect(lambda pair: self.download_progress.emit(*pair))
        self._job.signals.result.connect(self._done)
        self._job.signals.error.connect(self._failed)
        self.started.emit()

    def _done(self, _ok: object) -> None:
        self._job = None
        self._ran = True
        waiting, self._waiting = self._waiting, []
        self.ready.emit()
        for fn in waiting:
            fn()

    def _failed(self, message: str) -> None:
        self._job = None
        self._waiting = []
        self.error = message
        self.failed.emit(message)
