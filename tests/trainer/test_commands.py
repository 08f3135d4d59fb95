"""The trainer's command line, driven in-process as `python main.py ...` would be."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

import main
from main import build_parser, compose
from engine.commands import Context
from tests.factories import make_library
from tests.trainer.conftest import WORDS


def cli(home: Path, *argv: str) -> tuple[int, str, str]:
    """Run one command against `home` with the tiny model; (exit code, stdout, stderr)."""
    args = build_parser().parse_args(["--home", str(home), "--model", "tiny-test", "--offline", *argv])
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(open_library=lambda: compose(args), stdout=out, stderr=err)
    try:
        code = int(args.handler(args, ctx) or 0)
    finally:
        ctx.close()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def indexed(home: Path, tmp_path: Path) -> dict[str, list[Path]]:
    photos = make_library(tmp_path / "pics", per_concept=6, size=(96, 72))
    assert cli(home, "index", str(tmp_path / "pics"))[0] == 0
    return photos


def test_caption_import_list_train_and_switch_from_the_command_line(home: Path, tmp_path: Path, indexed):
    red, blue = indexed["red_stripes"], indexed["blue_checks"]
    code, out, _ = cli(home, "caption", *map(str, red[:5]), "--text", f"a photo of {WORDS['red_stripes']}")
    assert code == 0 and "captioned 5 photos" in out

    csv_file = tmp_path / "captions.csv"
    csv_file.write_text("path,caption\n" + "".join(f"pics/blue_checks/{p.name},a photo of {WORDS['blue_checks']}\n" for p in blue[:5]) + "pics/missing.jpg,nothing\n")
    code, out, _ = cli(home, "captions", "import", str(csv_file), "--json")
    report = json.loads(out)
    assert code == 0 and report["added"] == 5 and report["unknown"] == ["pics/missing.jpg"]

    code, out, _ = cli(home, "captions", "list", "--json")
    listed = json.loads(out)
    assert {c["source"] for c in listed} == {"user", "import"} and len(listed) == 10
    assert {c["split"] for c in listed} <= {"train", "held-out"}

    code, out, err = cli(home, "train", "--epochs", "2", "--unlocked-blocks", "1", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["version"] and result["activated"] and not result["cancelled"]
    assert set(result["before"]) == set(result["after"]) >= {"recall@1", "recall@5", "recall@10", "anchor_cosine"}

    code, out, _ = cli(home, "towers", "list", "--json")
    towers = json.loads(out)
    assert towers["active"] == result["version"]
    assert [v["id"] for v in towers["versions"]] == [result["version"]]
    assert towers["versions"][0]["record"]["settings"]["unlocked_blocks"] == 1

    code, out, _ = cli(home, "status", "--json")
    assert json.loads(out)["text_tower"] == result["version"]  # remembered across processes

    assert cli(home, "towers", "use", "base")[1] == "text tower: base\n"
    assert json.loads(cli(home, "towers", "list", "--json")[1])["active"] == "base"
    assert cli(home, "towers", "rollback")[1] == f"text tower: {result['version']}\n"
    code, _, err = cli(home, "towers", "use", "nope")
    assert code == 1 and "no text-tower version" in err


def test_train_without_captions_says_what_to_do(home: Path, indexed):
    code, out, err = cli(home, "train")
    assert code == 1 and "caption some photos" in err and out == ""


def test_caption_of_a_file_outside_the_library_is_refused(home: Path, tmp_path: Path, indexed):
    stray = tmp_path / "stray.jpg"
    stray.write_bytes(b"")
    code, _, err = cli(home, "caption", str(stray), "--text", "Rex")
    assert code == 1 and "not in the library" in err
    assert json.loads(cli(home, "captions", "list", "--json")[1]) == []


@pytest.fixture
def shell(home: Path, capsys: pytest.CaptureFixture):
    """`main.main(argv)` in-process, as the installed command runs; (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main.main(["--home", str(home), "--model", "tiny-test", "--offline", *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def category_captions(shell) -> list[tuple[str, str]]:  # noqa: ANN001
    listed = json.loads(shell("captions", "list", "--json")[1])
    return [(Path(c["path"]).name, c["text"]) for c in listed if c["source"] == "category"]


def test_import_metadata_with_folder_names_and_categories(shell, indexed):
    red = indexed["red_stripes"]
    assert shell("categories", "add", "Rex", "--prompt", "a dog")[0] == 0
    assert shell("categories", "pin", "Rex", str(red[0]))[0] == 0
    assert category_captions(shell) == [(red[0].name, "a dog")]  # pinning captions the photo for the trainer

    code, out, err = shell("captions", "import-metadata", "--folder-names", "--categories")
    # 24 album captions; the pin's caption was already there: importing does not make a second one.
    assert code == 0 and out == "added 24 captions to 24 photos (1 already there)\n", err
    listed = json.loads(shell("captions", "list", "--json")[1])
    folders = {(Path(c["path"]).parent.name, c["text"]) for c in listed if c["source"] == "folder"}
    assert folders == {("red_stripes", "red stripes"), ("blue_checks", "blue checks"), ("green_noise", "green noise"), ("yellow_rings", "yellow rings")}
    assert category_captions(shell) == [(red[0].name, "a dog")]

    assert shell("captions", "import-metadata", "--folder-names", "--categories")[1] == "added 0 captions to 0 photos (25 already there)\n"
    assert shell("categories", "unpin", "Rex", str(red[0]))[0] == 0
    assert shell("captions", "import-metadata", "--categories")[0] == 0
    assert category_captions(shell) == []  # the undone pin trains nothing, whichever command made its caption


def caption_two_words(shell, indexed) -> None:  # noqa: ANN001
    for concept in ("red_stripes", "blue_checks"):
        code, _, err = shell("caption", *map(str, indexed[concept][:5]), "--text", f"a photo of {WORDS[concept]}")
        assert code == 0, err


METRIC = r"(recall@1|recall@5|recall@10|anchor_cosine|anchor_top10_overlap) (\d\.\d{3}|n/a)"


def metrics_of(line: str) -> dict[str, float | None]:
    return {k: (None if v == "n/a" else float(v)) for k, v in re.findall(METRIC, line)}


def test_plain_train_prints_held_out_recall_before_and_after(shell, indexed):
    caption_two_words(shell, indexed)
    code, out, err = shell("train", "--epochs", "2", "--unlocked-blocks", "1")
    assert code == 0, err
    lines = out.splitlines()
    version = re.fullmatch(r"version (\S+): (\d+) steps in [\d.]+s on cpu", lines[0]).group(1)
    assert lines[1].startswith("  before: ") and lines[2].startswith("  after:  ")
    before, after = metrics_of(lines[1]), metrics_of(lines[2])
    assert set(before) == set(after) == {"recall@1", "recall@5", "recall@10", "anchor_cosine", "anchor_top10_overlap"}
    assert before["anchor_cosine"] == 1.0  # the base tower measured against itself
    assert re.fullmatch(r"  interpolation weight [\d.]+ \(chosen by recall on \d+ held-out captions, then fit on the training ones\)", lines[3])
    assert lines[4:] == ["now active; `towers rollback` goes back"]
    # The printed numbers are the version's record, rounded for reading.
    record = json.loads(shell("towers", "list", "--json")[1])["versions"][0]["record"]
    assert json.loads(shell("towers", "list", "--json")[1])["active"] == version
    for printed, stored in ((before, record["before"]), (after, record["after"])):
        assert printed == {k: (None if v is None else pytest.approx(v, abs=5e-4)) for k, v in stored.items()}
    assert "choosing the interpolation weight" in err  # progress goes to stderr, out of the way of the result


def test_plain_towers_list_marks_the_active_version_newest_first(shell, indexed):
    code, out, _ = shell("towers", "list")
    assert code == 0 and out == "* base  (the pretrained text tower)\n"
    caption_two_words(shell, indexed)
    first = json.loads(shell("train", "--epochs", "1", "--unlocked-blocks", "1", "--json")[1])
    second = json.loads(shell("train", "--epochs", "1", "--unlocked-blocks", "1", "--no-activate", "--json")[1])
    lines = shell("towers", "list")[1].splitlines()
    assert lines[0] == "  base  (the pretrained text tower)"
    row = r"([ *]) (\S+)  \d{4}-\d\d-\d\d \d\d:\d\d  (.*)"
    rows = [re.fullmatch(row, line).groups() for line in lines[1:]]
    assert [(mark, version) for mark, version, _ in rows] == [(" ", second["version"]), ("*", first["version"])]
    assert metrics_of(rows[1][2]) == {k: pytest.approx(v, abs=5e-4) for k, v in first["after"].items()}
    shell("towers", "use", "base")
    assert shell("towers", "list")[1].splitlines()[0] == "* base  (the pretrained text tower)"
