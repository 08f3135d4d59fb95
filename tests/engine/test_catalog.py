"""The catalog: schema versioned, WAL, newer catalogs refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlalchemy import literal, select

from engine.catalog import SCHEMA_VERSION, Catalog, CatalogTooNew, Failure, Folder, FsPath, Mount, inside_failed_folder


def test_new_catalog_records_its_schema_version_and_uses_wal(tmp_path: Path):
    catalog = Catalog(tmp_path / "c.sqlite")
    assert catalog.get_setting("schema_version") == str(SCHEMA_VERSION)
    with catalog.reading() as s:
        assert s.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    catalog.close()


def test_catalog_from_a_newer_program_is_refused_without_damage(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    catalog = Catalog(path)
    catalog.set_setting("schema_version", str(SCHEMA_VERSION + 1))
    catalog.close()
    with pytest.raises(CatalogTooNew, match="please update"):
        Catalog(path)
    reopened_raw = __import__("sqlite3").connect(path)
    assert reopened_raw.execute("select value from settings where key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION + 1)


def test_a_version_1_catalog_is_migrated_and_keeps_its_folders_and_failures(tmp_path: Path):
    import sqlite3

    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    raw = sqlite3.connect(path)  # what version 1 looked like: no folders.device, no failures.folder, no mounts
    raw.execute("DROP TABLE mounts")
    raw.execute("ALTER TABLE folders DROP COLUMN device")
    raw.execute("DROP INDEX ix_failures_folder")
    raw.execute("ALTER TABLE failures DROP COLUMN folder")
    raw.execute("INSERT INTO folders (path, added_at, online) VALUES (?, '2024-01-01 00:00:00', 1)", (b"/photos",))
    for name, reason in [
        ("/photos/locked", "folder cannot be read: Permission denied"),
        ("/photos/loop", "cannot be read: Too many levels of symbolic links"),
        ("/photos/a.jpg", "cannot identify image file"),
        ("/photos/b.jpg", "cannot read file: Permission denied"),
    ]:
        raw.execute(
            "INSERT INTO failures (path, folder_id, size, mtime_ns, reason, at) VALUES (?, 1, 0, 0, ?, '2024-01-01 00:00:00')",
            (name.encode(), reason),
        )
    raw.execute("UPDATE settings SET value = '1' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    catalog = Catalog(path)
    assert catalog.get_setting("schema_version") == str(SCHEMA_VERSION) == "4"
    with catalog.reading() as s:
        assert s.execute(select(Folder.path, Folder.online, Folder.device)).all() == [("/photos", True, None)]
        # the folders that could not be listed still keep the photos below them unavailable
        assert dict(s.execute(select(Failure.path, Failure.folder)).all()) == {
            "/photos/locked": True, "/photos/loop": True, "/photos/a.jpg": False, "/photos/b.jpg": False,
        }
        below = select(literal("/photos/locked/x.jpg", FsPath).label("p")).subquery()
        assert s.scalar(select(inside_failed_folder(below.c.p))) is True
        assert s.scalars(select(Mount.path)).all() == []  # made, to be filled by the next scan
    catalog.close()
