"""Custom categories over the stored vectors: prompts, examples, thresholds, pins, recomputation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import select

from engine.catalog import Caption, CategoryPin
from engine.categories import (
    UNSORTED,
    Categories,
    CategoryDraft,
    CategoryError,
    suggest_threshold,
    unit,
)
from tests.conftest import run_all
from tests.factories import make_library, make_photo


@pytest.fixture
def photos(library, tmp_path: Path) -> dict[str, list[Path]]:
    made = make_library(tmp_path / "pics", per_concept=3, size=(96, 72))
    run_all(library.index_folders([tmp_path / "pics"]))
    return made


@pytest.fixture
def cats(library, photos) -> Categories:
    return Categories(library)


def row_of(assignment, library, path: Path) -> int:
    with library.catalog.reading() as s:
        from engine.catalog import Photo

        photo_id = s.scalar(select(Photo.id).where(Photo.path == str(path)))
    return int(np.searchsorted(assignment.photo_ids, photo_id))


def test_prompts_are_ensembled_over_templates_and_scored_against_every_photo(cats, library, photos):
    cats.add(CategoryDraft("stripes", prompts=("red stripes", "striped fabric")))
    a = cats.assignment()
    assert len(a.photo_ids) == 12 and a.names == ["stripes"]
    # CLIP's ensemble: unit mean of the unit text vectors of every prompt in every template.
    texts = [t.format(p) for p in ("red stripes", "striped fabric") for t in cats.templates]
    expected = unit(library.encoder.encode_texts(texts).mean(axis=0))
    with library.catalog.reading() as s:
        from engine.catalog import load_vectors

        ids, vectors = load_vectors(s, library.space_id)
    np.testing.assert_allclose(a.scores[:, 0], unit(vectors) @ expected, atol=1e-4)
    assert sum(a.counts().values()) == 12
    assert cats.assignment() is a  # nothing changed: served from the cache


def test_examples_pull_photos_of_their_kind_into_the_category(cats, library, photos):
    everything = CategoryDraft("alpha", threshold=-1.0)
    cats.add(everything)
    cats.add(CategoryDraft("beta", threshold=-1.0))
    before = cats.assignment()
    red_rows = [row_of(before, library, p) for p in photos["red_stripes"]]
    blue_rows = [row_of(before, library, p) for p in photos["blue_checks"]]

    # Two of three red photos teach alpha, two of three blue ones teach beta.
    cats.update("alpha", CategoryDraft("alpha", examples=tuple(map(str, photos["red_stripes"][:2])), threshold=-1.0))
    cats.update("beta", CategoryDraft("beta", examples=tuple(map(str, photos["blue_checks"][:2])), threshold=-1.0))
    after = cats.assignment()
    assert after is not before
    alpha, beta = after.index_of("alpha"), after.index_of("beta")
    # The third photo of each kind, never shown, follows its kind.
    assert [after.category_of(int(after.photo_ids[r])) for r in red_rows] == ["alpha"] * 3
    assert [after.category_of(int(after.photo_ids[r])) for r in blue_rows] == ["beta"] * 3
    assert all(after.scores[r, alpha] > before.scores[r, alpha] + 0.05 for r in red_rows)
    assert all(after.scores[r, alpha] - after.scores[r, beta] > 0 for r in red_rows)


def test_negative_examples_push_photos_of_their_kind_away(cats, library, photos):
    cats.add(CategoryDraft("things", prompts=("things",)))
    before = cats.assignment()
    green = [row_of(before, library, p) for p in photos["green_noise"]]
    others = [r for r in range(12) if r not in green]
    cats.update("things", CategoryDraft("things", negatives=(str(photos["green_noise"][0]),)))
    after = cats.assignment()
    drop = before.scores[:, 0] - after.scores[:, 0]
    # Relative to the rest of the library, green photos lost ground.
    assert drop[green].mean() > drop[others].mean() + 0.05
    assert after.scores[green, 0].max() < after.scores[others, 0].max()


def test_threshold_decides_between_category_and_unsorted(cats, photos):
    cats.add(CategoryDraft("strict", threshold=1.0))
    a = cats.assignment()
    assert a.counts() == {"strict": 0, UNSORTED: 12}
    assert len(a.members(UNSORTED)) == 12
    cats.update("strict", CategoryDraft("strict", threshold=-1.0))
    assert cats.assignment().counts() == {"strict": 12, UNSORTED: 0}
    cats.update("strict", CategoryDraft("strict", threshold=None))  # automatic
    a = cats.assignment()
    assert a.thresholds[0] == pytest.approx(suggest_threshold(a.scores[:, 0]))
    assert a.counts()["strict"] == int((a.scores[:, 0] >= a.thresholds[0]).sum())
    assert cats.get("strict").threshold is None


def test_best_single_puts_each_photo_once_and_multi_label_in_every_category_it_passes(cats, photos):
    cats.add(CategoryDraft("one", threshold=-1.0))
    cats.add(CategoryDraft("two", threshold=-1.0))
    a = cats.assignment()
    single = a.counts()
    assert single["one"] + single["two"] == 12 and single[UNSORTED] == 0
    assert a.counts(multi=True) == {"one": 12, "two": 12, UNSORTED: 0}
    groups = cats.groups(multi=False)
    seen = [path for members in groups.values() for _, path, _ in members]
    assert sorted(seen) == sorted(str(p) for ps in photos.values() for p in ps)
    scores = [score for _, _, score in groups["one"]]
    assert scores == sorted(scores, reverse=True)


def test_suggested_threshold_finds_the_group_that_stands_out():
    rng = np.random.default_rng(0)
    # A big second group: the valley between the two.
    two = np.concatenate([rng.normal(0.20, 0.01, 700), rng.normal(0.26, 0.01, 300)])
    assert 0.22 < suggest_threshold(two) < 0.245
    # A small cluster (3%): most of it, and almost nothing of the bulk.
    bulk, cluster = rng.normal(0.20, 0.02, 9700), rng.normal(0.32, 0.02, 300)
    t = suggest_threshold(np.concatenate([bulk, cluster]))
    assert (cluster >= t).mean() > 0.8 and (bulk >= t).mean() < 0.01
    # Nothing stands out: almost nothing is caught.
    one = rng.normal(0.20, 0.02, 10000)
    assert (one >= suggest_threshold(one)).mean() < 0.01


def test_pins_and_excludes_win_and_survive_recomputation(cats, library, photos, tmp_path: Path):
    cats.add(CategoryDraft("alpha", examples=tuple(map(str, photos["red_stripes"])), threshold=-1.0))
    cats.add(CategoryDraft("beta", examples=tuple(map(str, photos["blue_checks"])), threshold=-1.0))
    a = cats.assignment()
    blue_photo, red_photo = photos["blue_checks"][0], photos["red_stripes"][0]
    blue_id = int(a.photo_ids[row_of(a, library, blue_photo)])
    red_id = int(a.photo_ids[row_of(a, library, red_photo)])
    assert a.category_of(blue_id) == "beta" and a.category_of(red_id) == "alpha"

    cats.pin("alpha", [str(blue_photo)])
    cats.exclude("alpha", [red_id])
    a = cats.assignment()
    assert a.category_of(blue_id) == "alpha" and a.category_of(red_id) == "beta"
    assert red_id not in {m.photo_id for m in a.members("alpha", multi=True)}

    # Recompute for every reason there is: a category edit, new photos, another text tower.
    cats.update("beta", CategoryDraft("beta", prompts=("blue checks",), examples=tuple(map(str, photos["blue_checks"])), threshold=-1.0))
    make_photo(tmp_path / "pics" / "new" / "late.jpg", "blue_checks", seed=77, size=(96, 72))
    run_all(library.index_folders())
    perturb_text_tower(library, "v-pins")
    a = cats.assignment()
    assert len(a.photo_ids) == 13
    assert a.category_of(blue_id) == "alpha" and a.category_of(red_id) == "beta"

    # Stored for the trainer: the pin as a correction and as a caption in the category's words.
    with library.catalog.reading() as s:
        rows = set(s.execute(select(CategoryPin.photo_id, CategoryPin.pinned)).all())
        captions = s.execute(select(Caption.photo_id, Caption.text).where(Caption.source == "category")).all()
    assert rows == {(blue_id, True), (red_id, False)}
    assert captions == [(blue_id, "alpha")]

    cats.clear("alpha", [blue_id, red_id])
    a = cats.assignment()
    assert a.category_of(blue_id) == "beta" and a.category_of(red_id) == "alpha"


def perturb_text_tower(library, version: str, scale: float = 0.5) -> None:
    """Activate a text-tower version whose projection differs from the base one."""
    state = library.encoder.text_state()
    generator = torch.Generator().manual_seed(1)
    params = {"text_projection": state["text_projection"] + scale * torch.randn(state["text_projection"].shape, generator=generator)}
    library.encoder.use_text_tower(version, params)


def test_a_text_tower_change_recomputes_assignments_by_itself(cats, library, photos):
    cats.add(CategoryDraft("stripes", prompts=("stripes",)))
    cats.add(CategoryDraft("checks", prompts=("checks",)))
    base = cats.assignment()
    perturb_text_tower(library, "v-test")
    tuned = cats.assignment()
    assert tuned.key[2] == "v-test" and tuned is not base
    assert not np.allclose(tuned.scores, base.scores, atol=1e-3)
    # The new scores are those of the new tower (the text cache did not serve stale vectors).
    texts = [t.format("stripes") for t in cats.templates]
    expected = unit(library.encoder.encode_texts(texts).mean(axis=0))
    np.testing.assert_allclose(tuned.scores[:, tuned.index_of("stripes")], base_vectors(cats) @ expected, atol=1e-4)
    library.encoder.use_text_tower("base", None)
    np.testing.assert_allclose(cats.assignment().scores, base.scores, atol=1e-5)


def base_vectors(cats: Categories) -> np.ndarray:
    return cats._library_vectors(cats.state_key())[1]


def test_bad_requests_say_why_and_change_nothing(cats, photos, tmp_path: Path):
    cats.add(CategoryDraft("cats"))
    outside = make_photo(tmp_path / "outside.jpg", "red_stripes", size=(96, 72))
    for draft, message in (
        (CategoryDraft("Cats"), "already exists"),
        (CategoryDraft("unsorted"), "bucket"),
        (CategoryDraft("   "), "needs a name"),
        (CategoryDraft("x", threshold=1.5), "between -1 and 1"),
        (CategoryDraft("x", examples=(str(outside),)), "index it first"),
        (CategoryDraft("x", examples=(str(photos["red_stripes"][0]),), negatives=(str(photos["red_stripes"][0]),)), "both"),
    ):
        with pytest.raises(CategoryError, match=message):
            cats.add(draft)
    with pytest.raises(CategoryError, match="no category"):
        cats.remove("dogs")
    assert [c.name for c in cats.all()] == ["cats"]


def test_preview_shows_what_an_unsaved_category_would_catch(cats, photos):
    draft = CategoryDraft("reds", examples=tuple(map(str, photos["red_stripes"][:2])))
    preview = cats.preview(draft)
    assert preview.total == 12 and cats.all() == []
    assert {m.photo_id for m in preview.top} and preview.caught == len(preview.top)
    assert all(m.score >= preview.threshold for m in preview.top)
    near = sorted(abs(m.score - preview.threshold) for m in preview.borderline)
    assert len(preview.borderline) == 12 and near == sorted(near)


def test_command_line_add_list_sort_remove(home, photos, library, capsys):
    from main import main

    base = ["--home", str(home), "--model", "tiny-test", "--offline"]
    red = [str(p) for p in photos["red_stripes"][:2]]
    assert main([*base, "categories", "add", "reds", "--prompt", "red stripes", "--example", red[0], "--example", red[1], "--threshold", "-1"]) == 0
    assert main([*base, "categories", "add", "blues", "--example", str(photos["blue_checks"][0]), "--threshold", "-1"]) == 0
    capsys.readouterr()
    assert main([*base, "categories", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in listed] == ["blues", "reds"]
    assert listed[1]["prompts"] == ["red stripes"] and listed[1]["examples"] == sorted(red)

    assert main([*base, "sort", "--json"]) == 0
    sorted_out = json.loads(capsys.readouterr().out)
    assert set(sorted_out) == {"reds", "blues", UNSORTED}
    paths = [entry["path"] for entries in sorted_out.values() for entry in entries]
    assert sorted(paths) == sorted(str(p) for ps in photos.values() for p in ps)
    assert {str(p) for p in photos["red_stripes"]} <= {e["path"] for e in sorted_out["reds"]}

    assert main([*base, "categories", "add", "reds"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*base, "categories", "remove", "reds"]) == 0
    capsys.readouterr()
    assert main([*base, "sort", "--json", "--multi"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"blues", UNSORTED}


def test_an_image_model_switch_scores_categories_with_the_new_models_text_tower(cats, library, photos):
    from engine.spaces import ModelChoice

    cats.add(CategoryDraft("stripes", prompts=("stripes",)))
    cats.add(CategoryDraft("checks", prompts=("checks",)))
    before = cats.assignment()
    assert library.request_model(ModelChoice("tiny-test-b")) == "building"
    list(library.build_space())
    assert library.space_id == "tiny-test-b--random-seed1" and library.space_id != before.key[0]
    after = cats.assignment()
    fresh = Categories(library).assignment()
    assert after.key == fresh.key and after.key[0] == library.space_id
    # Scores of the new space's photo vectors against the new model's text vectors, the same
    # as a Categories made after the switch (the old tower's vectors were not kept).
    np.testing.assert_allclose(after.scores, fresh.scores, atol=1e-5)
    assert not np.allclose(after.scores, before.scores, atol=1e-3)
