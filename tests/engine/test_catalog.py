"""The catalog: schema versioned, WAL, newer catalogs refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog import SCHEMA_VERSION, Catalog, CatalogTooNew


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
