"""Switching the image model: a new space built in the background, resumable, then served."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.library import SpaceError
from engine.commands import Context
from main import build_parser, compose, main
from tests.conftest import run_all
from tests.factories import make_library, make_photo

A, B = "tiny-test--random-seed0", "tiny-test-b--random-seed1"


@pytest.fixture
def open_lib(home: Path):
    """compose() as the command line does it, with extra options; closed at teardown."""
    opened = []

    def open_(*options: str):  # noqa: ANN202
        lib = compose(build_parser().parse_args(["--home", str(home), "--offline", *options, "status"]))
        opened.append(lib)
        return lib

    yield open_
    for lib in opened:
        lib.close()


def top_ids(lib, query: str = "stripes") -> list[int]:  # noqa: ANN001
    return [r.id for r in lib.search(query, limit=5)]


def test_switch_builds_in_background_survives_interruption_then_switches(open_lib, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=10, size=(64, 48))  # 40 photos: three batches of 16
    lib = open_lib("--model", "tiny-test")
    run_all(lib.index_folders([tmp_path / "pics"]))
    served_by_a = top_ids(lib)
    lib.close()

    lib = open_lib("--model", "tiny-test-b")
    assert (lib.space_id, lib.target.space_id) == (A, B)  # searches keep using A meanwhile
    cancel = threading.Event()
    for event in lib.build_space(cancel):
        if event.phase == "embedding" and event.done >= 16:
            cancel.set()  # the app quits in the middle
    assert lib.space_id == A and top_ids(lib) == served_by_a
    assert lib.switch_progress() == {"model": "tiny-test-b", "space": B, "embedded": 16, "missing": 24, "waiting": 0}
    lib.close()

    lib = open_lib()  # a restart, without --model: the switch is remembered
    assert lib.target is not None and lib.target.space_id == B and lib.space_id == A
    events = list(lib.build_space())
    assert events[-1].report.updated == 24  # resumed: only what was missing was embedded
    assert "searching with tiny-test-b" in events[-1].message
    assert lib.space_id == B and lib.target is None
    assert lib.status()["space"] == B and lib.index.count == 40
    query = lib.query_vector("stripes")  # the served vectors are B's, so B's query finds itself
    best = lib.search(query, limit=1)[0]
    assert best.score == pytest.approx(float(lib.index.vectors([best.id])[0] @ query), abs=1e-4)
    lib.close()
    assert open_lib().space_id == B  # and it stays switched


def test_a_switch_waits_for_the_photos_of_an_unplugged_drive(open_lib, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=2, size=(64, 48))
    make_library(tmp_path / "drive", per_concept=1, size=(64, 48))
    lib = open_lib("--model", "tiny-test")
    run_all(lib.index_folders([tmp_path / "pics", tmp_path / "drive"]))
    lib.close()
    (tmp_path / "drive").rename(tmp_path / "unplugged")  # the drive is unplugged

    lib = open_lib("--model", "tiny-test-b")
    events = list(lib.build_space())
    # B would lose the drive's 4 photos from every search: A keeps serving, and says why.
    assert lib.space_id == A and lib.target.space_id == B
    assert "4 photos wait for a folder that is offline" in events[-1].message
    assert lib.switch_progress() == {"model": "tiny-test-b", "space": B, "embedded": 8, "missing": 4, "waiting": 4}
    found = {r.path: r.available for r in lib.search("stripes", limit=50)}
    assert len(found) == 12 and sum(not available for available in found.values()) == 4

    (tmp_path / "unplugged").rename(tmp_path / "drive")  # plugged in again
    events = list(lib.build_space())
    assert "searching with tiny-test-b" in events[-1].message and lib.space_id == B
    found = {r.path: r.available for r in lib.search("stripes", limit=50)}
    assert len(found) == 12 and all(found.values())


def test_switching_back_to_a_complete_space_is_instant(open_lib, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=2)
    lib = open_lib("--model", "tiny-test")
    run_all(lib.index_folders([tmp_path / "pics"]))
    first = top_ids(lib)
    assert lib.request_model(lib.choice_of(lib.encoder)) == "serving"
    lib.close()
    lib = open_lib("--model", "tiny-test-b")
    list(lib.build_space())
    assert lib.space_id == B
    lib.close()

    started = time.monotonic()
    lib = open_lib("--model", "tiny-test")
    assert lib.space_id == A and lib.target is None
    assert top_ids(lib) == first
    assert time.monotonic() - started < 5.0  # nothing was re-embedded
    assert {s.id: (s.serving, s.complete) for s in lib.spaces()} == {A: (True, True), B: (False, True)}


def test_an_edited_photo_makes_other_spaces_incomplete(open_lib, tmp_path: Path):
    photos = make_library(tmp_path / "pics", per_concept=2)
    lib = open_lib("--model", "tiny-test")
    run_all(lib.index_folders([tmp_path / "pics"]))
    lib.close()
    lib = open_lib("--model", "tiny-test-b")
    list(lib.build_space())
    edited = photos["red_stripes"][0]
    make_photo(edited, "blue_checks", seed=5, size=(160, 120))
    run_all(lib.index_folders())  # re-embedded in B; A's vector showed the old picture
    info = {s.id: s for s in lib.spaces()}
    assert info[A].missing == 1 and info[B].complete
    assert lib.request_model(lib.choice_of(lib.encoder).__class__("tiny-test")) == "building"
    assert lib.space_id == B  # until A has the edited photo again
    list(lib.build_space())
    assert lib.space_id == A


def cli(home: Path, *argv: str) -> tuple[int, str]:
    """Run one command as main() does, its output captured; (exit code, stdout)."""
    args = build_parser().parse_args(["--home", str(home), "--offline", *argv])
    out = io.StringIO()
    ctx = Context(open_library=lambda: compose(args), stdout=out, stderr=io.StringIO())
    try:
        return args.handler(args, ctx), out.getvalue()
    finally:
        ctx.close()


def test_spaces_commands_list_build_and_delete(open_lib, home: Path, tmp_path: Path, capsys):
    make_library(tmp_path / "pics", per_concept=1)
    lib = open_lib("--model", "tiny-test")
    run_all(lib.index_folders([tmp_path / "pics"]))
    lib.close()
    code, out = cli(home, "--model", "tiny-test-b", "spaces", "list", "--json")
    assert [(s["id"], s["serving"], s["building"], s["missing"]) for s in json.loads(out)] == [
        (A, True, False, 0),
        (B, False, True, 4),
    ]
    # Any other command says how the switch gets done, and still answers from the old space.
    assert main(["--home", str(home), "--offline", "--model", "tiny-test-b", "search", "stripes", "--json"]) == 0
    out, err = capsys.readouterr()
    assert len(json.loads(out)) == 4 and "searches use tiny-test until `litphotos spaces build`" in err
    assert cli(home, "spaces", "build") == (0, "searching with tiny-test-b now\n")
    code, out = cli(home, "spaces", "list", "--json")
    assert [(s["id"], s["serving"], s["embedded"]) for s in json.loads(out)] == [(B, True, 4), (A, False, 4)]

    with pytest.raises(SpaceError, match="switch to another model first"):
        cli(home, "spaces", "delete", B)  # the serving space: refused, nothing lost
    assert cli(home, "spaces", "delete", A)[0] == 0
    assert not (home / "spaces" / A).exists()
    assert [s["id"] for s in json.loads(cli(home, "spaces", "list", "--json")[1])] == [B]
    assert len(open_lib().search("stripes", limit=10)) == 4


def test_deleting_the_space_being_built_abandons_the_switch(open_lib, tmp_path: Path):
    make_library(tmp_path / "pics", per_concept=1)
    lib = open_lib("--model", "tiny-test")
    run_all(lib.index_folders([tmp_path / "pics"]))
    lib.close()
    lib = open_lib("--model", "tiny-test-b")
    assert lib.delete_space(B) == 0
    assert lib.target is None and lib.switch_progress() is None
    lib.close()
    lib = open_lib()
    assert lib.target is None and lib.space_id == A
    with pytest.raises(SpaceError):
        lib.delete_space(A)
    assert np.isfinite(lib.search("stripes", limit=1)[0].score)
