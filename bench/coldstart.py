"""One cold start, in a fresh process: open a library, answer the first query, report time and memory.

Run by the search benchmark as `python -m bench.coldstart {ours|plain} HOME [--tiny]`; prints
one JSON line. 'ours' opens the Library (catalog, saved graph, model) and searches through it;
'plain' loads the model and answers by reading every vector from SQLite (`bench.brute_force`).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

QUERIES = ["a dog running on the beach", "birthday cake with candles", "snowy mountain at sunrise", "receipts and documents"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("way", choices=["ours", "plain"])
    parser.add_argument("home", type=Path)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)

    import open_clip  # noqa: F401 - its import (torch, torchvision) is a cost both ways pay: count it here

    from bench.machine import gpu_library_resident_bytes, resident_bytes
    from bench.model import bench_encoder
    from engine.catalog import Catalog
    from engine.paths import Paths

    imported = time.perf_counter()
    encoder = bench_encoder(args.tiny)
    paths = Paths(args.home)
    if args.way == "ours":
        from engine.library import Library

        library = Library(paths, Catalog(paths.catalog), encoder)
        _ = library.index  # opens the saved graph
        opened = time.perf_counter()
        encoder.load()
        loaded = time.perf_counter()
        first = library.search(QUERIES[0], limit=20)
        answered = time.perf_counter()
        for q in QUERIES[1:]:
            library.search(q, limit=20)
    else:
        from bench.brute_force import BruteForceSearch

        brute = BruteForceSearch(paths.catalog, encoder.space_id, encoder.dim)
        opened = time.perf_counter()
        encoder.load()
        loaded = time.perf_counter()
        first = brute.search(encoder.encode_texts(QUERIES[0:1])[0], 20)
        answered = time.perf_counter()
        for q in QUERIES[1:]:
            brute.search(encoder.encode_texts([q])[0], 20)
    print(
        json.dumps(
            {
                "imports_s": imported - STARTED,
                "open_s": opened - imported,
                "model_s": loaded - opened,
                "first_query_s": answered - loaded,
                "total_s": answered - STARTED,
                "results": len(first),
                "rss_bytes": resident_bytes(),
                "peak_rss_bytes": resident_bytes("VmHWM"),
                "gpu_library_bytes": gpu_library_resident_bytes(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
