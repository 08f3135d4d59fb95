"""Time left as the app's indexing bar, the teach view and the command line print it."""

from __future__ import annotations

from engine.progress import format_eta


def test_time_left_reads_in_seconds_minutes_or_hours():
    assert format_eta(None) == "?"
    assert format_eta(44.6) == "45 s"
    assert format_eta(185) == "3 min 05 s"
    assert format_eta(3720) == "1 h 02 min"
