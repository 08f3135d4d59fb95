"""Training on captions: new words learned, generic words kept, image vectors untouched."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sqlalchemy import select

from engine.captions import add_captions, is_held_out
from engine.catalog import Photo
from engine.towers import TextTowers
from tests.conftest import run_all
from tests.factories import make_library
from tests.trainer.conftest import Taught, stored_vectors
from engine.text_tower import block_count, encode
from trainer import train as train_module
from trainer.evaluation import held_out_score
from trainer.train import (
    TextTowerCopy,
    TrainConfig,
    TrainError,
    TrainProgress,
    cache_lower,
    choose_interpolation,
    embed_all,
    lr_at,
    train,
    unlock_top,
)

# The tiny random model learns fast; a larger learning rate keeps the tests short.
FAST = TrainConfig(lr=1e-3, min_steps=60, epochs=1)


def run(library, config: TrainConfig = FAST, cancel: threading.Event | None = None, activate: bool = True) -> tuple[list[TrainProgress], object]:  # noqa: ANN001
    events = list(train(library, config, cancel, activate=activate))
    return events, events[-1].result


def held_out_first(taught: Taught, concept: str) -> float:
    """Share of the concept's held-out photos that the search ranks above every photo of other concepts."""
    results = taught.library.search(taught.prompt(concept), limit=100)
    order = [r.id for r in results]
    others = [i for c, ids in taught.ids.items() if c != concept for i in ids]
    first_other = min(order.index(i) for i in others)
    return sum(order.index(h) < first_other for h in taught.held_out[concept]) / len(taught.held_out[concept])


def test_invented_words_retrieve_held_out_photos_of_their_concept(taught: Taught):
    before = {c: held_out_first(taught, c) for c in taught.ids}
    events, result = run(taught.library)
    assert result.activated and taught.library.encoder.text_version == result.version
    after = {c: held_out_first(taught, c) for c in taught.ids}
    # Chance of a held-out photo beating all 30 photos of other concepts is about 1 in 31.
    assert np.mean(list(after.values())) >= 0.9, after
    assert np.mean(list(after.values())) >= np.mean(list(before.values())) + 0.5, (before, after)
    # Recall@5 among all 40 photos (chance about 5 in 32); the uncaptioned photo of the concept may come first.
    assert result.after["recall@5"] >= 0.9 and result.before["recall@5"] <= 0.5
    # Shared captions did not fight each other: every training photo of the word beats every other concept.
    for concept, photo_ids in taught.captioned.items():
        scores = {r.id: r.score for r in taught.library.search(taught.prompt(concept), limit=100)}
        others = max(scores[i] for c, ids in taught.ids.items() if c != concept for i in ids)
        assert min(scores[i] for i in photo_ids) > others, concept
    losses = [e.loss for e in events if e.phase == "training"]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    assert [e.step for e in events if e.phase == "training"] == list(range(1, len(losses) + 1))
    assert [e for e in events if e.phase == "training"][-1].eta_s == pytest.approx(0.0, abs=1e-6)


def test_guard_keeps_generic_prompts_closer_to_the_base_tower(taught: Taught):
    _, guarded = run(taught.library, activate=False)
    _, unguarded = run(taught.library, TrainConfig(lr=1e-3, min_steps=60, epochs=1, guard=False), activate=False)
    assert guarded.after["anchor_cosine"] > unguarded.after["anchor_cosine"] + 0.1
    assert guarded.after["anchor_top10_overlap"] > unguarded.after["anchor_top10_overlap"]
    # ...and both still learned the words.
    assert guarded.after["recall@5"] >= 0.9 and unguarded.after["recall@5"] >= 0.9
    assert unguarded.alpha == 1.0 and 0 < guarded.alpha <= 1.0


def test_training_and_switching_leave_stored_vectors_byte_for_byte_unchanged(taught: Taught, tmp_path):
    lib = taught.library
    probe = tmp_path / "pics" / "blue_checks" / "blue_checks_0.jpg"
    before, similar_before = stored_vectors(lib), [(r.id, r.score) for r in lib.similar(probe, limit=40)]
    _, first = run(lib)
    run(lib)
    towers = TextTowers.of(lib)
    towers.use("base")
    towers.rollback()
    towers.use(first.version)
    assert stored_vectors(lib) == before
    assert [(r.id, r.score) for r in lib.similar(probe, limit=40)] == similar_before


def test_cancel_midway_keeps_the_active_version(taught: Taught):
    lib = taught.library
    _, first = run(lib)
    probe = lib.encoder.encode_texts(["a photo of zorblax", "a photo of a dog"])
    cancel = threading.Event()
    events = []
    for event in train(lib, FAST, cancel):
        events.append(event)
        if event.phase == "training" and event.step == 5:
            cancel.set()
    result = events[-1].result
    assert result.cancelled and result.version is None and not result.activated
    assert max(e.step for e in events if e.phase == "training") == 5
    towers = TextTowers.of(lib)
    assert [v.id for v in towers.versions()] == [first.version]
    assert towers.active() == first.version == lib.encoder.text_version
    assert np.array_equal(lib.encoder.encode_texts(["a photo of zorblax", "a photo of a dog"]), probe)


def test_a_failed_run_keeps_the_active_version(taught: Taught, monkeypatch: pytest.MonkeyPatch):
    lib = taught.library
    _, first = run(lib)

    def broken_save(self, checkpoint, record):  # noqa: ANN001, ANN202 - the disk fills up at the end
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TextTowers, "save", broken_save)
    with pytest.raises(OSError):
        run(lib)
    assert TextTowers.of(lib).active() == first.version == lib.encoder.text_version


def test_no_captions_is_a_clear_error(library, tmp_path):
    from tests.conftest import run_all
    from tests.factories import make_library

    make_library(tmp_path / "pics", per_concept=1, size=(64, 48))
    run_all(library.index_folders([tmp_path / "pics"]))
    with pytest.raises(TrainError, match="caption some photos"):
        run(library)


def test_uncaptioned_photos_serve_as_extra_negatives(library, tmp_path):
    """One word on one concept, every other photo uncaptioned: only they can teach what the word is not."""
    photos = make_library(tmp_path / "pics", per_concept=10, size=(96, 72))
    run_all(library.index_folders([tmp_path / "pics"]))
    with library.catalog.reading() as s:
        id_of = {path: pid for pid, path in s.execute(select(Photo.id, Photo.path))}
    ids = {c: [id_of[str(p)] for p in ps] for c, ps in photos.items()}
    word = [i for i in ids["red_stripes"] if not is_held_out(i)]
    add_captions(library.catalog, word, "a photo of snarfwhistle")
    others = [i for c, concept_ids in ids.items() if c != "red_stripes" for i in concept_ids]

    def beaten() -> int:
        """Uncaptioned photos of other concepts that rank above some photo carrying the word."""
        scores = {r.id: r.score for r in library.search("a photo of snarfwhistle", limit=100)}
        return sum(scores[i] >= min(scores[j] for j in word) for i in others)

    assert beaten() > 0  # the base tower does not already know the word
    _, result = run(library)
    # With a single caption text there is no other caption to contrast with: without the
    # uncaptioned photos as negatives the loss is zero and nothing would be learned.
    assert beaten() == 0, result.as_dict()
    assert result.counts["photos"] == 40 and result.counts["captioned_photos"] == len(word)


def test_lr_schedule_warms_up_then_decays():
    config = TrainConfig(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    rates = [lr_at(s, 100, config) for s in range(100)]
    assert rates[0] < rates[5] < rates[9] <= 1.0
    assert rates[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert rates[-1] == pytest.approx(0.1, abs=0.01)


def test_a_word_none_of_whose_photos_is_held_out_is_still_learned(library, tmp_path):
    # The interpolation weight is chosen on the held-out split; a word whose photos all fall in
    # the training split is invisible there, and must not be left half-learned because of it.
    from sqlalchemy import select

    from engine.captions import is_held_out
    from engine.catalog import Photo
    from tests.conftest import run_all
    from tests.factories import make_library

    photos = make_library(tmp_path / "pics", per_concept=3)
    run_all(library.index_folders([tmp_path / "pics"]))
    with library.catalog.reading() as s:
        id_of = {path: pid for pid, path in s.execute(select(Photo.id, Photo.path))}
    ids = {c: [id_of[str(p)] for p in ps] for c, ps in photos.items()}
    rex = [i for i in ids["red_stripes"] if not is_held_out(i)][:3]
    add_captions(library.catalog, rex, "zorblax")
    add_captions(library.catalog, ids["blue_checks"], "quendle")
    assert any(is_held_out(i) for i in ids["blue_checks"]), [is_held_out(i) for c in ids.values() for i in c]

    _, result = run(library, TrainConfig())
    assert result.activated
    scores = {r.id: r.score for r in library.search("zorblax", limit=100)}
    others = [i for c, concept_ids in ids.items() if c != "red_stripes" for i in concept_ids]
    assert min(scores[i] for i in rex) > max(scores[i] for i in others), result.as_dict()


# -- the claims the trainer's speed and safety rest on --------------------------------------
def test_cached_lower_blocks_then_the_top_give_the_whole_text_towers_embeddings(library):
    encoder = library.encoder
    clip = encoder.model
    tower = TextTowerCopy(clip, encoder.base_text_state()).eval()
    texts = ["dog", "a photo of zorblax on the sofa at night", "a red barn", "Rex asleep by the cabin fire in the winter of 2019", "the beach"]
    tokens = encoder.tokenize(texts)
    lengths = [int(n) for n in (tokens != 0).sum(dim=1)]
    assert len(set(lengths)) == len(texts)
    with torch.no_grad():
        whole = encode(clip, tokens)
        context = clip.positional_embedding.shape[0]  # open_clip's own pass over the padded 77-token context
        reference = clip.encode_text(F.pad(tokens, (0, context - tokens.shape[1])), normalize=True)
    torch.testing.assert_close(whole, reference, atol=1e-5, rtol=0)
    order = [3, 0, 4, 1, 2]  # batched again in another order: other padding than when cached
    for frozen in range(block_count(tower) + 1):
        cached = cache_lower(tower, encoder.tokenize, texts, frozen, "cpu", chunk=2)  # each chunk trimmed to its own longest
        assert [c.tokens.shape[0] for c in cached] == lengths
        top = embed_all(tower, [cached[i] for i in order], frozen)
        torch.testing.assert_close(top, whole[order], atol=1e-5, rtol=0, msg=f"{frozen} frozen blocks")


def spy_on_the_trained_tower(monkeypatch: pytest.MonkeyPatch) -> list:
    """The private tower copies `train` makes, as they are when the run ends."""
    seen = []

    def spy(tower, unlocked_blocks):  # noqa: ANN001, ANN202
        seen.append(tower)
        return unlock_top(tower, unlocked_blocks)

    monkeypatch.setattr(train_module, "unlock_top", spy)
    return seen


def test_only_the_top_blocks_the_final_norm_and_the_projection_train(taught: Taught, monkeypatch: pytest.MonkeyPatch):
    lib = taught.library
    base = {k: v.clone() for k, v in lib.encoder.base_text_state().items()}
    seen = spy_on_the_trained_tower(monkeypatch)
    _, result = run(lib)
    (tower,) = seen
    blocks = block_count(tower)
    top = (*(f"transformer.resblocks.{b}." for b in range(blocks - FAST.unlocked_blocks, blocks)), "ln_final.", "text_projection")
    expected = {n for n, _ in tower.named_parameters() if n.startswith(top)}
    changed = {n for n, p in tower.named_parameters() if not torch.equal(p.detach(), base[n])}
    with_gradient = {n for n, p in tower.named_parameters() if p.grad is not None and bool(p.grad.any())}
    assert 0 < result.alpha and expected and changed == expected and with_gradient == expected
    assert {"token_embedding.weight", "positional_embedding", "transformer.resblocks.0.attn.in_proj_weight"} <= set(base) - changed
    # The activated version: everything below the top blocks is the base tower's, bit for bit.
    live = lib.encoder.text_state()
    assert {n for n in live if not torch.equal(live[n], base[n])} == expected


def test_the_temperature_is_learned(taught: Taught):
    lib = taught.library
    base = float(lib.encoder.model.logit_scale)
    _, learned = run(lib, activate=False)
    _, fixed = run(lib, dataclasses.replace(FAST, learn_temperature=False), activate=False)
    towers = TextTowers.of(lib)
    assert abs(towers.load(learned.version)["logit_scale"] - base) > 0.01
    assert towers.load(fixed.version)["logit_scale"] == base


def test_the_interpolation_weight_is_the_smallest_that_keeps_held_out_recall_then_fit():
    # Held-out recall peaks at 0.75; 0.5 is within tolerance of it and closer to the base tower.
    assert choose_interpolation([(0.25, 0.50, 1.0), (0.5, 0.80, 1.0), (0.75, 0.81, 1.0), (1.0, 0.79, 1.0)], 0.02) == 0.5
    # Order does not matter, and the tolerance is what lets 0.5 in.
    assert choose_interpolation([(1.0, 0.79, 1.0), (0.75, 0.81, 1.0), (0.5, 0.80, 1.0), (0.25, 0.50, 1.0)], 0.0) == 0.75
    # The same held-out recall everywhere (a word with no held-out photo): fit decides.
    assert choose_interpolation([(0.25, 0.9, 0.6), (0.5, 0.9, 0.9), (0.75, 0.9, 1.0), (1.0, 0.9, 1.0)], 0.02) == 0.75
    # Fit and held-out recall disagree (overfitting): held-out recall wins, fit breaks its tie.
    scored = [(0.25, 0.70, 0.80), (0.5, 0.90, 0.85), (0.75, 0.90, 0.95), (1.0, 0.70, 1.0)]
    assert choose_interpolation(scored, 0.02) == 0.75


def test_the_run_chooses_the_interpolation_weight_by_held_out_recall(taught: Taught, monkeypatch: pytest.MonkeyPatch):
    calls = []

    def spy(scored, tolerance):  # noqa: ANN001, ANN202
        calls.append((scored, choose_interpolation(scored, tolerance)))
        return calls[-1][1]

    monkeypatch.setattr(train_module, "choose_interpolation", spy)
    _, result = run(taught.library, activate=False)
    ((scored, chosen),) = calls
    held = {a: h for a, h, _ in scored}
    assert sorted(held) == sorted(FAST.interpolation) and result.alpha == chosen
    # The scores it chose by are the held-out split's recall (the unguarded weights are alpha 1).
    assert held[1.0] == pytest.approx(held_out_score(result.unguarded))
    assert held[chosen] == pytest.approx(held_out_score(result.after))
