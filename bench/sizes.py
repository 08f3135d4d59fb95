"""How big each benchmark's inputs are: quick (under 10 minutes in all), full, and tiny (the smoke test)."""

from __future__ import annotations

import os
from dataclasses import dataclass

SIZE_ENV = "LITPHOTOS_BENCH_SIZE"  # 'tiny' shrinks everything to seconds (tests/bench)


@dataclass(frozen=True)
class Sizes:
    photos_12mp: int  # indexing and fidelity inputs
    photos_2mp: int
    libraries: tuple[int, ...]  # search: catalog sizes
    queries: int  # timed end-to-end queries per library size
    baseline_queries: int  # brute-force queries per size (each one reads every vector)
    recall_queries: int
    rescan_files: int
    tiny: bool = False  # also use the tiny model: smoke test only, numbers mean nothing
    category_photos: int = 100_000  # categories: stored vectors the recompute runs over
    watch_files: int = 200  # watcher: photos copied into a watched folder at once (then the folder renamed)
    watch_debounce_s: float | None = None  # watcher: None is the app's own debounce (Watcher's default)
    train_photos: int = 5000  # train: synthetic library (uncaptioned photos are the negatives; a step draws 4096)
    train_captions: int = 300  # train: captions of the whole-run row
    train_repeats: int = 10  # train: timed steps of ours after a warm-up step (best of; one takes well under a second)
    train_plain_repeats: int = 3  # train: timed plain steps after a warm-up step (best of; one takes 10 s or more)
    waiting_photos: int = 100_000  # waiting: photos a model switch lacks (the plain count reads failures x photos)
    waiting_failures: int = 2_000  # waiting: corrupt files in the failures table


QUICK = Sizes(photos_12mp=48, photos_2mp=32, libraries=(10_000, 100_000), queries=40, baseline_queries=5, recall_queries=200, rescan_files=100_000, waiting_photos=20_000)
FULL = Sizes(photos_12mp=96, photos_2mp=64, libraries=(10_000, 100_000, 1_000_000), queries=100, baseline_queries=10, recall_queries=500, rescan_files=100_000)
TINY = Sizes(photos_12mp=2, photos_2mp=2, libraries=(500,), queries=3, baseline_queries=2, recall_queries=10, rescan_files=300, tiny=True, category_photos=2000, watch_files=20, watch_debounce_s=0.3,
            train_photos=200, train_captions=40, train_repeats=3, train_plain_repeats=2, waiting_photos=2000, waiting_failures=50)


def sizes(quick: bool) -> Sizes:
    """The sizes for this run; $LITPHOTOS_BENCH_SIZE=tiny overrides both modes."""
    if os.environ.get(SIZE_ENV) == "tiny":
        return TINY
    return QUICK if quick else FULL
