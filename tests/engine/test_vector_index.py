"""The hnswlib file is derived: repaired or rebuilt whenever it disagrees with the catalog."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import run_all
from tests.factories import make_library


def index_files(library) -> list[Path]:
    return sorted(library.paths.space_dir(library.space_id).glob("index-*.hnsw"))


def test_saved_file_is_stamped_with_the_catalog_generation(library, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=2)
    run_all(library.index_folders([tmp_path / "pics"]))
    (path,) = index_files(library)
    assert path.name == f"index-{library.status()['generation']}.hnsw"


def test_missing_file_is_rebuilt_from_the_catalog(make_library_obj, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=2)
    lib = make_library_obj()
    run_all(lib.index_folders([tmp_path / "pics"]))
    expected = [r.id for r in lib.search("checks", limit=8)]
    for path in index_files(lib):
        path.unlink()
    lib.close()
    again = make_library_obj()
    assert again.index.count == 8
    assert [r.id for r in again.search("checks", limit=8)] == expected


def test_corrupt_file_is_rebuilt(make_library_obj, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=2)
    lib = make_library_obj()
    run_all(lib.index_folders([tmp_path / "pics"]))
    (path,) = index_files(lib)
    path.write_bytes(b"garbage" * 10)
    lib.close()
    assert make_library_obj().index.count == 8


def test_stale_file_catches_up_with_later_changes(make_library_obj, tmp_path: Path):
    """An index saved before a crash is repaired: later adds appear, later deletes vanish."""
    photos = make_library(tmp_path / "pics", per_concept=2)
    lib = make_library_obj()
    run_all(lib.index_folders([tmp_path / "pics"]))
    (old,) = index_files(lib)
    stale = old.read_bytes()
    photos["red_stripes"][0].unlink()
    make_library(tmp_path / "pics" / "more", per_concept=1)
    run_all(lib.index_folders())
    for path in index_files(lib):
        path.unlink()
    old.write_bytes(stale)  # as if the process died before saving the newer graph
    lib.close()

    again = make_library_obj()
    assert again.index.count == 11
    found = {r.path for r in again.search("stripes", limit=50)}
    assert str(photos["red_stripes"][0]) not in found and len(found) == 11


def test_another_process_writes_are_seen_before_the_next_query(make_library_obj, tmp_path: Path):
    make_library(tmp_path / "a", per_concept=1)
    make_library(tmp_path / "b", per_concept=1)
    reader, writer = make_library_obj(), make_library_obj()
    run_all(writer.index_folders([tmp_path / "a"]))
    assert len(reader.search("x", limit=50)) == 4
    run_all(writer.index_folders([tmp_path / "b"]))
    assert len(reader.search("x", limit=50)) == 8


def test_filtered_search_is_exact_on_small_candidate_sets(library, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=3)
    run_all(library.index_folders([tmp_path / "pics"]))
    query = library.query_vector("rings")
    ids = [r.id for r in library.search(query, limit=12)]
    allowed = set(ids[3:9])
    hits = library.index.search(query, 3, allowed)
    assert [i for i, _ in hits] == [i for i in ids if i in allowed][:3]
    vecs = library.index.vectors([i for i, _ in hits])
    assert np.allclose(vecs @ query, [s for _, s in hits], atol=1e-5)


def test_the_graph_finds_what_exact_search_finds(library, tmp_path: Path, monkeypatch):
    """Big libraries are searched through the hnswlib graph: it must rank like exact search."""
    from engine.vector_index import VectorIndex

    make_library(tmp_path / "pics", per_concept=10, size=(64, 48))
    run_all(library.index_folders([tmp_path / "pics"]))
    exact = library.index
    assert exact.kind == "exact" and exact.count == 40
    # Rebuilt from the catalog (the same float16 vectors exact search reads), with the exact
    # threshold lowered so that 40 photos already go through the graph.
    graph = VectorIndex(tmp_path / "graph", library.space_id, exact.dim, exact_below=0).open(library.catalog)
    assert graph.kind == "hnsw" and graph.count == 40

    def refuse(*args):
        raise AssertionError("the graph fell back to exact search")

    monkeypatch.setattr(graph, "_exact", refuse)  # only the graph may answer below
    everyone = sorted(r.id for r in library.search("photo", limit=40))
    for text in ("stripes", "checks", "noise", "rings"):
        query = library.query_vector(text)
        for allowed in (None, set(everyone[::2])):
            want = exact.search(query, 4, allowed)
            got = graph.search(query, 4, allowed)  # 20 or 40 candidates > 4 * 4: the graph
            assert [i for i, _ in got] == [i for i, _ in want], (text, allowed is not None)
            assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-4)
