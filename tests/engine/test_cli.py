"""The command line, end to end: JSON shapes, exit codes, global options, queries, filters."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

import main
from tests.conftest import REPO
from tests.factories import make_library, make_photo


@pytest.fixture
def cli(home: Path, capsys):
    """Run `main.main(argv)` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main.main(["--home", str(home), "--model", "tiny-test", "--offline", *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def indexed(cli, tmp_path: Path):
    photos = make_library(tmp_path / "pics", per_concept=3)
    make_photo(tmp_path / "pics" / "old" / "old.jpg", "red_stripes", seed=7, taken=datetime(2012, 5, 1, 12, 0), camera=("Nikon", "D90"))
    code, out, _ = cli("index", str(tmp_path / "pics"), "--json")
    assert code == 0
    return photos, json.loads(out)


def test_index_json_has_the_documented_counts(indexed):
    _, report = indexed
    assert {"added", "updated", "moved", "removed", "unchanged", "failed", "seconds"} <= set(report)
    assert report["added"] == 13 and report["failed"] == 0


def test_search_json_shape_and_order(cli, indexed):
    code, out, _ = cli("search", "a", "photo", "of", "stripes", "--json", "--limit", "5")
    assert code == 0
    results = json.loads(out)
    assert len(results) == 5
    for r in results:
        assert {"path", "score", "id", "taken_at", "width", "height"} <= set(r)
        assert Path(r["path"]).is_file()
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


def test_global_options_are_accepted_after_the_command(home: Path, indexed, capsys):
    code = main.main(["status", "--json", "--home", str(home), "--model", "tiny-test"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["photos"] == 13 and data["folders"] == 1 and data["model"] == "tiny-test"
    # 13 photos are searched exactly (as fast as the graph at this size): say so.
    assert data["index"] == {"kind": "exact", "count": 13, "file": data["index"]["file"]}
    assert {"photos", "failures", "folders", "model", "space", "index"} <= set(data)


def test_the_library_remembers_its_model(home: Path, indexed, capsys):
    code = main.main(["--home", str(home), "status", "--json"])  # no --model
    assert code == 0
    assert json.loads(capsys.readouterr().out)["model"] == "tiny-test"


def test_similar_puts_the_photo_itself_first(cli, indexed):
    photos, _ = indexed
    probe = photos["yellow_rings"][1]
    code, out, _ = cli("similar", str(probe), "--json", "--limit", "3")
    assert code == 0
    assert json.loads(out)[0]["path"] == str(probe)


def test_combined_queries_weight_and_subtract_terms(cli, indexed, home):
    photos, _ = indexed
    a, b = photos["red_stripes"][0], photos["blue_checks"][0]

    def top(query: str, limit: int = 13) -> list[str]:
        code, out, err = cli("search", query, "--json", "--limit", str(limit))
        assert code == 0, err
        return [r["path"] for r in json.loads(out)]

    assert top(f"3:{a} + {b}")[0] == str(a)
    assert top(f"{a} + 3:{b}")[0] == str(b)
    assert str(b) in top(f"{a} - {b}")[-3:]  # the subtracted photo sinks to the bottom
    assert str(b) not in top(f"{b} + 0.1:{a}")[-3:]


def test_query_vector_is_the_normalised_weighted_sum(library):
    v = library.query_vector('"2:beach" + sunset - people')
    e = library.encoder.encode_texts(["beach", "sunset", "people"])
    expected = 2 * e[0] + e[1] - e[2]
    assert np.allclose(v, expected / np.linalg.norm(expected), atol=1e-5)


def test_filters_folder_dates_min_score_camera(cli, indexed, tmp_path: Path):
    photos, _ = indexed

    def paths(*extra: str) -> set[str]:
        code, out, err = cli("search", "photo", "--json", "--limit", "50", *extra)
        assert code == 0, err
        return {r["path"] for r in json.loads(out)}

    assert paths("--folder", str(tmp_path / "pics" / "blue_checks")) == {str(p) for p in photos["blue_checks"]}
    assert paths("--before", "2013-01-01") == {str(tmp_path / "pics" / "old" / "old.jpg")}
    assert str(tmp_path / "pics" / "old" / "old.jpg") not in paths("--after", "2013-01-01")
    assert paths("--camera", "nikon") == {str(tmp_path / "pics" / "old" / "old.jpg")}
    everything = paths()
    assert paths("--min-score", "1.01") == set() and len(everything) == 13


def test_folders_list_and_remove(cli, indexed, tmp_path: Path):
    code, out, _ = cli("folders", "list", "--json")
    (folder,) = json.loads(out)
    assert folder["photos"] == 13 and folder["online"] is True
    code, out, _ = cli("folders", "remove", str(tmp_path / "pics"))
    assert code == 0 and "untouched" in out
    code, out, _ = cli("search", "photo", "--json")
    assert json.loads(out) == []
    assert (tmp_path / "pics" / "old" / "old.jpg").exists()


def test_failures_command_lists_reasons(cli, tmp_path: Path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_text("nope")
    cli("index", str(tmp_path / "bad"))
    code, out, _ = cli("failures", "--json")
    (failure,) = json.loads(out)
    assert failure["path"].endswith("x.jpg") and failure["reason"]


def test_usage_errors_exit_2_and_other_errors_exit_1_with_one_line(cli, tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        main.main(["search"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required: QUERY" in err and "litphotos search --help" in err
    code, _, err = cli("index", str(tmp_path / "missing"))
    assert code == 1 and err.count("\n") == 1 and "not a folder" in err
    code, _, err = cli("search", "  ")
    assert code == 1 and "empty" in err


def test_uncached_weights_offline_give_a_clear_one_line_error(home: Path, tmp_path: Path):
    make_photo(tmp_path / "pics" / "a.jpg")
    proc = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--home", str(home), "--offline", "--model", "vit-b-32-256", "index", str(tmp_path / "pics")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "--weights FILE" in proc.stderr


def test_a_local_weights_file_defines_its_own_space(home: Path, tmp_path: Path, capsys):
    import open_clip
    import torch

    from engine.specs import load_model_list

    spec = load_model_list().get("tiny-test")
    open_clip.add_model_config(spec.config)
    torch.manual_seed(123)
    weights = tmp_path / "my-weights.pt"
    torch.save(open_clip.create_model("tiny-test").state_dict(), weights)
    make_photo(tmp_path / "pics" / "a.jpg")
    assert main.main(["--home", str(home), "--model", "tiny-test", "--weights", str(weights), "index", str(tmp_path / "pics")]) == 0
    capsys.readouterr()
    assert main.main(["--home", str(home), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["space"].startswith("tiny-test--file-") and status["photos"] == 1


def test_output_piped_into_a_reader_that_left_is_not_an_error(home: Path, indexed):
    # As `litphotos search ... | head -1`: the reader is gone before the results are printed.
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "--home", str(home), "--model", "tiny-test", "--offline",
         "search", "stripes", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err.decode()
    assert b"error" not in err


def test_watch_polling_makes_the_watcher_look_every_s_seconds(library, capsys):
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    from engine.commands.sync import make_watcher

    polling = make_watcher(main.build_parser().parse_args(["watch", "--polling", "0.5"]), library).observer_factory()
    assert isinstance(polling, PollingObserver) and polling.timeout == 0.5
    events = make_watcher(main.build_parser().parse_args(["watch"]), library).observer_factory()
    assert isinstance(events, Observer) and not isinstance(events, PollingObserver)
    with pytest.raises(SystemExit) as exc:
        main.main(["watch", "--polling", "0"])
    assert exc.value.code == 2 and "must be more than 0" in capsys.readouterr().err
