"""A library whose photos of each visual concept carry captions with an invented word."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.captions import add_captions, is_held_out
from engine.catalog import Photo, Space, Vector
from tests.conftest import run_all
from tests.factories import make_library

# Words no text tower has seen: whatever they retrieve after training, it learned.
WORDS = {"red_stripes": "zorblax", "blue_checks": "quendle", "green_noise": "frimpet", "yellow_rings": "blorvish"}


@dataclass
class Taught:
    library: object  # engine.library.Library
    ids: dict[str, list[int]]  # concept -> photo ids
    captioned: dict[str, list[int]]  # concept -> ids of photos that carry the word
    held_out: dict[str, list[int]]  # concept -> captioned ids in the held-out split

    def prompt(self, concept: str) -> str:
        return f"a photo of {WORDS[concept]}"


def stored_vectors(library) -> tuple[list[tuple], int]:  # noqa: ANN001
    """Every stored vector row (bytes) and the space generation: what must never change."""
    with library.catalog.reading() as s:
        rows = s.execute(select(Vector.photo_id, Vector.space_id, Vector.vector, Vector.generation).order_by(Vector.photo_id)).all()
        generation = s.scalar(select(Space.generation))
    return [tuple(r) for r in rows], generation


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The tiny model's matrices are too small for two threads; on a shared, busy machine the
    second thread's barrier waits made each step 20x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def taught(library, tmp_path: Path) -> Taught:
    """10 photos per concept; all but the last carry 'a photo of <word>'."""
    photos = make_library(tmp_path / "pics", per_concept=10, size=(96, 72))
    run_all(library.index_folders([tmp_path / "pics"]))
    with library.catalog.reading() as s:
        id_of = {path: pid for pid, path in s.execute(select(Photo.id, Photo.path))}
    ids = {c: [id_of[str(p)] for p in ps] for c, ps in photos.items()}
    captioned = {c: i[:-1] for c, i in ids.items()}
    for concept, photo_ids in captioned.items():
        add_captions(library.catalog, photo_ids, f"a photo of {WORDS[concept]}")
    held = {c: [i for i in photo_ids if is_held_out(i)] for c, photo_ids in captioned.items()}
    assert all(held.values()), "every concept needs a held-out photo for these tests to mean anything"
    return Taught(library, ids, captioned, held)
