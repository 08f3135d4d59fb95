"""The folders panel: the registered folders, and buttons to add, re-scan and remove one."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListView, QStyle, QToolButton, QVBoxLayout, QWidget

from app.folders_model import FolderRole, FoldersModel
from engine.library import FolderInfo


class FoldersPanel(QWidget):
    """Asks (by signals) for folders to be added, removed or re-scanned; the window does it."""

    add_requested = Signal()
    remove_requested = Signal(str)
    rescan_requested = Signal(str)  # a folder path, or "" for every folder

    def __init__(self, model: FoldersModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        title = QLabel("Folders")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        self.list = QListView()
        self.list.setModel(model)
        self.list.setIconSize(QSize(24, 24))
        self.list.setSpacing(2)
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(False)
        self.list.setFrameShape(QListView.Shape.NoFrame)
        self.list.setAccessibleName("Folders")
        style = self.style()
        self.add_button = self._button("Add folder…", style.standardIcon(QStyle.StandardPixmap.SP_FileDialogNewFolder))
        self.rescan_button = self._button("Re-scan", style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.remove_button = self._button("Remove", style.standardIcon(QStyle.StandardPixmap.SP_DialogDiscardButton))
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.clicked.connect(self.add_requested)
        self.rescan_button.clicked.connect(lambda: self.rescan_requested.emit(self._current_path() or ""))
        self.remove_button.clicked.connect(self._remove)
        self.rescan_button.setToolTip("Look for new, changed and deleted photos in the selected folder (or all)")
        self.remove_button.setToolTip("Forget the selected folder (its files are not touched)")
        self.list.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        model.modelReset.connect(self._update_buttons)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(2)
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        buttons.addWidget(self.rescan_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        hint = QLabel("Drop folders on the window to add them.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        self._update_buttons()

    @staticmethod
    def _button(text: str, icon) -> QToolButton:  # noqa: ANN001 - QIcon
        button = QToolButton()
        button.setIcon(icon)
        button.setText(text)
        button.setToolTip(text)
        button.setAutoRaise(True)
        return button

    def current(self) -> FolderInfo | None:
        index = self.list.currentIndex()
        return index.data(FolderRole.INFO) if index.isValid() and self.list.selectionModel().isSelected(index) else None

    def _current_path(self) -> str | None:
        info = self.current()
        return info.path if info else None

    def _remove(self) -> None:
        path = self._current_path()
        if path:
            self.remove_requested.emit(path)

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.current() is not None)
        self.rescan_button.setEnabled(self.model.rowCount() > 0)
