"""The main window: first run, adding a folder, searching, previewing, similar photos."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDragMoveEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication

from app.categories_view import CategoriesView

from tests.app.conftest import WAIT_MS, add_and_index, search, shown_paths
from tests.conftest import OUTPUT
from tests.factories import make_photo


def test_window_opens_fast_without_loading_the_model(qtbot, make_window):
    started = time.monotonic()
    window = make_window()
    opened = time.monotonic() - started
    print(f"window shown in {opened * 1000:.0f} ms")
    assert opened < 2.0
    assert not window.state.library.encoder.loaded
    page = window.search_page
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.empty and page.empty.button.isVisible(), timeout=WAIT_MS)
    assert "Find your photos" in page.empty.title.text()
    OUTPUT.mkdir(exist_ok=True)
    window.grab().save(str(OUTPUT / "app-first-run.png"))
    assert not window.state.library.encoder.loaded  # the first-run screen needs no model
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Photos", "Categories", "Teach"]


def test_add_folder_indexes_and_the_grid_fills_as_you_type(qtbot, window, photos: Path):
    changed = []
    window.state.library_changed.connect(lambda: changed.append(True))
    report = add_and_index(qtbot, window, photos)
    assert report.added == 12 and not report.cancelled
    assert changed, "views were not told that the library changed"
    qtbot.waitUntil(lambda: [f.photos for f in window.folders_model.folders()] == [12], timeout=WAIT_MS)
    info = window.folders_model.folders()[0]
    assert (info.path, info.photos, info.online) == (str(photos), 12, True)
    qtbot.waitUntil(lambda: "12 photos" in window.status.photos.text(), timeout=WAIT_MS)
    assert window.status.model.text() == "Model: tiny-test"

    page = window.search_page
    # Typed without Enter: the debounced search fills the grid on its own.
    with qtbot.waitSignal(page.results_shown, timeout=30_000):
        qtbot.keyClicks(page.search_bar.field, "stripes")
    qtbot.waitUntil(lambda: not page.searching, timeout=WAIT_MS)
    assert page.stack.currentWidget() is page.grid
    assert len(shown_paths(window)) == 12
    scores = [r.score for r in page.results_model.results()]
    assert scores == sorted(scores, reverse=True)
    assert "best first" in page.summary.text()


def open_first_result(qtbot, window):
    page = window.search_page
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.results_model.index(0))
    qtbot.keyClick(page.grid, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.preview is not None and page.preview.isVisible(), timeout=WAIT_MS)
    return page.preview


def test_preview_shows_the_photo_its_metadata_and_score(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    search(qtbot, window, "blue checks")
    first = window.search_page.results_model.results()[0]
    preview = open_first_result(qtbot, window)
    assert preview.result == first
    qtbot.waitUntil(lambda: preview.image_loaded, timeout=10_000)
    assert preview.picture.pixmap() is not None and not preview.picture.pixmap().isNull()
    assert preview.fields["Name"].text() == Path(first.path).name
    assert preview.fields["Score"].text() == f"{first.score:.3f}"
    assert preview.fields["Size"].text() == "160 × 120 px"
    assert preview.fields["Format"].text() == "JPEG"
    OUTPUT.mkdir(exist_ok=True)
    preview.grab().save(str(OUTPUT / "app-preview.png"))
    preview.copy_button.click()
    assert QGuiApplication.clipboard().text() == first.path
    qtbot.keyClick(preview, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not preview.isVisible(), timeout=WAIT_MS)


class Desktop(QObject):
    """The desktop's handler of file URLs, taken over through Qt's own hook for it."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toLocalFile())


def test_open_and_show_in_folder_hand_the_photo_to_the_desktop(qtbot, window, photos: Path, tmp_path: Path, monkeypatch):
    desktop = Desktop()
    QDesktopServices.setUrlHandler("file", desktop, "open")
    try:
        monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # no dbus-send: the folder itself is opened
        add_and_index(qtbot, window, photos)
        search(qtbot, window, "blue checks")
        first = window.search_page.results_model.results()[0]
        preview = open_first_result(qtbot, window)
        preview.open_button.click()
        assert desktop.opened == [first.path]  # the photo, with the system's viewer
        preview.show_button.click()
        assert desktop.opened[1:] == [str(Path(first.path).parent)]  # its folder, in the file manager
    finally:
        QDesktopServices.unsetUrlHandler("file")


def test_more_like_this_from_the_preview_shows_similar_photos(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    search(qtbot, window, "green")
    page = window.search_page
    page.grid.setCurrentIndex(page.results_model.index(0))
    target = page.results_model.results()[0]
    preview = open_first_result(qtbot, window)
    with qtbot.waitSignal(page.results_shown, timeout=30_000):
        preview.similar_button.click()
    qtbot.waitUntil(lambda: not page.searching, timeout=WAIT_MS)
    results = page.results_model.results()
    assert results[0].id == target.id and results[0].score > 0.99  # the photo itself comes first
    concept = Path(target.path).parent.name
    assert {Path(r.path).parent.name for r in results[:3]} == {concept}  # then its look-alikes
    assert page.similar_banner.isVisible() and Path(target.path).name in page.similar_label.text()
    # Typing a new query leaves the similar-photo mode.
    search(qtbot, window, "stripes")
    assert not page.similar_banner.isVisible()


def test_a_newer_query_wins_over_a_slower_older_one(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    page = window.search_page
    shown = []
    page.results_shown.connect(shown.append)
    page.search_bar.field.setText("stripes")
    page.refresh()  # the older query, over all folders ...
    red = photos / "red_stripes"
    page.search_bar.set_folders([str(photos), str(red)])
    page.search_bar.folder.setCurrentIndex(page.search_bar.folder.findData(str(red)))  # ... then a newer one
    qtbot.waitUntil(lambda: not page.searching, timeout=30_000)
    qtbot.wait(300)  # time for a stale answer to arrive, if it were going to be shown
    assert shown == [3]
    assert {Path(p).parent for p in shown_paths(window)} == {red}


def test_keyboard_focus_search_arrows_and_quit(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    search(qtbot, window, "rings")
    page = window.search_page
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.results_model.index(0))
    qtbot.keyClick(page.grid, Qt.Key.Key_Right)
    assert page.grid.currentIndex().row() == 1
    qtbot.keyClick(page.grid, Qt.Key.Key_Slash)
    assert page.search_bar.field.hasFocus()
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.search_bar.field.hasFocus()
    assert window.quit_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)
    window.quit_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)


def test_find_shortcuts_from_another_tab_open_the_photos_tab_and_focus_the_search_field(qtbot, window):
    page = window.search_page
    categories = window.views[1]
    for keys in ((Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier), (Qt.Key.Key_Slash, Qt.KeyboardModifier.NoModifier)):
        window.tabs.setCurrentWidget(categories)
        categories.category_list.setFocus()
        qtbot.waitUntil(categories.category_list.hasFocus, timeout=WAIT_MS)
        qtbot.keyClick(categories.category_list, *keys)
        assert window.tabs.currentWidget() is page
        qtbot.waitUntil(page.search_bar.field.hasFocus, timeout=WAIT_MS)
    # A '/' typed into a text field elsewhere is just a character.
    window.tabs.setCurrentWidget(categories)
    categories.name_edit.setFocus()
    qtbot.keyClicks(categories.name_edit, "a/b")
    assert categories.name_edit.text() == "a/b" and window.tabs.currentWidget() is categories


def test_selection_is_published_and_results_drag_out_as_file_urls(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    search(qtbot, window, "checks")
    page = window.search_page
    published = []
    window.state.selection_changed.connect(published.append)
    model = page.results_model
    selection = page.grid.selectionModel()
    selection.select(model.index(0), selection.SelectionFlag.Select)
    selection.select(model.index(2), selection.SelectionFlag.Select)
    expected = [model.results()[0].id, model.results()[2].id]
    assert published[-1] == expected and window.state.selection == expected
    mime = model.mimeData([model.index(0), model.index(2)])
    assert [u.toLocalFile() for u in mime.urls()] == [model.results()[0].path, model.results()[2].path]
    assert model.flags(model.index(0)) & Qt.ItemFlag.ItemIsDragEnabled
    # Dragged over the Categories tab, the photos open it (to be dropped on a category there).
    bar = window.tabs.tabBar()
    (categories,) = [v for v in window.views if isinstance(v, CategoriesView)]
    over = bar.tabRect(window.tabs.indexOf(categories)).center()
    for event in (QDragEnterEvent(over, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
                  QDragMoveEvent(over, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)):
        QApplication.sendEvent(bar, event)
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is categories, timeout=WAIT_MS)


def test_other_views_can_queue_indexing_and_announce_a_text_tower(qtbot, window, photos: Path):
    add_and_index(qtbot, window, photos)
    make_photo(photos / "later.jpg", "green_noise", seed=5, size=(96, 72))
    with qtbot.waitSignal(window.indexing.finished, timeout=60_000) as done:
        window.state.index_requested.emit([str(photos)])
    assert done.args[0].added == 1
    window.state.text_tower_changed.emit("v3-my-captions")
    assert window.status.tower.text() == "Text tower: v3-my-captions"


def test_preview_of_a_heic_photo_that_qt_cannot_decode_itself(qtbot, window, tmp_path: Path):
    make_photo(tmp_path / "phone" / "IMG_0001.heic", "yellow_rings", size=(320, 240), fmt="HEIF")
    add_and_index(qtbot, window, tmp_path / "phone")
    qtbot.waitUntil(lambda: len(window.search_page.results_model.results()) == 1, timeout=WAIT_MS)
    preview = open_first_result(qtbot, window)
    qtbot.waitUntil(lambda: preview.image_loaded, timeout=10_000)
    assert preview.fields["Format"].text() == "HEIF"
    assert preview._pixmap.width() == 320
    preview.close()


def test_about_says_what_the_app_is_which_model_it_uses_and_where_the_library_is(qtbot, window):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    seen: list[str] = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, read_and_close)
            return
        seen.append(box.text())
        box.accept()

    QTimer.singleShot(50, read_and_close)
    window.about_action.trigger()  # modal: returns once the box is closed
    (text,) = seen
    assert "LiT Photos 0.1.0" in text and "Locked-image text Tuning" in text
    assert "Image model: tiny-test" in text and str(window.state.library.paths.home) in text
