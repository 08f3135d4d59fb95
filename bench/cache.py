"""Where generated inputs are kept between runs (photos, catalogs, built graphs, weights).

Generating 12 MP photos or building a graph of a million vectors takes minutes; a cached
input is rebuilt only when its recipe (the key) changes. `$LITPHOTOS_BENCH_CACHE` moves it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import platformdirs

CACHE_ENV = "LITPHOTOS_BENCH_CACHE"


def cache_root() -> Path:
    """The bench cache folder: $LITPHOTOS_BENCH_CACHE, else the user cache folder."""
    env = os.environ.get(CACHE_ENV)
    root = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("litphotos-bench", appauthor=False))
    root.mkdir(parents=True, exist_ok=True)
    return root


def cached_dir(key: str, build: Callable[[Path], None]) -> Path:
    """The folder `key` under the cache, built by `build(folder)` unless a complete one is there.

    Built in place (catalogs inside hold absolute paths), marked complete only at the end: an
    interrupted build is thrown away and redone next time.
    """
    final = cache_root() / key
    if (final / ".complete").exists():
        return final
    shutil.rmtree(final, ignore_errors=True)
    final.mkdir(parents=True)
    build(final)
    (final / ".complete").touch()
    return final
