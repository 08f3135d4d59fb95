"""The benchmark suite still runs: its cheapest path, on a tiny input, through the runner."""

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


def test_rescan_benchmark_prints_a_table_and_writes_json(tiny_bench: Path, capsys: pytest.CaptureFixture):
    from bench.__main__ import main

    out = tiny_bench / "bench.json"
    assert main(["rescan", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["benchmark"] for r in rows] == ["re-scan 300 unchanged files"]
    rescan = rows[0]
    assert rescan["ours"] > 0 and rescan["baseline"] > 0 and rescan["unit"] == "s"
    assert rescan["ratio"] == pytest.approx(rescan["baseline"] / rescan["ours"], rel=0.01)
    assert "model loaded: no" in rescan["note"]  # nothing changed: nothing decoded, no model
    printed = capsys.readouterr().out
    assert "re-scan 300 unchanged files" in printed and f"wrote {out}" in printed


def test_a_missing_benchmark_module_is_reported_not_raised(tiny_bench: Path):
    from bench.__main__ import run_benchmark

    rows = run_benchmark("no_such_benchmark", quick=True)
    assert len(rows) == 1 and rows[0]["note"].startswith("not available")
    assert rows[0]["ours"] is None and rows[0]["met"] is None


def test_unknown_benchmark_name_is_a_usage_error(tiny_bench: Path, capsys: pytest.CaptureFixture):
    from bench.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["indexng"])
    assert exit_info.value.code == 2
    assert "unknown benchmark indexng" in capsys.readouterr().err


def test_categories_benchmark_rows_read_as_the_table_expects(tiny_bench: Path, capsys: pytest.CaptureFixture):
    from bench.__main__ import main

    out = tiny_bench / "bench.json"
    assert main(["categories", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["benchmark"] for r in rows] == [
        "categories: recompute 20 categories x 2k photos", "categories: cold sort from the catalog, 2k photos x 20 categories"
    ]
    for r in rows:
        assert r["ours"] > 0 and r["baseline"] > 0 and r["unit"] == "s" and isinstance(r["target"], str)
        assert r["ratio"] == pytest.approx(r["baseline"] / r["ours"], rel=0.01)
    assert "categories: recompute 20 categories x 2k photos" in capsys.readouterr().out


def test_every_benchmark_runs_and_every_row_compares_with_its_baseline_or_says_why_not(tiny_bench: Path):
    from bench.__main__ import NAMES, main

    out = tiny_bench / "all.json"
    assert main(["all", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert not [r for r in rows if r["note"].startswith("not available")]  # none crashed, none missing
    assert {r["benchmark"].split(":")[0].split(" ")[0] for r in rows} >= {"re-scan", "model", "fidelity", "indexing", "search", "train", "categories", "watcher"}
    assert len(NAMES) == 8
    for r in rows:
        if r["baseline"] is not None and r["ours"]:
            assert r["ratio"] is not None and r["ratio"] > 0, r
