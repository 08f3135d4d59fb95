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
