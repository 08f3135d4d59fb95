"""One row of the results table: a measurement of ours, its baseline, and the target it answers."""

from __future__ import annotations

KEYS = ("benchmark", "ours", "baseline", "unit", "ratio", "target", "met", "note")


def row(
    benchmark: str,
    ours: float | None,
    baseline: float | None,
    unit: str,
    *,
    higher_is_better: bool = True,
    target: str = "",
    met: bool | None = None,
    note: str = "",
) -> dict:
    """A result row; `ratio` always reads "times better than the baseline" (>1 is a win)."""
    ratio = None
    if ours is not None and baseline is not None and ours > 0 and baseline > 0:
        ratio = ours / baseline if higher_is_better else baseline / ours
    return {
        "benchmark": benchmark,
        "ours": _round(ours),
        "baseline": _round(baseline),
        "unit": unit,
        "ratio": _round(ratio),
        "target": target,
        "met": met,
        "note": note,
    }


def unavailable(name: str, reason: str) -> dict:
    """The row of a benchmark that could not run (its module is missing, say)."""
    return row(name, None, None, "", target="", met=None, note=f"not available: {reason}")


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    # Four significant digits below 10 (a 5 ms timing in seconds keeps its precision), one decimal above.
    return float(f"{value:.4g}") if abs(value) < 10 else round(value, 1)
