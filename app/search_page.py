"""Search and browse: folders on the left; the search bar, filters and results grid on the right.

Every search runs in a job. Each request carries a generation number: a result that comes
back after a newer query was typed is dropped, so the grid only ever shows the latest.
"""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QSplitter, QStackedWidget, QToolButton, QVBoxLayout, QWidget

from app.empty_state import EmptyState
from app.engine_loader import EngineLoader
from app.file_actions import copy_paths, open_in_viewer, show_in_file_manager
from app.folders_model import FoldersModel
from app.folders_panel import FoldersPanel
from app.message_bar import MessageBar
from app.preview_dialog import PreviewDialog
from app.results_grid import ResultsGrid
from app.results_model import ResultsModel
from app.search_bar import SearchBar
from app.state import AppState
from app.thumbnail_loader import ThumbnailLoader
from engine.library import Filters, SearchResult

SEARCH_LIMIT = 1000  # results of a query (best first)
BROWSE_LIMIT = 5000  # photos shown newest first before anything is typed
REFRESH_WHILE_INDEXING_S = 3.0


class SearchPage(QWidget):
    """The 'Photos' page of the window."""

    title = "Photos"
    results_shown = Signal(int)  # number of rows now in the grid (after each search)

    def __init__(self, state: AppState, loader: EngineLoader, folders: FoldersModel, thumbnails: ThumbnailLoader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.loader = loader
        self.results_model = ResultsModel(thumbnails, self)
        self._generation = 0
        self._similar_to: SearchResult | str | None = None
        self._has_folders = False
        self._indexing = False
        self._last_refresh = 0.0
        self.searching = False
        self.preview: PreviewDialog | None = None

        self.folders_panel = FoldersPanel(folders)
        self.search_bar = SearchBar()
        self.message_bar = MessageBar()
        self.similar_banner = QWidget()
        self.similar_label = QLabel()
        clear_similar = QToolButton()
        clear_similar.setText("✕ Back to search")
        clear_similar.setAutoRaise(True)
        clear_similar.clicked.connect(self.clear_similar)
        banner = QHBoxLayout(self.similar_banner)
        banner.setContentsMargins(0, 0, 0, 0)
        banner.addWidget(self.similar_label, 1)
        banner.addWidget(clear_similar)
        self.similar_banner.hide()
        self.summary = QLabel()
        self.summary.setObjectName("resultsSummary")
        self.summary.setEnabled(False)

        self.grid = ResultsGrid(self.results_model)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._context_menu)
        self.grid.preview_requested.connect(self.open_preview)
        self.grid.selection_changed_ids.connect(state.select)
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.grid)

        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(8, 10, 10, 0)
        column.setSpacing(6)
        column.addWidget(self.search_bar)
        column.addWidget(self.message_bar)
        column.addWidget(self.similar_banner)
        column.addWidget(self.summary)
        column.addWidget(self.stack, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.folders_panel)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([230, 900])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self.search_bar.search_requested.connect(self._typed)
        self.empty.add_requested.connect(self.folders_panel.add_requested)
        state.library_changed.connect(self.refresh)
        state.text_tower_changed.connect(lambda _v: self.refresh())

    # -- what the page shows -------------------------------------------------------------
    def set_has_folders(self, has: bool) -> None:
        self._has_folders = has
        self._update_stack()

    def set_indexing(self, running: bool) -> None:
        self._indexing = running
        self._update_stack()

    def indexing_progress(self, _event: object) -> None:
        """While indexing, show new photos every few seconds when nothing was typed."""
        if not self.search_bar.query() and self._similar_to is None:
            now = time.monotonic()
            if now - self._last_refresh > REFRESH_WHILE_INDEXING_S:
                self.refresh()

    def _update_stack(self) -> None:
        if self.results_model.rowCount() > 0:
            self.stack.setCurrentWidget(self.grid)
            return
        if not self._has_folders:
            self.empty.first_run()
        elif self._indexing and not self.search_bar.query():
            self.empty.indexing()
        elif self.searching:
            return
        else:
            self.empty.no_results(self.search_bar.query())
        self.stack.setCurrentWidget(self.empty)

    def show_message(self, text: str, level: str = "error") -> None:
        self.message_bar.show_message(text, level)

    # -- searching -----------------------------------------------------------------------
    def _typed(self) -> None:
        self._similar_to = None
        self.similar_banner.hide()
        self.refresh()

    def refresh(self) -> None:
        """Run the current query (or similar-photo search, or browse) again."""
        self._last_refresh = time.monotonic()
        self._generation += 1
        generation = self._generation
        query, filters = self.search_bar.query(), self.search_bar.filters()
        library = self.state.library
        self.searching = True
        if self._similar_to is not None:
            target = self._similar_to.path if isinstance(self._similar_to, SearchResult) else self._similar_to
            self._start(generation, library.similar, target, filters, SEARCH_LIMIT, label=f"like {os.path.basename(target)}")
        elif query:
            self.summary.setText(f"Searching for “{query}”…" if self.loader.loaded else "Loading the model…")
            self.loader.when_ready(lambda: self._start(generation, library.search, query, filters, SEARCH_LIMIT, label=f"for “{query}”"))
        else:
            self._start(generation, library.browse, Filters(folder=filters.folder, after=filters.after, before=filters.before),
                        BROWSE_LIMIT, label="")

    def _start(self, generation: int, fn, *args: object, label: str) -> None:  # noqa: ANN001 - a library method
        if generation != self._generation:
            return  # a newer query was typed while the model loaded
        job = self.state.jobs.start(fn, *args, name="search")
        job.signals.result.connect(lambda results: self._arrived(generation, results, label))
        job.signals.error.connect(lambda message: self._failed(generation, message))

    def _arrived(self, generation: int, results: list[SearchResult], label: str) -> None:
        if generation != self._generation:
            return  # stale: a newer query is on its way
        self.searching = False
        if self.message_bar.level == "warning":
            self.message_bar.hide()
        selected = {r.id for r in self.grid.selected_results()}
        self.results_model.set_results(results)
        if selected:  # keep the selection across refreshes (e.g. new photos arrived)
            for row, r in enumerate(results):
                if r.id in selected:
                    self.grid.selectionModel().select(self.results_model.index(row), self.grid.selectionModel().SelectionFlag.Select)
        n = len(results)
        if label:
            self.summary.setText(f"{n:,} photo{'s' if n != 1 else ''} {label}, best first")
        else:
            self.summary.setText(f"{n:,} photo{'s' if n != 1 else ''}, newest first" if n else "")
        self._update_stack()
        self.results_shown.emit(n)

    def _failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.searching = False
        self.summary.setText("")
        self.message_bar.show_message(f"Cannot search: {message}", "warning")
        self.results_model.set_results([])
        self._update_stack()
        self.results_shown.emit(0)

    # -- similar photos ------------------------------------------------------------------
    def more_like_this(self, target: SearchResult | str) -> None:
        """Show the photos most like a result (or like any image file)."""
        self._similar_to = target
        path = target.path if isinstance(target, SearchResult) else target
        self.similar_label.setText(f"Photos like <b>{os.path.basename(path)}</b>")
        self.similar_banner.show()
        self.refresh()

    def clear_similar(self) -> None:
        self._similar_to = None
        self.similar_banner.hide()
        self.refresh()

    # -- actions on results --------------------------------------------------------------
    def open_preview(self, result: SearchResult) -> PreviewDialog:
        if self.preview is not None:
            self.preview.close()
        self.preview = PreviewDialog(result, self.state, self)
        self.preview.more_like_this.connect(self.more_like_this)
        self.preview.finished.connect(lambda _code: self.grid.setFocus())
        self.preview.open()
        return self.preview

    def _context_menu(self, pos: QPoint) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return
        results = self.grid.selected_results() or [self.results_model.result(index)]
        result = self.results_model.result(index)
        menu = QMenu(self)
        actions: list[tuple[str, object]] = [
            ("Preview", lambda: self.open_preview(result)),
            ("More like this", lambda: self.more_like_this(result)),
            ("", None),
            ("Open with the system viewer", lambda: open_in_viewer(result.path)),
            ("Show in file manager", lambda: show_in_file_manager(result.path)),
            ("Copy path" if len(results) == 1 else f"Copy {len(results)} paths", lambda: copy_paths([r.path for r in results])),
        ]
        for text, slot in actions:
            if not text:
                menu.addSeparator()
                continue
            action = QAction(text, menu)
            action.triggered.connect(slot)
            menu.addAction(action)
        menu.popup(self.grid.viewport().mapToGlobal(pos))
