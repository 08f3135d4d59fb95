"""Progress as people read it, the same in the app and on the command line."""

from __future__ import annotations


def format_eta(seconds: float | None) -> str:
    """Time left: '45 s', '3 min 05 s', '1 h 02 min'; '?' while it is not known yet."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
