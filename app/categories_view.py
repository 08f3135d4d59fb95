"""The categories view: name categories, watch them catch photos live, correct them, export.

Layout: the category list (with counts, the Unsorted bucket last, photos can be dropped on a
category to pin them) | the editor (name, prompts, examples, threshold) | the preview (the
photos it catches and the borderline ones near its threshold) and, below, Export and Undo.

Every computation (assignment, preview, saving, pins, thumbnails, export plans, exports,
undo) runs as a job on `state.jobs`; results come back through signals to `_Reply` objects
that live on the GUI thread. Stale results (a newer request of the same kind was made) are
dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QItemSelectionModel, QMimeData, QModelIndex, QObject, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QImage, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.engine_loader import EngineLoader
from app.state import AppState
from app.worker import Worker
from engine.categories import UNSORTED, Categories, CategoryDraft, CategoryInfo, Member, Preview
from engine.export import MODES, Exporter, Plan, plan_categories, plan_lines

PHOTO_IDS_MIME = "application/x-litphotos-photo-ids"  # JSON list of catalog ids (drag and drop)
THUMB = 72
CategoryRole = Qt.ItemDataRole.UserRole + 1
MemberRole = Qt.ItemDataRole.UserRole + 2


# -- work done off the GUI thread (plain functions run by state.jobs) ----------------------
@dataclass(frozen=True)
class Overview:
    """The list's content: categories, their counts, and the Unsorted bucket."""

    infos: list[CategoryInfo]
    counts: dict[str, int]  # best single category per photo
    multi_counts: dict[str, int]  # every category a photo passes (multi-label)
    key: tuple  # what the assignment was computed for (space, generation, text tower, revision)
    unsorted: list[Member]
    paths: dict[int, str]


def overview(categories: Categories, limit: int = 200) -> Overview:
    """Recompute (or reuse) assignments and gather what the list shows."""
    assignment = categories.assignment()
    unsorted = assignment.members(UNSORTED)[:limit]
    return Overview(
        categories.all(), assignment.counts(), assignment.counts(multi=True), assignment.key, unsorted,
        categories.paths(m.photo_id for m in unsorted),
    )


def preview_with_paths(categories: Categories, draft: CategoryDraft, editing: str | None) -> tuple[Preview, dict[int, str]]:
    preview = categories.preview(draft, editing)
    return preview, categories.paths(m.photo_id for m in [*preview.top, *preview.borderline])


def thumbnails(paths: dict[int, str], cancel=None) -> dict[int, tuple[int, int, bytes]]:  # noqa: ANN001
    """Small RGB thumbnails (width, height, bytes); unreadable files are left out."""
    from engine.images import UnreadableImage, open_oriented

    out = {}
    for photo_id, path in paths.items():
        if cancel is not None and cancel.is_set():
            break
        try:
            img, _ = open_oriented(path, min_side=THUMB)
        except (UnreadableImage, OSError):
            continue
        img.thumbnail((THUMB, THUMB))
        out[photo_id] = (img.width, img.height, img.tobytes())
    return out


@dataclass(frozen=True)
class DryRun:
    """An export plan and the lines that show it, both made off the GUI thread."""

    plan: Plan
    lines: list[str]


def export_plan(categories: Categories, dest: str, mode: str, multi: bool, names: list[str] | None) -> DryRun:
    plan = plan_categories(categories, dest, mode, multi and mode != "move", names)  # a photo moves once
    return DryRun(plan, plan_lines(plan))


# -- Qt plumbing ----------------------------------------------------------------------------
class _Reply(QObject):
    """Receives one job's result on the GUI thread (a QObject slot: a queued connection)."""

    def __init__(self, on_result: Callable[[Any], None], on_error: Callable[[str], None], on_finished: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._on_result, self._on_error, self._on_finished = on_result, on_error, on_finished

    @Slot(object)
    def result(self, value: object) -> None:
        self._on_result(value)

    @Slot(str)
    def error(self, message: str) -> None:
        self._on_error(message)

    @Slot()
    def finished(self) -> None:
        self._on_finished()
        self.deleteLater()


class CategoryListModel(QAbstractListModel):
    """Categories with counts, then Unsorted. Photos dropped on a category ask to pin them."""

    pin_requested = Signal(str, list)  # category name, photo ids or paths

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.names: list[str] = []
        self.counts: dict[str, int] = {}  # best single category per photo
        self.multi_counts: dict[str, int] = {}  # every category a photo passes
        self.multi = False  # which of the two the list shows

    def set_content(self, names: list[str], counts: dict[str, int], multi_counts: dict[str, int] | None = None) -> None:
        self.beginResetModel()
        self.names, self.counts = [*names, UNSORTED], counts
        self.multi_counts = multi_counts if multi_counts is not None else counts
        self.endResetModel()

    def set_multi(self, multi: bool) -> None:
        """Show multi-label counts (a photo counted in every category it passes) or best single."""
        self.multi = multi
        if self.names:
            self.dataChanged.emit(self.index(0), self.index(len(self.names) - 1))

    def shown_counts(self) -> dict[str, int]:
        return self.multi_counts if self.multi else self.counts

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.names)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        name = self.names[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{name}  ({self.shown_counts().get(name, 0)})"
        if role == CategoryRole:
            return name
        if role == Qt.ItemDataRole.ToolTipRole:
            best, passing = self.counts.get(name, 0), self.multi_counts.get(name, 0)
            if name == UNSORTED:
                return f"{best} photos have no best category; {passing} pass no category's threshold"
            return (
                f"{best} photos have it as their best category; {passing} pass its threshold.\n"
                "Drop photos here to pin them to this category"
            )
        return None

    def row_of(self, name: str) -> int:
        return self.names.index(name)

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and self.names[index.row()] != UNSORTED:
            flags |= Qt.ItemFlag.ItemIsDropEnabled
        return flags

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [PHOTO_IDS_MIME, "text/uri-list"]

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction

    def canDropMimeData(self, data: QMimeData, action, row: int, column: int, parent: QModelIndex) -> bool:  # noqa: ANN001, N802
        return parent.isValid() and self.names[parent.row()] != UNSORTED and bool(photos_in(data))

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent: QModelIndex) -> bool:  # noqa: ANN001, N802
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        self.pin_requested.emit(self.names[parent.row()], photos_in(data))
        return True


def photos_in(data: QMimeData) -> list[int | str]:
    """Photo ids (our own drags) or file paths (from a file manager) in a drop."""
    if data.hasFormat(PHOTO_IDS_MIME):
        try:
            return [int(i) for i in json.loads(bytes(data.data(PHOTO_IDS_MIME)).decode())]
        except (ValueError, TypeError):
            return []
    return [url.toLocalFile() for url in data.urls() if url.isLocalFile()]


class PhotoListModel(QAbstractListModel):
    """Photos with scores (and thumbnails once loaded); they can be dragged onto a category."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.members: list[Member] = []
        self.paths: dict[int, str] = {}
        self.threshold: float | None = None
        self.icons: dict[int, QPixmap] = {}

    def set_members(self, members: list[Member], paths: dict[int, str], threshold: float | None = None) -> None:
        self.beginResetModel()
        self.members, self.paths, self.threshold = [m for m in members if m.photo_id in paths], paths, threshold
        self.endResetModel()

    def set_icons(self, icons: dict[int, QPixmap]) -> None:
        self.icons.update(icons)
        if self.members:
            self.dataChanged.emit(self.index(0), self.index(len(self.members) - 1), [Qt.ItemDataRole.DecorationRole])

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.members)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        member = self.members[index.row()]
        path = self.paths.get(member.photo_id, "")
        if role == Qt.ItemDataRole.DisplayRole:
            mark = {1: "  pinned", -1: "  excluded"}.get(member.correction, "")
            side = ""
            if self.threshold is not None:
                side = "  in" if member.score >= self.threshold else "  out"
            return f"{member.score:.3f}{side}{mark}\n{os.path.basename(path)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return path
        if role == Qt.ItemDataRole.DecorationRole:
            return self.icons.get(member.photo_id)
        if role == MemberRole:
            return member
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return super().flags(index) | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [PHOTO_IDS_MIME, "text/uri-list"]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # noqa: N802
        members = [self.members[i.row()] for i in indexes if i.isValid()]
        data = QMimeData()
        data.setData(PHOTO_IDS_MIME, json.dumps([m.photo_id for m in members]).encode())
        data.setUrls([QUrl.fromLocalFile(self.paths[m.photo_id]) for m in members])
        return data


class LinesModel(QAbstractListModel):
    """Lines of text as rows: a long dry run is shown without joining it into one document."""

    def __init__(self, lines: list[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lines = lines

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.lines)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.lines[index.row()]
        return None


class ExportDialog(QDialog):
    """The dry run, shown before anything is touched; Export carries out exactly this plan."""

    def __init__(self, dry_run: DryRun, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = plan = dry_run.plan
        self.setWindowTitle("Export: dry run")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            f"{plan.mode.capitalize()} {len(plan.operations)} photos into {plan.dest}"
            f" ({len(plan.skipped)} skipped). Nothing has been written yet."
        ))
        # A table of fixed-height rows lays out only what is visible (100k lines: a few ms); a
        # list view would place every row first, a text document build every line.
        self.lines = QTableView()
        self.lines.setModel(LinesModel(dry_run.lines, self))
        self.lines.horizontalHeader().hide()
        self.lines.horizontalHeader().setStretchLastSection(True)
        self.lines.verticalHeader().hide()
        self.lines.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.lines.setShowGrid(False)
        self.lines.setWordWrap(False)
        self.lines.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        layout.addWidget(self.lines)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setEnabled(bool(plan.operations))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 420)


# -- the view -------------------------------------------------------------------------------
class CategoriesView(QWidget):
    """Constructed by the main window with the shared AppState and the engine loader."""

    title = "Categories"

    def __init__(self, state: AppState, loader: EngineLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.loader = loader
        self._categories: Categories | None = None
        self._serial: dict[str, int] = {}
        self._pending: dict[_Reply, Any] = {}  # replies and their jobs (app.worker.Worker) in flight
        self.overview: Overview | None = None
        self.preview: Preview | None = None
        self.export_dialog: ExportDialog | None = None
        self.progress_dialog: QProgressDialog | None = None  # of the export or undo under way
        self.undo_box: QMessageBox | None = None
        self.editing: str | None = None  # the saved category in the editor; None: a new one
        self._loading_editor = False
        self._syncing = False
        self.showing_unsorted = False  # the preview shows the Unsorted bucket, not the editor
        self._build()
        self._preview_timer = QTimer(self, singleShot=True, interval=250)
        self._preview_timer.timeout.connect(self.request_preview)
        self._refresh_timer = QTimer(self, singleShot=True, interval=100)
        self._refresh_timer.timeout.connect(self.refresh)
        state.text_tower_changed.connect(self._schedule_refresh)
        state.library_changed.connect(self._schedule_refresh)
        state.categories_changed.connect(self._schedule_refresh)
        # No refresh yet: scores need the model, and the engine loader is what loads it (with
        # download progress, and the window starts watching when it is ready). The list fills
        # when the loader is ready or when this view is first shown, whichever comes first.
        loader.ready.connect(self._schedule_refresh)
        loader.failed.connect(lambda message: self.preview_label.setText(f"The model could not be loaded: {message}"))
        self.new_category()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self.overview is None:
            self.refresh()

    # -- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.list_model = CategoryListModel(self)
        self.list_model.pin_requested.connect(self.pin)
        self.category_list = QListView()
        self.category_list.setModel(self.list_model)
        self.category_list.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.category_list.setAcceptDrops(True)
        self.category_list.setDropIndicatorShown(True)
        self.category_list.selectionModel().selectionChanged.connect(self._on_selection)
        new_button = QPushButton("New")
        new_button.clicked.connect(self.new_category)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_current)
        self.pin_button = QPushButton("Pin selected photos")
        self.pin_button.setToolTip("Pin the photos selected elsewhere in the app to this category")
        self.pin_button.clicked.connect(lambda: self.editing and self.state.selection and self.pin(self.editing, list(self.state.selection)))
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(QLabel("Categories (drop photos on one to pin them)"))
        lv.addWidget(self.category_list)
        row = QHBoxLayout()
        row.addWidget(new_button)
        row.addWidget(self.remove_button)
        lv.addLayout(row)
        lv.addWidget(self.pin_button)

        self.name_edit = QLineEdit(placeholderText="e.g. receipts")
        self.prompts_edit = QPlainTextEdit(placeholderText="one prompt per line (default: the name)")
        self.prompts_edit.setMaximumHeight(80)
        self.examples_list, examples_box = self._example_box("positive")
        self.negatives_list, negatives_box = self._example_box("negative")
        self.auto_check = QCheckBox("Automatic")
        self.auto_check.setChecked(True)
        self.threshold_spin = QDoubleSpinBox(minimum=-1.0, maximum=1.0, singleStep=0.005, decimals=3)
        self.threshold_spin.setEnabled(False)
        self.suggested_label = QLabel("")
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold_spin)
        threshold_row.addWidget(self.auto_check)
        threshold_row.addWidget(self.suggested_label)
        self.save_button = QPushButton("Add category")
        self.save_button.clicked.connect(self.save)
        editor = QWidget()
        form = QFormLayout(editor)
        form.addRow("Name", self.name_edit)
        form.addRow("Prompts", self.prompts_edit)
        form.addRow("Examples", examples_box)
        form.addRow("Not like", negatives_box)
        form.addRow("Threshold", threshold_row)
        form.addRow(self.save_button)
        for signal in (self.name_edit.textChanged, self.prompts_edit.textChanged, self.threshold_spin.valueChanged, self.auto_check.toggled):
            signal.connect(self._editor_changed)
        self.auto_check.toggled.connect(lambda on: self.threshold_spin.setEnabled(not on))

        self.preview_label = QLabel("")
        self.preview_label.setWordWrap(True)
        self.caught_model, self.caught_view = self._photo_list()
        self.border_model, self.border_view = self._photo_list()
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.preview_label)
        rv.addWidget(QLabel("Catches"))
        rv.addWidget(self.caught_view, 3)
        self.border_title = QLabel("Borderline (near the threshold)")
        rv.addWidget(self.border_title)
        rv.addWidget(self.border_view, 2)
        corrections = QHBoxLayout()
        self.pin_chosen_button = QPushButton("Pin chosen photos")
        self.pin_chosen_button.clicked.connect(lambda: self.correct_chosen("pin"))
        self.exclude_chosen_button = QPushButton("Not in this category")
        self.exclude_chosen_button.setToolTip("Exclude the chosen photos from this category, whatever their scores")
        self.exclude_chosen_button.clicked.connect(lambda: self.correct_chosen("exclude"))
        self.clear_chosen_button = QPushButton("Let scores decide")
        self.clear_chosen_button.clicked.connect(lambda: self.correct_chosen("clear"))
        for b in (self.pin_chosen_button, self.exclude_chosen_button, self.clear_chosen_button):
            corrections.addWidget(b)
        rv.addLayout(corrections)

        splitter = QSplitter()
        for part in (left, editor, right):
            splitter.addWidget(part)
        splitter.setStretchFactor(2, 2)

        self.mode_combo = QComboBox()
        self.mode_combo.addItems(MODES)
        self.multi_check = QCheckBox("Into every category it passes")
        self.multi_check.setToolTip("Counts and exports a photo in every category whose threshold it passes, not only its best")
        self.multi_check.toggled.connect(self.list_model.set_multi)  # the list counts what an export would take
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._choose_destination)
        self.undo_button = QPushButton("Undo last export")
        self.undo_button.clicked.connect(self.undo)
        self.status_label = QLabel("")
        bottom = QHBoxLayout()
        for w in (QLabel("Export by"), self.mode_combo, self.multi_check, self.export_button, self.undo_button, self.status_label):
            bottom.addWidget(w)
        bottom.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

    def _example_box(self, kind: str) -> tuple[QListWidget, QWidget]:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        items = QListWidget()
        items.setMaximumHeight(90)
        layout.addWidget(items)
        row = QHBoxLayout()
        add_selected = QPushButton("Add selected photos")
        add_selected.clicked.connect(lambda: self.add_examples(items, list(self.state.selection)))
        add_files = QPushButton("Add files…")
        add_files.clicked.connect(lambda: self.add_examples(items, QFileDialog.getOpenFileNames(self, f"{kind} examples")[0]))
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: self._remove_selected(items))
        for b in (add_selected, add_files, remove):
            row.addWidget(b)
        layout.addLayout(row)
        return items, box

    def _photo_list(self) -> tuple[PhotoListModel, QListView]:
        model = PhotoListModel(self)
        view = QListView()
        view.setModel(model)
        view.setDragEnabled(True)
        view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setViewMode(QListView.ViewMode.IconMode)
        view.setResizeMode(QListView.ResizeMode.Adjust)
        view.setMovement(QListView.Movement.Static)  # icon mode would otherwise move items on drag
        view.setWordWrap(True)
        view.setIconSize(QPixmap(THUMB, THUMB).size())
        view.setGridSize(QPixmap(THUMB + 56, THUMB + 44).size())
        return model, view

    # -- jobs --------------------------------------------------------------------------------
    @property
    def categories(self) -> Categories | None:
        if self._categories is None and self.state.library is not None:
            self._categories = Categories(self.state.library)
        return self._categories

    def _start(self, kind: str, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None]) -> Worker:
        """Run `fn` as a job; its result reaches `on_result` unless a newer `kind` job was started."""
        token = self._serial.get(kind, 0) + 1
        self._serial[kind] = token

        def deliver(value: Any) -> None:
            if self._serial.get(kind) == token:
                on_result(value)

        reply = _Reply(deliver, self._say, lambda: self._pending.pop(reply, None), self)
        job = self.state.jobs.start(fn, *args, name=f"categories-{kind}")
        # Python references to both until the job's last signal reached this thread: without
        # them the garbage collector may take the reply (or the job's signals) while the
        # queued result is on its way, and the result is silently lost.
        self._pending[reply] = job
        job.signals.result.connect(reply.result)
        job.signals.error.connect(reply.error)
        job.signals.finished.connect(reply.finished)
        return job

    def _say(self, message: str) -> None:
        self.status_label.setText(message)
        self.state.status_message.emit(message)

    def _can_score(self) -> bool:
        """Whether scores can be computed now; if not and this view is shown, load the model."""
        if self.loader.loaded:
            return True
        self.preview_label.setText("Loading the model…")
        if self.isVisible():
            self.loader.start()  # its `ready` refreshes this view
        return False

    # -- the list ----------------------------------------------------------------------------
    def _schedule_refresh(self, *_: object) -> None:
        self._refresh_timer.start()

    def refresh(self) -> None:
        """Recompute assignments (a job) and then the preview of what is in the editor."""
        if self.categories is None:
            self.preview_label.setText("Opening the library…")
            return
        if not self._can_score():
            return
        self._start("overview", overview, self.categories, on_result=self._show_overview)
        self._preview_timer.start()

    def _show_overview(self, result: Overview) -> None:
        self.overview = result
        self._syncing = True  # a model reset clears the selection: put it back, quietly
        try:
            self.list_model.set_content([i.name for i in result.infos], result.counts, result.multi_counts)
            wanted = UNSORTED if self.showing_unsorted else self.editing
            if wanted is not None and wanted in self.list_model.names:
                self._select_row(wanted)
        finally:
            self._syncing = False
        if self.showing_unsorted:
            self._show_unsorted()

    def _select_row(self, name: str) -> None:
        index = self.list_model.index(self.list_model.row_of(name))
        self.category_list.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _on_selection(self, *_: object) -> None:
        # Selection, not the current index: Qt makes a row current on focus by itself.
        if self._syncing:
            return
        rows = self.category_list.selectionModel().selectedRows()
        if not rows:
            return
        name = rows[0].data(CategoryRole)
        if name == UNSORTED:
            self.showing_unsorted = True
            self._show_unsorted()
            return
        self.showing_unsorted = False
        info = next((i for i in self.overview.infos if i.name == name), None) if self.overview else None
        if info is not None and name != self.editing:
            self.load_editor(info)
        else:
            self._preview_timer.start()

    def _show_unsorted(self) -> None:
        if self.overview is None:
            return
        self.preview_label.setText(f"Unsorted: {self.overview.counts.get(UNSORTED, 0)} photos no category takes (drag them onto one).")
        self.caught_model.set_members(self.overview.unsorted, self.overview.paths)
        self.border_model.set_members([], {})
        self._load_thumbnails(self.overview.paths)

    def select_category(self, name: str) -> None:
        """Show a category (or Unsorted) as if clicked in the list."""
        self._select_row(name)

    # -- the editor --------------------------------------------------------------------------
    def new_category(self) -> None:
        self.editing = None
        self.showing_unsorted = False
        self.category_list.clearSelection()
        self.load_editor(None)

    def load_editor(self, info: CategoryInfo | None) -> None:
        self._loading_editor = True
        try:
            self.editing = info.name if info else None
            self.name_edit.setText(info.name if info else "")
            self.prompts_edit.setPlainText("\n".join(info.prompts) if info else "")
            for items, refs in ((self.examples_list, info.examples if info else ()), (self.negatives_list, info.negatives if info else ())):
                items.clear()
                self.add_examples(items, list(refs))
            self.auto_check.setChecked(info is None or info.threshold is None)
            if info is not None and info.threshold is not None:
                self.threshold_spin.setValue(info.threshold)
            self.save_button.setText("Save changes" if info else "Add category")
            self.remove_button.setEnabled(info is not None)
        finally:
            self._loading_editor = False
        self._editor_changed()

    def add_examples(self, items: QListWidget, refs: list) -> None:
        known = {items.item(i).data(Qt.ItemDataRole.UserRole) for i in range(items.count())}
        for ref in refs:
            if ref in known:
                continue
            items.addItem(str(ref) if not isinstance(ref, int) else f"photo {ref}")
            items.item(items.count() - 1).setData(Qt.ItemDataRole.UserRole, ref)
        self._editor_changed()

    def _remove_selected(self, items: QListWidget) -> None:
        for item in items.selectedItems():
            items.takeItem(items.row(item))
        self._editor_changed()

    def draft(self) -> CategoryDraft:
        """What the editor holds."""
        refs = lambda items: tuple(items.item(i).data(Qt.ItemDataRole.UserRole) for i in range(items.count()))  # noqa: E731
        return CategoryDraft(
            self.name_edit.text(),
            tuple(line for line in self.prompts_edit.toPlainText().splitlines() if line.strip()),
            refs(self.examples_list),
            refs(self.negatives_list),
            None if self.auto_check.isChecked() else round(self.threshold_spin.value(), 3),
        )

    def _editor_changed(self, *_: object) -> None:
        if not self._loading_editor:
            self.showing_unsorted = False  # typing in the editor is about the editor's category
            self._preview_timer.start()

    def request_preview(self) -> None:
        """Ask (in a job) what the editor's category would catch."""
        if self.categories is None or self.showing_unsorted:
            return
        draft = self.draft()
        if not draft.name.strip() and not draft.prompts and not draft.examples:
            self.preview_label.setText("Name a category, or give it prompts or example photos.")
            self.caught_model.set_members([], {})
            self.border_model.set_members([], {})
            return
        if not self._can_score():
            return
        self._start("preview", preview_with_paths, self.categories, draft, self.editing, on_result=self._show_preview)

    def _show_preview(self, result: tuple[Preview, dict[int, str]]) -> None:
        preview, paths = result
        self.preview = preview
        self.preview_label.setText(
            f"Catches {preview.caught} of {preview.total} photos at threshold {preview.threshold:.3f}"
            f" (suggested {preview.suggested:.3f})."
        )
        self.suggested_label.setText(f"suggested {preview.suggested:.3f}")
        if self.auto_check.isChecked():
            self._loading_editor = True
            self.threshold_spin.setValue(preview.threshold)
            self._loading_editor = False
        self.caught_model.set_members(preview.top, paths, preview.threshold)
        self.border_model.set_members(preview.borderline, paths, preview.threshold)
        self._load_thumbnails(paths)

    def _load_thumbnails(self, paths: dict[int, str]) -> None:
        missing = {i: p for i, p in paths.items() if i not in self.caught_model.icons}
        if missing:
            self._start("thumbnails", thumbnails, missing, on_result=self._show_thumbnails)

    def _show_thumbnails(self, result: dict[int, tuple[int, int, bytes]]) -> None:
        icons = {}
        for photo_id, (w, h, data) in result.items():
            image = QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888)
            icons[photo_id] = QPixmap.fromImage(image.copy())  # copy: `data` is not ours to keep
        self.caught_model.set_icons(icons)
        self.border_model.set_icons(icons)

    def save(self) -> None:
        """Add the editor's category, or save changes to the one being edited (in a job)."""
        if self.categories is None:
            return
        draft, editing = self.draft(), self.editing
        fn = self.categories.add if editing is None else self.categories.update
        args = (draft,) if editing is None else (editing, draft)
        self._start("save", fn, *args, on_result=self._saved)

    def _saved(self, info: CategoryInfo) -> None:
        self.load_editor(info)  # as stored: examples by path, prompts cleaned
        self._say(f"Saved {info.name!r}")
        self.state.categories_changed.emit()

    def remove_current(self) -> None:
        if self.categories is None or self.editing is None:
            return
        name = self.editing
        self._start("save", self.categories.remove, name, on_result=lambda _: self._removed(name))

    def _removed(self, name: str) -> None:
        self._say(f"Removed {name!r}; no photo was touched")
        self.new_category()
        self.state.categories_changed.emit()

    def pin(self, name: str, photos: list) -> None:
        """Pin photos (ids or paths) to a category; a job, then everything is recomputed."""
        self.correct(name, photos, "pin")

    def correct(self, name: str, photos: list, action: str) -> None:
        """Pin, exclude or clear (`action`) photos for a category, in a job."""
        if self.categories is None or not photos:
            return
        fn = {"pin": self.categories.pin, "exclude": self.categories.exclude, "clear": self.categories.clear}[action]
        self._start("correct", fn, name, photos, on_result=lambda n: self._corrected(name, n, action))

    def chosen_photos(self) -> list[int]:
        """Photos chosen in the preview's two lists."""
        chosen = []
        for view in (self.caught_view, self.border_view):
            chosen += [i.data(MemberRole).photo_id for i in view.selectionModel().selectedIndexes()]
        return list(dict.fromkeys(chosen))

    def correct_chosen(self, action: str) -> None:
        if self.editing is None:
            self._say("Save the category first: corrections belong to a saved category")
            return
        self.correct(self.editing, self.chosen_photos(), action)

    def _corrected(self, name: str, count: int, action: str) -> None:
        verb = {"pin": "Pinned", "exclude": "Excluded", "clear": "Cleared corrections of"}[action]
        self._say(f"{verb} {count} photos ({name!r})")
        self.state.categories_changed.emit()

    # -- export and undo ---------------------------------------------------------------------
    def _choose_destination(self) -> None:
        dest = QFileDialog.getExistingDirectory(self, "Export into folder")
        if dest:
            self.start_export(dest, self.mode_combo.currentText(), self.multi_check.isChecked())

    def start_export(self, dest: str, mode: str, multi: bool = False, names: list[str] | None = None) -> None:
        """Plan the export (a job) and show the dry run; nothing is written until it is accepted."""
        if self.categories is None:
            return
        self._say("Planning the export…")
        self._start("export", export_plan, self.categories, dest, mode, multi, names, on_result=self._show_plan)

    def _show_plan(self, dry_run: DryRun) -> None:
        plan = dry_run.plan
        self._say(f"Dry run: {len(plan.operations)} photos would be {plan.mode}-exported")
        self.export_dialog = ExportDialog(dry_run, self)
        self.export_dialog.accepted.connect(lambda: self._run_export(plan))
        self.export_dialog.open()

    def _run_export(self, plan: Plan) -> None:
        exporter = Exporter(self.state.library)
        self._say(f"Exporting {len(plan.operations)} photos…")
        job = self._start("export", exporter.run, plan, on_result=self._exported)
        self._follow(job, "Export", f"{plan.mode.capitalize()} {len(plan.operations)} photos into {plan.dest}…")

    def _follow(self, job: Worker, title: str, text: str) -> None:
        """Progress and Cancel for an export or an undo; Export and Undo wait until it is over."""
        dialog = QProgressDialog(text, "Cancel", 0, 0, self)
        dialog.setWindowTitle(title)
        dialog.setMinimumDuration(400)  # a small export is over before a dialog would flash up
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(job.cancel)

        def show(event: Any) -> None:
            if event.report is None and event.total:
                dialog.setMaximum(event.total)
                dialog.setValue(event.done)

        def over() -> None:
            dialog.close()
            for button in (self.export_button, self.undo_button):
                button.setEnabled(True)

        job.signals.progress.connect(show)
        job.signals.finished.connect(over)
        for button in (self.export_button, self.undo_button):
            button.setEnabled(False)
        self.progress_dialog = dialog

    def _exported(self, event: Any) -> None:
        report = event.report
        done = f"Exported {len(report.done)} photos to {report.plan.dest}"
        if report.cancelled:
            done = f"Export cancelled after {len(report.done)} of {len(report.plan.operations)} photos"
        self._say(f"{done}{f', {len(report.failed)} failed' if report.failed else ''}. Undo reverses it.")
        if report.plan.mode == "move":
            self.state.library_changed.emit()  # photos changed paths: other views reload too

    def undo(self) -> None:
        """Ask, then reverse the last export (a job with progress and Cancel)."""
        if self.state.library is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question, "Undo the last export",
            "Undo the last export?\n\nPhotos it moved go back where they were; the copies and links it made "
            "are deleted, and the folders it created once they are empty. Files it did not make are never touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self,
        )
        confirm = box.button(QMessageBox.StandardButton.Yes)
        confirm.setText("Undo")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self._run_undo() if button is confirm else None)
        self.undo_box = box
        box.open()

    def _run_undo(self) -> None:
        self._say("Undoing the last export…")
        job = self._start("undo", Exporter(self.state.library).undo, on_result=self._undone)
        self._follow(job, "Undo", "Undoing the last export…")

    def _undone(self, event: Any) -> None:
        report = event.report
        kept = f"; left alone: {len(report.kept)}" if report.kept else ""
        what = "Undo cancelled, part done" if report.cancelled else "Undone"
        self._say(f"{what}: {len(report.restored)} moved back, {len(report.removed)} copies or links removed{kept}")
        self.state.library_changed.emit()
