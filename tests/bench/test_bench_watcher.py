"""The watcher benchmark runs through the runner on a tiny copy, with real watchdog events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def tiny_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tiny sizes and the tiny model, with generated inputs cached under tmp_path."""
    monkeypatch.setenv("LITPHOTOS_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LITPHOTOS_BENCH_SIZE", "tiny")
    return tmp_path


def test_watcher_benchmark_times_a_copy_as_one_batch_and_a_rename_that_embeds_nothing(tiny_bench: Path):
    from bench.__main__ import main
    from bench.sizes import TINY

    out = tiny_bench / "bench.json"
    assert main(["watcher", "--json", str(out)]) == 0
    copy, rename = json.loads(out.read_text())["rows"]
    n = TINY.watch_files
    assert copy["benchmark"] == f"watcher: {n}-file copy, last write -> searchable"
    assert copy["ours"] > 0 and copy["baseline"] > 0 and copy["unit"] == "s"
    assert copy["ratio"] == pytest.approx(copy["baseline"] / copy["ours"], rel=0.01)
    assert "1 batch(es)" in copy["note"] and copy["met"] is True  # the whole copy became one indexing run
    assert rename["benchmark"] == f"watcher: {n}-photo folder renamed, last write -> searchable"
    assert rename["ours"] > 0 and rename["baseline"] is None
    assert f"moved {n}, re-embedded 0, ids and vectors kept: yes" in rename["note"] and rename["met"] is True
