"""The training benchmark runs end to end on the tiny model: both rows, positive numbers, a consistent ratio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def tiny_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tiny sizes and the tiny model, with generated inputs cached under tmp_path; one torch thread."""
    import torch

    monkeypatch.setenv("LITPHOTOS_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LITPHOTOS_BENCH_SIZE", "tiny")
    # The tiny model's matrices are too small for two threads: on a busy machine the second
    # thread's barrier waits made each step 20x slower (see tests/trainer/conftest.py).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(threads)


def test_train_benchmark_reports_a_step_and_a_whole_run(tiny_bench: Path):
    from bench.__main__ import main
    from bench.sizes import TINY
    from trainer.train import TrainConfig

    steps = TrainConfig().min_steps  # a handful of captions: the run's floor

    out = tiny_bench / "bench.json"
    assert main(["train", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["benchmark"] for r in rows] == ["train step: ours vs plain", f"train run, {TINY.train_captions} captions"]
    step, whole = rows
    for r in rows:
        assert r["ours"] > 0 and r["baseline"] > 0
        # Lower is better for both: the ratio reads "x faster than the plain way".
        assert r["ratio"] == pytest.approx(r["baseline"] / r["ours"], rel=0.01)
    assert step["unit"] == "ms" and step["target"] == ">= 5x"
    assert step["met"] is None  # tiny sizes: the numbers mean nothing, no verdict
    assert "trainer.train.train_step" in step["note"] and "77-token context" in step["note"]
    assert whole["unit"] == "s" and f"{steps} steps" in whole["note"] and "recall@1/5/10" in whole["note"]
    # The run's baseline is its step count times the plain step.
    assert whole["baseline"] == pytest.approx(steps * step["baseline"] / 1000, rel=0.01)
