"""Search: end-to-end query latency through `Library.search` against brute force over SQLite.

End to end means what a person waits for: text encode, nearest neighbours, the catalog
join and filters. Libraries of 10k, 100k (and 1M in the full run) clustered vectors.
Recall@20 compares the graph with exact search on held-out queries from the same clusters.
Cold start and resident memory are measured in fresh processes (`bench.coldstart`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from bench.brute_force import BruteForceSearch
from bench.homes import synthetic_home
from bench.model import bench_encoder
from bench.rows import row
from bench.sizes import sizes
from bench.timing import percentile_ms
from bench.vectors import ClusteredVectors
from engine.catalog import Catalog
from engine.library import Filters, Library

QUERIES = [
    "a dog running on the beach", "birthday cake with candles", "snowy mountain at sunrise",
    "receipts and documents", "my daughter on a bicycle", "red car parked in the street",
    "wedding ceremony in a church", "plate of pasta", "cat sleeping on a sofa", "fireworks over the city",
    "screenshot of a chat", "sunset over the sea", "people hiking in a forest", "christmas tree with lights",
    "old black and white family photo", "whiteboard with diagrams",
]
YEAR_2019 = Filters(after=date(2019, 1, 1), before=date(2019, 12, 31))
TARGET_P50_MS = {100_000: 80.0, 1_000_000: 150.0}
REPO = Path(__file__).resolve().parent.parent


def run(quick: bool) -> list[dict]:
    s = sizes(quick)
    encoder = bench_encoder(s.tiny)
    encoder.load()
    rows: list[dict] = []
    for n in s.libraries:
        home = synthetic_home(n, encoder, files=n <= 100_000)
        label = _label(n)
        library = Library(home.paths, Catalog(home.paths.catalog), encoder)
        try:
            started = time.perf_counter()
            index = library.index
            note_open = f"graph loaded in {time.perf_counter() - started:.1f} s"
            if home.build_seconds:
                note_open += f"; home built in {home.build_seconds:.0f} s (cached for next runs)"
            library.search(QUERIES[0], limit=20)  # warm: first-call costs are the cold-start row's
            plain = _latencies(lambda q: library.search(q, limit=20), s.queries)
            filtered = _latencies(lambda q: library.search(q, YEAR_2019, limit=20), max(5, s.queries // 2))
            brute = BruteForceSearch(home.paths.catalog, encoder.space_id, encoder.dim)
            try:
                base = _latencies(lambda q: brute.search(encoder.encode_texts([q])[0], 20), s.baseline_queries)
                base_filtered = _latencies(
                    lambda q: brute.search(encoder.encode_texts([q])[0], 20, YEAR_2019.after, YEAR_2019.before),
                    s.baseline_queries,
                )
            finally:
                brute.close()
            target = TARGET_P50_MS.get(n)
            p50, p95 = percentile_ms(plain, 50), percentile_ms(plain, 95)
            rows.append(
                row(
                    f"search {label}: query p50", p50, percentile_ms(base, 50), "ms", higher_is_better=False,
                    target=f"< {target:.0f} ms" if target else "", met=(p50 < target) if target else None,
                    note=f"text encode + graph + join; baseline: brute force over SQLite; {note_open}",
                )
            )
            rows.append(row(f"search {label}: query p95", p95, percentile_ms(base, 95), "ms", higher_is_better=False))
            rows.append(
                row(
                    f"search {label}: filtered p50", percentile_ms(filtered, 50), percentile_ms(base_filtered, 50), "ms",
                    higher_is_better=False, note="date filter (one year of ten, ~10% of photos)",
                )
            )
            recall = _recall(library, index, n, encoder.dim, s.recall_queries)
            rows.append(
                row(
                    f"search {label}: recall@20", recall, 1.0, "fraction",
                    target=">= 0.98", met=recall >= 0.98,
                    note=f"hnsw (M={index.m}, ef={index.ef_search}) vs exact, {s.recall_queries} held-out clustered queries",
                )
            )
        finally:
            library.catalog.close()
        if n == 100_000 or (s.tiny and n == s.libraries[-1]):
            rows += _cold_start(home.paths.home, label, s.tiny)
    return rows


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k" if n >= 1000 else str(n)


def _latencies(search, count: int) -> list[float]:  # noqa: ANN001 - a callable taking a query string
    out = []
    for i in range(count):
        query = QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}")  # no cache can help
        start = time.perf_counter()
        search(query)
        out.append(time.perf_counter() - start)
    return out


def _recall(library: Library, index, n: int, dim: int, count: int) -> float:  # noqa: ANN001
    """Mean recall@20 of the library's graph against exact search over the same stored vectors."""
    queries = ClusteredVectors(n, dim, seed=0).sample(count, stream=1)  # same subjects, new photos
    with library.catalog.reading() as s:
        raw = s.connection().exec_driver_sql(
            "SELECT photo_id, vector FROM vectors WHERE space_id = ? ORDER BY photo_id", (index.space_id,)
        ).fetchall()
    ids = np.fromiter((r[0] for r in raw), np.int64, len(raw))
    vectors = np.frombuffer(b"".join(r[1] for r in raw), np.float16).reshape(len(raw), dim)
    del raw
    best = np.full((count, 20), -np.inf, np.float32)
    best_ids = np.zeros((count, 20), np.int64)
    for lo in range(0, len(ids), 100_000):  # exact top-20, a chunk of the library at a time
        scores = queries @ vectors[lo : lo + 100_000].astype(np.float32).T
        merged = np.concatenate([best, scores], axis=1)
        merged_ids = np.concatenate([best_ids, np.broadcast_to(ids[lo : lo + 100_000], scores.shape)], axis=1)
        top = np.argpartition(-merged, 19, axis=1)[:, :20]
        best = np.take_along_axis(merged, top, axis=1)
        best_ids = np.take_along_axis(merged_ids, top, axis=1)
    hits = 0
    for q, exact in zip(queries, best_ids):
        found = {i for i, _ in index.search(q, 20)}
        hits += len(found & set(exact.tolist()))
    return hits / (20 * count)


def _cold_start(home: Path, label: str, tiny: bool) -> list[dict]:
    """Open a library and answer the first query in a fresh process, ours and the plain way."""
    measured = {}
    for way in ("ours", "plain"):
        command = [sys.executable, "-m", "bench.coldstart", way, str(home)] + (["--tiny"] if tiny else [])
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        measured[way] = dict(json.loads(done.stdout.strip().splitlines()[-1]), wall_s=wall)
    ours, plain = measured["ours"], measured["plain"]
    breakdown = (
        f"imports (torch, open_clip) {ours['imports_s']:.1f} s, open catalog+graph {ours['open_s']:.1f} s, "
        f"load model {ours['model_s']:.1f} s, first query {ours['first_query_s'] * 1000:.0f} ms; warm page cache"
    )
    rss, peak, gpu = ours["rss_bytes"] / 2**30, ours["peak_rss_bytes"] / 2**30, ours["gpu_library_bytes"] / 2**30
    return [
        row(f"search {label}: cold start", ours["wall_s"], plain["wall_s"], "s", higher_is_better=False, note=breakdown),
        row(
            f"search {label}: resident memory", rss, plain["rss_bytes"] / 2**30, "GB", higher_is_better=False,
            target="< 1.5 GB" if not tiny else "", met=(rss < 1.5) if not tiny else None,
            note=f"default model + graph loaded, after 4 queries; peak {peak:.2f} GB (while loading weights); "
            f"{gpu:.2f} GB of it are CUDA/Triton libraries of this CUDA torch build, absent with CPU-only torch; "
            "baseline: brute-force process",
        ),
    ]
