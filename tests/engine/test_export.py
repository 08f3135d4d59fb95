"""Exporting categories to folders: every mode, dry runs, clashes, unsafe names, crashes and undo."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.catalog import Folder, Photo, Vector
from engine.categories import Categories, CategoryDraft
from engine.export import MODES, Exporter, ExportError, Plan, plan_export, safe_name
from tests.conftest import REPO, run_all
from tests.factories import make_library, make_photo


def tree(root: Path) -> dict[str, str]:
    """Every file below `root` (links included, as what they point at) -> sha256 of its bytes."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            out[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


def catalog_rows(library) -> dict[int, tuple[str, bytes]]:
    with library.catalog.reading() as s:
        rows = s.execute(select(Photo.id, Photo.path, Vector.vector).join(Vector, Vector.photo_id == Photo.id)).all()
    return {r.id: (r.path, r.vector) for r in rows}


@pytest.fixture
def sorted_library(library, tmp_path: Path):
    photos = make_library(tmp_path / "pics", per_concept=2, size=(64, 48))
    run_all(library.index_folders([tmp_path / "pics"]))
    cats = Categories(library)
    cats.add(CategoryDraft("reds", examples=tuple(map(str, photos["red_stripes"])), threshold=-1.0))
    cats.add(CategoryDraft("blues", examples=tuple(map(str, photos["blue_checks"])), threshold=-1.0))
    return library, cats, photos


def groups_of(cats: Categories, multi: bool = False) -> dict[str, list[tuple[int, str]]]:
    return {name: [(i, p) for i, p, _ in members] for name, members in cats.groups(multi, ["reds", "blues"]).items()}


def run_export(library, plan: Plan):
    return run_all(Exporter(library).run(plan))


def run_undo(library):
    return run_all(Exporter(library).undo())


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_does_exactly_what_the_dry_run_listed_and_undo_reverses_it(sorted_library, tmp_path: Path, mode: str):
    library, cats, _ = sorted_library
    pics, dest = tmp_path / "pics", tmp_path / "sorted"
    before_files, before_rows = tree(pics), catalog_rows(library)
    multi = mode != "move"
    plan = plan_export(groups_of(cats, multi), dest, mode)
    assert not dest.exists()  # planning writes nothing
    assert len(plan.operations) == (16 if multi else 8) and not plan.skipped

    report = run_export(library, plan)
    assert report.done == list(plan.operations) and not report.failed
    for op in plan.operations:
        target = Path(op.target)
        assert target.parent.parent == dest and target.parent.name == op.category
        if mode == "copy":
            assert target.read_bytes() == Path(op.source).read_bytes() and not os.path.samefile(op.source, target)
        elif mode == "hardlink":
            assert os.path.samefile(op.source, target)
        elif mode == "symlink":
            assert os.readlink(target) == op.source
        else:
            assert not os.path.exists(op.source)
            assert hashlib.sha256(target.read_bytes()).hexdigest() == before_files[op.source]

    if mode == "move":
        # Same ids, same vectors, new paths; DEST became a library folder; a re-scan finds nothing new.
        after_rows = catalog_rows(library)
        assert {i: v for i, (_, v) in after_rows.items()} == {i: v for i, (_, v) in before_rows.items()}
        assert {i: p for i, (p, _) in after_rows.items()} == {o.photo_id: o.target for o in plan.operations}
        assert str(dest) in {f.path for f in library.folders()}
        rescan = run_all(library.index_folders())
        assert (rescan.added, rescan.moved, rescan.removed, rescan.updated) == (0, 0, 0, 0)

    undo = run_undo(library)
    assert not undo.kept
    assert tree(pics) == before_files
    assert not dest.exists() or not any(dest.iterdir())
    assert catalog_rows(library) == before_rows
    assert str(dest) not in {f.path for f in library.folders()}
    with pytest.raises(ExportError, match="no export to undo"):
        run_undo(library)


def test_a_move_to_another_drive_copies_durably_then_deletes_and_undo_brings_it_back(sorted_library, tmp_path: Path, monkeypatch):
    # Another drive is what the file system says when a hard link across it is asked for
    # (EXDEV); this machine's temp folders are on one drive, so the refusal is made here.
    import errno

    import engine.export

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(engine.export.os, "link", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EXDEV, "Invalid cross-device link")))
    monkeypatch.setattr(engine.export.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd))[1])
    library, cats, _ = sorted_library
    pics, dest = tmp_path / "pics", tmp_path / "sorted"
    before = tree(pics)
    plan = plan_export(groups_of(cats), dest, "move")
    report = run_export(library, plan)
    assert report.done == list(plan.operations) and not report.failed
    for op in plan.operations:
        assert not os.path.exists(op.source)
        assert hashlib.sha256(Path(op.target).read_bytes()).hexdigest() == before[op.source]
        assert op.target in synced  # the copy reached the disk before its original was deleted
    run_undo(library)
    assert tree(pics) == before


def test_name_clashes_get_unique_names_and_nothing_is_overwritten(library, tmp_path: Path):
    a = make_photo(tmp_path / "pics" / "one" / "IMG_0001.jpg", "red_stripes", seed=1, size=(64, 48))
    b = make_photo(tmp_path / "pics" / "two" / "IMG_0001.jpg", "red_stripes", seed=2, size=(64, 48))
    c = make_photo(tmp_path / "pics" / "three" / "img_0001.JPG", "red_stripes", seed=3, size=(64, 48))
    run_all(library.index_folders([tmp_path / "pics"]))
    cats = Categories(library)
    cats.add(CategoryDraft("reds", threshold=-1.0))
    existing = make_photo(tmp_path / "out" / "reds" / "IMG_0001.jpg", "blue_checks", seed=9, size=(64, 48))
    existing_bytes = existing.read_bytes()

    plan = plan_export(groups_of_one(cats, "reds"), tmp_path / "out", "copy")
    names = sorted(Path(o.target).name.casefold() for o in plan.operations)
    assert names == ["img_0001 (2).jpg", "img_0001 (3).jpg", "img_0001 (4).jpg"]  # unique even case-blind
    report = run_export(library, plan)
    assert existing.read_bytes() == existing_bytes
    copied = {Path(o.target).read_bytes() for o in report.done}
    assert copied == {a.read_bytes(), b.read_bytes(), c.read_bytes()}

    # A file that appears between the dry run and the real run is not overwritten either.
    plan = plan_export(groups_of_one(cats, "reds"), tmp_path / "out2", "copy")
    squatter = Path(plan.operations[0].target)
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"mine")
    report = run_export(library, plan)
    assert squatter.read_bytes() == b"mine" and len(report.done) == 3
    assert report.done[0].target != str(squatter)


def groups_of_one(cats: Categories, name: str) -> dict[str, list[tuple[int, str]]]:
    return {name: [(i, p) for i, p, _ in cats.groups(True, [name])[name]]}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("beach/holidays", "beach_holidays"),
        ("..", "category"),
        ("../../etc", "_.._etc"),
        ("", "category"),
        (".hidden", "hidden"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("com1", "_com1"),
        ("a:b*c?", "a_b_c_"),
        ("trailing. ", "trailing"),
        ("tab\there", "tab_here"),
    ],
)
def test_unsafe_category_names_become_safe_folder_names(name: str, expected: str):
    assert safe_name(name) == expected


def test_no_export_writes_outside_its_destination(sorted_library, tmp_path: Path):
    library, cats, _ = sorted_library
    dest = tmp_path / "out"
    dest.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (dest / "reds").symlink_to(outside)  # a link that would lead out of DEST
    members = groups_of(cats)["reds"]
    hostile = {"../escape": members, "/abs/olute": members, "reds": members, "x" * 300: members, "Reds": members}
    plan = plan_export(hostile, dest, "copy")
    report = run_export(library, plan)
    assert len(report.done) == 5 * len(members)
    real_dest = os.path.realpath(dest)
    for op in report.done:
        assert os.path.realpath(op.target).startswith(real_dest + os.sep)
        assert len(os.path.basename(os.path.dirname(op.target)).encode()) <= 100
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "escape").exists()
    folders = sorted(p.name for p in dest.iterdir())
    assert "reds" in folders and "reds (2)" in folders and "Reds (3)" in folders  # one folder per category


def test_bad_destinations_and_modes_are_refused(sorted_library, tmp_path: Path):
    library, cats, _ = sorted_library
    with pytest.raises(ExportError, match="does not exist"):
        plan_export(groups_of(cats), tmp_path / "no" / "such" / "dest", "copy")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="not a folder"):
        plan_export(groups_of(cats), tmp_path / "file", "copy")
    with pytest.raises(ExportError, match="unknown export mode"):
        plan_export(groups_of(cats), tmp_path / "d", "teleport")


_CRASHING_EXPORT = """
import json, os, signal, sys
from pathlib import Path
from engine.catalog import Catalog
from engine.encoder import Encoder
from engine.export import Exporter, Operation, Plan
from engine.library import Library
from engine.paths import Paths
from engine.specs import load_model_list

home, plan_file, crash_at = sys.argv[1], sys.argv[2], sys.argv[3]
data = json.loads(Path(plan_file).read_text())
plan = Plan(data["dest"], data["mode"], data["create_dest"], tuple(data["folders"]),
            tuple(Operation(**o) for o in data["operations"]), ())
paths = Paths(Path(home))
library = Library(paths, Catalog(paths.catalog), Encoder(load_model_list().get("tiny-test"), paths.models, allow_download=False))
unlinks = []
if crash_at == "between-link-and-unlink":
    real_unlink = os.unlink
    def unlink(path, *args, **kwargs):
        unlinks.append(path)
        if len(unlinks) == 3:  # the third move: linked into DEST, not yet removed from its folder
            os.kill(os.getpid(), signal.SIGKILL)
        return real_unlink(path, *args, **kwargs)
    os.unlink = unlink
else:
    import engine.export
    real_write = engine.export.Journal.write
    def write(self, **entry):
        if entry.get("type") == "done" and entry.get("n") == 3:  # moved, catalog updated, not yet noted
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(self, **entry)
    engine.export.Journal.write = write
for event in Exporter(library).run(plan):
    pass
"""


@pytest.mark.parametrize("crash_at", ["between-link-and-unlink", "before-done-is-journalled"])
def test_a_move_export_killed_midway_is_undone_byte_for_byte(sorted_library, tmp_path: Path, home: Path, crash_at: str):
    library, cats, _ = sorted_library
    pics, dest = tmp_path / "pics", tmp_path / "sorted"
    before_files, before_rows = tree(pics), catalog_rows(library)
    plan = plan_export(groups_of(cats), dest, "move")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan.as_dict()))
    script = tmp_path / "crash.py"
    script.write_text(_CRASHING_EXPORT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script), str(home), str(plan_file), crash_at], cwd=REPO, env=env, timeout=120, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    # Killed midway: some photos are in DEST, the rest still home.
    assert 0 < sum(1 for p in tree(dest)) < 8 and tree(pics) != before_files

    undo = run_undo(library)
    assert tree(pics) == before_files
    assert tree(dest) == {}
    assert catalog_rows(library) == before_rows
    assert len(undo.restored) >= 3 and not undo.kept


def test_undo_keeps_a_copy_changed_since_the_export_and_undoes_exports_newest_first(sorted_library, tmp_path: Path):
    library, cats, _ = sorted_library
    first = run_export(library, plan_export(groups_of(cats), tmp_path / "a", "copy"))
    second = run_export(library, plan_export(groups_of(cats), tmp_path / "b", "symlink"))
    edited = Path(first.done[0].target)
    edited.write_bytes(edited.read_bytes() + b"edited")

    undo = run_undo(library)
    assert undo.journal == second.journal
    assert tree(tmp_path / "b") == {} and len(tree(tmp_path / "a")) == 8
    undo = run_undo(library)
    assert undo.journal == first.journal
    assert list(tree(tmp_path / "a")) == [str(edited)]
    assert f"{edited}: changed since the export" in undo.kept


def test_command_line_dry_run_matches_the_real_run_and_undo(sorted_library, tmp_path: Path, home: Path, capsys):
    from main import main

    library, _, _ = sorted_library
    base = ["--home", str(home), "--model", "tiny-test", "--offline"]
    dest = tmp_path / "cli-out"
    assert main([*base, "export", str(dest), "--mode", "hardlink", "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] and not dest.exists()
    assert main([*base, "export", str(dest), "--mode", "hardlink", "--json"]) == 0
    real = json.loads(capsys.readouterr().out)
    assert real["done"] == dry["operations"] and len(real["done"]) == 8
    assert main([*base, "export", str(dest), "--mode", "move", "--multi"]) == 1
    assert "one folder only" in capsys.readouterr().err
    assert main([*base, "undo", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["removed"]) == 8
    assert not dest.exists()
    assert main([*base, "undo"]) == 1
    assert "no export to undo" in capsys.readouterr().err


def test_a_category_with_nothing_to_export_gets_no_folder(sorted_library, tmp_path: Path):
    library, cats, _ = sorted_library
    plan = plan_export({**groups_of(cats), "empty": []}, tmp_path / "out", "copy")
    assert sorted(os.path.basename(f) for f in plan.folders) == ["blues", "reds"]
    run_export(library, plan)
    assert sorted(os.listdir(tmp_path / "out")) == ["blues", "reds"]


def test_a_move_export_under_a_running_watcher_keeps_ids_vectors_and_captions(sorted_library, tmp_path: Path):
    import threading
    import time

    from engine.captions import add_captions, list_captions
    from engine.watcher import Batch, Watcher

    library, cats, photos = sorted_library
    red = photos["red_stripes"][0]
    rid = next(i for i, (p, _) in catalog_rows(library).items() if p == str(red))
    add_captions(library.catalog, [rid], "rex on the sofa")
    before = catalog_rows(library)
    watcher = Watcher(library, debounce_s=0.3, settle_s=0.1, poll_s=0.2)
    cancel, batches, embedded = threading.Event(), [], []

    def drive() -> None:
        for event in watcher.run(cancel):
            if isinstance(event, Batch):
                batches.append(event)
            elif event.phase == "embedding" and event.total:
                embedded.append(event.total)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not batches and time.monotonic() < deadline:  # the start-up reconcile
        time.sleep(0.05)
    dest = tmp_path / "pics" / "sorted"  # inside the watched folder: every move raises events
    report = run_export(library, plan_export(groups_of(cats), dest, "move"))
    assert len(report.done) == 8
    seen = len(batches)
    while len(batches) == seen and time.monotonic() < deadline:  # the watcher's look at the moves
        time.sleep(0.05)
    time.sleep(1.0)
    cancel.set()
    thread.join(timeout=30)
    assert len(batches) > seen
    after = catalog_rows(library)
    assert set(after) == set(before)  # same ids: nothing removed and re-added
    assert {i: v for i, (_, v) in after.items()} == {i: v for i, (_, v) in before.items()}  # vectors kept
    assert after[rid][0] == str(dest / "reds" / red.name)
    assert not embedded  # nothing was embedded again
    assert [c.text for c in list_captions(library.catalog, [rid])] == ["rex on the sofa"]
