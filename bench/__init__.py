"""Benchmarks: each measures our way against the usual way in the same run and prints the ratio.

Run `python -m bench [NAME ...|all] [--quick] [--json FILE]`. A benchmark is a module
`bench/<name>.py` with `run(quick: bool) -> list[dict]`; each dict is one row (see `bench.rows`).
Inputs are generated (and cached, see `bench.cache`); models use random weights, never a download.
"""
