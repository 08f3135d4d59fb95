"""`python -m bench [NAME ...|all] [--quick] [--json FILE]`: run benchmarks, print a table, write JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from bench.machine import describe, load_average
from bench.rows import KEYS, unavailable

# Run order: cheap first. A module
# that is not there is reported as not available, never an error.
NAMES = ("rescan", "waiting", "fidelity", "indexing", "search", "train", "categories", "watcher")
DEFAULT_JSON = Path("bench-output") / "bench.json"


def run_benchmark(name: str, quick: bool) -> list[dict]:
    """The rows of one benchmark; a missing module or a crash becomes a 'not available' row."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"bench.{name}", "bench"):
            raise  # the module exists but one of its imports is missing: a real error
        return [unavailable(name, "no bench/{}.py in this build".format(name))]
    started = time.monotonic()
    load = load_average()
    try:
        rows = list(module.run(quick))
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
        traceback.print_exc()
        return [unavailable(name, f"failed: {exc!r}")]
    for r in rows:
        missing = [k for k in KEYS if k not in r]
        if missing:
            raise ValueError(f"bench.{name} returned a row without {missing}")
        r.setdefault("seconds", round(time.monotonic() - started, 1))
        r.setdefault("load_before", load)
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table (also valid Markdown) of the rows."""
    header = ["benchmark", "ours", "baseline", "unit", "ratio", "target", "met", "note"]
    lines = [header]
    for r in rows:
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        lines.append([str(r["benchmark"]), _num(r["ours"]), _num(r["baseline"]), str(r["unit"]), _ratio(r["ratio"]), str(r["target"]), met, str(r["note"])])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for n, line in enumerate(lines):
        cells = [line[i].ljust(widths[i]) for i in range(len(header) - 1)] + [line[-1]]
        out.append("| " + " | ".join(cells) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    return "\n".join(out)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", default=["all"], metavar="NAME", help=f"one or more of: {', '.join(NAMES)}, all")
    parser.add_argument("--quick", action="store_true", help="smaller inputs (search stops at 100k); all of it under 10 minutes on two cores")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results (default {DEFAULT_JSON})")
    args = parser.parse_args(argv)
    names = list(NAMES) if "all" in args.names else args.names
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}, all")
    machine = describe()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, torch {machine['torch']} "
          f"({machine['torch_threads']} threads), load average {machine['load_average']}", flush=True)
    started = time.monotonic()
    rows: list[dict] = []
    for name in names:
        print(f"-- {name} (load average {load_average()})", flush=True)
        found = run_benchmark(name, args.quick)
        rows += found
        print(format_table(found), flush=True)
    total = time.monotonic() - started
    print(f"\nall results ({'quick' if args.quick else 'full'}, {total:.0f} s, load average now {load_average()}):")
    print(format_table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {"quick": args.quick, "seconds": round(total, 1), "machine": machine, "load_after": load_average(), "rows": rows}
    args.json.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
