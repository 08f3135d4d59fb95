"""Shared fixtures: a temporary data home and a library on the tiny random-weights model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"  # tests never touch the network

import torch  # noqa: E402

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "test-output"  # screenshots and other artefacts for a reviewer (not committed)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data home; $LITPHOTOS_HOME points at it."""
    path = tmp_path / "home"
    monkeypatch.setenv("LITPHOTOS_HOME", str(path))
    return path


@pytest.fixture
def make_library_obj(home: Path):
    """A factory of Library objects on `home` with the tiny-test model (closed at teardown)."""
    from engine.catalog import Catalog
    from engine.encoder import Encoder
    from engine.library import Library
    from engine.paths import Paths
    from engine.specs import load_model_list

    opened = []

    def make(model: str = "tiny-test") -> Library:
        paths = Paths(home).ensure()
        spec = load_model_list().get(model)
        lib = Library(paths, Catalog(paths.catalog), Encoder(spec, paths.models, allow_download=False))
        opened.append(lib)
        return lib

    yield make
    for lib in opened:
        lib.close()


@pytest.fixture
def library(make_library_obj):
    return make_library_obj()


def run_all(events) -> object:
    """Drive an engine generator to the end; return the final event's report."""
    report = None
    for event in events:
        if getattr(event, "report", None) is not None:
            report = event.report
    return report
