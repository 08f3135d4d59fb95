"""The main window: the Photos page, the Categories and Teach views, indexing and status bars.

It wires the parts together and owns what lives as long as the window: the engine loader,
the indexing controller, the thumbnail loader and the remembered settings.
"""

from __future__ import annotations

import importlib.metadata
import os

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from app.categories_view import CategoriesView
from app.download_dialog import DownloadDialog
from app.engine_loader import EngineLoader
from app.failures_dialog import FailuresDialog
from app.folders_model import FoldersModel
from app.indexing import Indexing
from app.indexing_bar import IndexingBar
from app.model_dialog import ModelDialog, ModelSwitch
from app.search_page import SearchPage
from app.settings import load_filters, load_polling, save_filters, save_polling
from app.state import AppState
from app.status_bar import LibraryStatusBar
from app.teach_view import TeachView
from app.thumbnail_delegate import CELL
from app.thumbnail_loader import ThumbnailLoader
from app.watching import LibraryWatching
from engine.images import EXTENSIONS
from engine.thumbnails import Thumbnails

APP_NAME = "LiT Photos"
WARM_UP_MS = 1500  # load the model this long after opening, when there are photos to search


class MainWindow(QMainWindow):
    def __init__(self, state: AppState, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.resize(1200, 780)
        library = state.library

        self.loader = EngineLoader(state, self)
        self.indexing = Indexing(state, self.loader, self)
        self.watching = LibraryWatching(state, self)
        self.model_switch = ModelSwitch(state, self)
        self.model_dialog: ModelDialog | None = None
        self._bar_shows_watcher = False  # the indexing bar follows a watcher batch (new photos)
        self.folders_model = FoldersModel(self)
        ratio = self.devicePixelRatioF()
        self.thumbnails = ThumbnailLoader(Thumbnails(library.paths.thumbnails), cell_px=round(CELL * ratio), parent=self)
        self.thumbnails.device_ratio = ratio
        self.download_dialog: DownloadDialog | None = None
        self.failures_dialog: FailuresDialog | None = None

        self.search_page = SearchPage(state, self.loader, self.folders_model, self.thumbnails)
        self.views: list[QWidget] = [self.search_page, CategoriesView(state, self.loader), TeachView(state)]
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        # A photo dragged from the grid over the Categories tab opens it, so that it can be
        # dropped on a category there (pinning it).
        self.tabs.tabBar().setChangeCurrentOnDrag(True)
        self.tabs.tabBar().setAcceptDrops(True)
        for view in self.views:
            self.tabs.addTab(view, getattr(view, "title", type(view).__name__))
        self.indexing_bar = IndexingBar()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.indexing_bar)
        self.setCentralWidget(central)
        self.status = LibraryStatusBar()
        self.setStatusBar(self.status)
        self._build_menus()

        panel = self.search_page.folders_panel
        panel.add_requested.connect(self.choose_folder)
        panel.remove_requested.connect(self.remove_folder)
        panel.rescan_requested.connect(lambda path: self.indexing.index([path] if path else None))
        self.indexing.started.connect(self._indexing_started)
        self.indexing.progress.connect(self.indexing_bar.show_progress)
        self.indexing.progress.connect(self.search_page.indexing_progress)
        self.indexing.finished.connect(self._indexing_finished)
        self.indexing.folders_changed.connect(self.refresh_folders)
        self.indexing.problem.connect(self.search_page.show_message)
        self.indexing_bar.cancel_requested.connect(self.cancel_indexing)
        self.indexing_bar.resume_requested.connect(lambda: self.indexing.index(None))
        self.loader.failed.connect(self._model_failed)
        self.loader.download_progress.connect(self._download_progress)
        self.loader.ready.connect(self._model_ready)
        self.watching.progress.connect(self._watcher_progress)
        self.watching.batch.connect(self._watcher_batch)
        self.model_switch.progress.connect(self.status.show_switch)
        self.model_switch.finished.connect(self._switch_finished)
        self.status.failures_clicked.connect(self.show_failures)
        self.status.switch_clicked.connect(self.show_model_dialog)
        state.library_changed.connect(self.refresh_folders)
        state.library_changed.connect(self.refresh_status)
        state.text_tower_changed.connect(self.status.show_text_tower)
        state.status_message.connect(lambda text: self.status.showMessage(text, 8000))
        state.index_requested.connect(lambda paths: self.indexing.index(paths or None))

        self._restore()
        # Everything that touches the disk or the catalog starts after the window is up.
        QTimer.singleShot(0, self, self._startup)

    # -- menus ---------------------------------------------------------------------------
    def _build_menus(self) -> None:
        def action(menu, text: str, slot, shortcut=None, role=None) -> QAction:  # noqa: ANN001
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(shortcut)
            if role is not None:
                act.setMenuRole(role)
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        file_menu = self.menuBar().addMenu("&File")
        self.add_action = action(file_menu, "&Add Folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        action(file_menu, "&Re-scan All Folders", lambda: self.indexing.index(None), QKeySequence("F5"))
        self.check_action = action(file_menu, "&Check Folders for Changes", self.check_folders)
        _, every = load_polling(self.settings)
        self.polling_action = action(
            file_menu, f"&Look for Changes Every {_every(every)} (Network Folders)", self.set_polling
        )
        self.polling_action.setCheckable(True)
        self.polling_action.setToolTip(
            "Network shares send no change events: with this on, every folder is looked at "
            "regularly instead (file sizes and dates only)."
        )
        file_menu.addSeparator()
        self.model_action = action(file_menu, "Image &Model…", self.show_model_dialog)
        action(file_menu, "Files That Could Not Be Indexed…", self.show_failures)
        file_menu.addSeparator()
        self.quit_action = action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit, QAction.MenuRole.QuitRole)
        edit_menu = self.menuBar().addMenu("&Edit")
        action(edit_menu, "&Find", self.find, QKeySequence.StandardKey.Find)
        slash = QShortcut(QKeySequence("/"), self)  # a text field with focus still gets its '/'
        slash.setContext(Qt.ShortcutContext.WindowShortcut)
        slash.activated.connect(self.find)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = action(help_menu, f"&About {APP_NAME}", self.show_about, None, QAction.MenuRole.AboutRole)

    def find(self) -> None:
        """Ctrl+F, '/' and Edit > Find from any tab: the Photos tab, its search field focused."""
        self.tabs.setCurrentWidget(self.search_page)
        self.search_page.search_bar.focus()

    def show_about(self) -> None:
        library = self.state.library
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<h3>{APP_NAME} {_version()}</h3><p>Find photos on your own disk by what they show.</p>"
            "<p>Each photo is embedded once by a locked, pretrained image tower (open_clip); "
            "queries go through a text tower that can be taught your own words without "
            "re-indexing, as in <i>LiT: Zero-Shot Transfer with Locked-image text Tuning</i> "
            "(Zhai et al., CVPR 2022).</p>"
            f"<p>Image model: {library.encoder.spec.key}<br>Library: {library.paths.home}</p>"
            "<p>Everything stays on this computer.</p>",
        )

    # -- start-up and refreshes (all off the GUI thread) ---------------------------------
    def _startup(self) -> None:
        self.refresh_folders(warm_up=True)
        self.refresh_status()
        self.search_page.refresh()

    def refresh_folders(self, warm_up: bool = False) -> None:
        job = self.state.jobs.start(self.state.library.folders, name="folders")
        job.signals.result.connect(lambda folders: self._show_folders(folders, warm_up))

    def _show_folders(self, folders: list, warm_up: bool = False) -> None:
        self.folders_model.set_folders(folders)
        self.search_page.search_bar.set_folders([f.path for f in folders])
        self.search_page.set_has_folders(bool(folders))
        if warm_up:
            # With photos to search, load the model; on a first run, only import its code.
            QTimer.singleShot(WARM_UP_MS, self.loader, self.loader.start if folders else self.loader.prepare)

    def refresh_status(self) -> None:
        job = self.state.jobs.start(self.state.library.status, name="status")
        job.signals.result.connect(self.status.show_status)

    # -- folders -------------------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder of photos", os.path.expanduser("~"))
        if path:
            self.add_folders([path])

    def add_folders(self, paths: list[str]) -> None:
        self.indexing.add_folders(paths)

    def remove_folder(self, path: str) -> None:
        answer = QMessageBox.question(
            self, "Remove folder",
            f"Stop showing the photos in {path}?\n\nThe files themselves are not touched; "
            "adding the folder again indexes them again.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.indexing.remove_folder(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Folders dropped on the window are added; a dropped photo searches for similar ones."""
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        folders = [p for p in paths if os.path.isdir(p)]
        images = [p for p in paths if os.path.splitext(p)[1].lower() in EXTENSIONS and os.path.isfile(p)]
        if folders:
            self.add_folders(folders)
        elif images:
            self.tabs.setCurrentWidget(self.search_page)
            self.search_page.more_like_this(images[0])
        else:
            self.search_page.show_message("Drop folders of photos to add them, or a photo to find similar ones.", "info")
            return
        event.acceptProposedAction()

    # -- indexing ------------------------------------------------------------------------
    def _indexing_started(self, scopes: list[str]) -> None:
        self._bar_shows_watcher = False
        self.indexing_bar.running()
        self.folders_model.set_busy(scopes or [""])
        self.search_page.set_indexing(True)

    def _indexing_finished(self, report: object) -> None:
        self.indexing_bar.finished(report)
        self.folders_model.set_busy([])
        self.search_page.set_indexing(False)
        if self.loader.loaded and self.indexing.idle and report is not None:
            self._watch()
        if report is not None and not report.cancelled:
            self.status.showMessage(
                f"Indexing done: {report.added:,} added, {report.updated:,} updated, "
                f"{report.moved:,} moved, {report.removed:,} removed, {report.failed:,} could not be read.", 10000)

    def cancel_indexing(self) -> None:
        self.indexing_bar.cancelling()
        if self._bar_shows_watcher:
            self.watching.skip_batch()  # Resume then re-scans, which finds what it skipped
        else:
            self.indexing.cancel()

    # -- the model -----------------------------------------------------------------------
    def _download_progress(self, done: int, total: int) -> None:
        if self.download_dialog is None:
            self.download_dialog = DownloadDialog(self.state.library.encoder.spec.key, self)
        self.download_dialog.update_bytes(done, total)

    def _model_ready(self) -> None:
        if self.download_dialog is not None:
            self.download_dialog.close()
            self.download_dialog = None
        self.refresh_status()
        self.start_background_sync()

    # -- keeping the library in sync (watching, a pending model switch) ------------------
    def start_background_sync(self) -> None:
        """Once the model is loaded: resume a model switch left unfinished, and watch the
        folders once no indexing run is busy with them.

        The watcher waits for a run in progress so that the two do not embed the same new
        photos twice.
        """
        if self.state.library.target is not None and not self.model_switch.running:
            self.model_switch.resume()
        if self.indexing.idle:
            self._watch()  # otherwise _indexing_finished does

    def _watch(self) -> None:
        """Follow the folders (idempotent; folders added later are found by its polling).

        It starts with a stat-only reconcile, except after a run the person cancelled: they
        asked to stop that run, not to stop following their folders, and the reconcile would
        quietly finish what they stopped. New changes are still picked up (a change in a
        folder indexes that folder); the rest waits for Resume, a re-scan, Check Folders for
        Changes, or the next start.
        """
        last = self.indexing.last_report
        self.watching.start(reconcile=last is None or not last.cancelled)

    def _watcher_progress(self, event: object) -> None:
        """New photos found by the watcher (a camera import, say) show in the indexing bar."""
        if not self.indexing.idle:
            return  # a run the person started owns the bar
        if not self._bar_shows_watcher:
            self._bar_shows_watcher = True
            self.indexing_bar.running("Adding new photos…")
        self.indexing_bar.show_progress(event)

    def _watcher_batch(self, batch: object) -> None:
        if self._bar_shows_watcher:
            self._bar_shows_watcher = False
            self.indexing_bar.finished(batch.report)
        if batch.folders_back and self.state.library.target is not None and not self.model_switch.running:
            self.model_switch.resume()  # it may have waited for this drive's photos

    def check_folders(self) -> None:
        """A stat-only scan of every folder now (after changes the watcher cannot see)."""
        if self.watching.running:
            self.watching.reconcile()
            self.status.showMessage("Checking every folder for changes…", 5000)
        else:  # not watching yet (the model has never been needed): a plain re-scan does it
            self.indexing.index(None)

    def set_polling(self, on: bool) -> None:
        """Follow the folders by looking at them regularly (network shares) or by change events."""
        _, every = load_polling(self.settings)
        self.polling_action.setChecked(on)
        self.watching.set_polling(every if on else None)
        save_polling(self.settings, on, every)
        self.status.showMessage(
            f"Looking for changes every {_every(every).lower()}" if on else "Following changes as they happen", 5000
        )

    def show_model_dialog(self) -> ModelDialog:
        if self.model_dialog is None:
            self.model_dialog = ModelDialog(self.state, self.model_switch, parent=self)
        else:
            self.model_dialog.refresh()
        self.model_dialog.show()
        self.model_dialog.raise_()
        return self.model_dialog

    def _switch_finished(self, message: str) -> None:
        self.status.show_switch(0, 0, "")
        if message:
            self.status.showMessage(message, 10000)
        self.refresh_status()

    def _model_failed(self, message: str) -> None:
        if self.download_dialog is not None:
            self.download_dialog.close()
            self.download_dialog = None
        self.indexing_bar.hide()
        self.search_page.searching = False
        self.search_page.summary.setText("")
        self.search_page.show_message(f"The model could not be loaded: {message}")

    # -- dialogs -------------------------------------------------------------------------
    def show_failures(self) -> FailuresDialog:
        self.failures_dialog = FailuresDialog(self.state, self)
        self.failures_dialog.open()
        return self.failures_dialog

    # -- remembered state ----------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        splitter = self.settings.value("window/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.search_page.splitter.restoreState(splitter)
        self.search_page.search_bar.set_filters(load_filters(self.settings))
        polling, every = load_polling(self.settings)
        self.polling_action.setChecked(polling)
        self.watching.set_polling(every if polling else None)  # before watching starts

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.search_page.splitter.saveState())
        save_filters(self.settings, self.search_page.search_bar.filters())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 15000) -> None:
        """Stop every job (indexing stops after its batch; nothing is left half-written)."""
        self.model_switch.pause()
        self.watching.shutdown(timeout_ms)
        self.thumbnails.jobs.shutdown(timeout_ms)
        self.state.jobs.shutdown(timeout_ms)


def _every(seconds: float) -> str:
    """'Minute', '5 Minutes', '30 s': for the polling menu item."""
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "Minute" if minutes == 1 else f"{minutes} Minutes"
    return f"{seconds:g} s"


def _version() -> str:
    try:
        return importlib.metadata.version("lit-photos")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return ""
