"""The Qt desktop app. Only this package imports PySide6."""

from __future__ import annotations

from collections.abc import Callable


def run_app(open_library: Callable[[], object]) -> int:
    """Start the Qt app around a library factory; returns the exit code."""
    from app.application import run

    return run(open_library)
