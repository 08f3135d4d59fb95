"""The core stays free of Qt: importing every engine and trainer module loads no PySide6."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import importlib, pkgutil, sys
import engine, trainer
names = []
for package in (engine, trainer):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
        names.append(info.name)
qt = sorted(m for m in sys.modules if m.startswith(("PySide6", "shiboken6", "app")))
print(len(names), qt)
"""


def test_engine_and_trainer_import_no_qt_and_no_app():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    count, qt = proc.stdout.strip().split(" ", 1)
    assert int(count) >= 10  # the probe really walked the packages
    assert qt == "[]"


def test_importing_the_engine_does_no_work():
    """No model load, no database, no files at import time (STYLE: main.py composes)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, engine.library, engine.indexer; print('torch' in sys.modules)"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"  # torch loads only when a model is needed
