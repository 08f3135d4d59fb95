"""The trainer's command line, driven in-process as `python main.py ...` would be."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

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
        if ctx._library is not None:
            ctx._library.close()
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
