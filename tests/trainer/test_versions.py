"""Text-tower versions: switch, roll back, remembered when the library opens again."""

from __future__ import annotations

import numpy as np
import pytest

from engine.towers import BASE, TextTowers, TowerError
from tests.trainer.conftest import Taught
from tests.trainer.test_train import FAST, run

PROBE = ["a photo of zorblax", "a photo of a dog on the beach"]


def test_versions_switch_and_roll_back(taught: Taught):
    lib = taught.library
    towers = TextTowers.of(lib)
    base = lib.encoder.encode_texts(PROBE)
    _, first = run(lib)
    v1 = lib.encoder.encode_texts(PROBE)
    _, second = run(lib, FAST.__class__(lr=3e-3, min_steps=40, epochs=1))
    v2 = lib.encoder.encode_texts(PROBE)
    assert not np.allclose(v1, base) and not np.allclose(v2, v1)
    assert [v.id for v in towers.versions()] == [second.version, first.version]
    assert [v.active for v in towers.versions()] == [True, False]

    towers.use(BASE)
    assert np.array_equal(lib.encoder.encode_texts(PROBE), base) and lib.encoder.text_version == BASE
    towers.use(first.version)
    assert np.array_equal(lib.encoder.encode_texts(PROBE), v1)

    # Rollback walks back through what was active: first <- base <- second <- first <- base.
    assert towers.rollback() == BASE
    assert towers.rollback() == second.version
    assert np.array_equal(lib.encoder.encode_texts(PROBE), v2)
    assert towers.rollback() == first.version
    assert towers.rollback() == BASE
    with pytest.raises(TowerError, match="nothing to roll back"):
        towers.rollback()
    assert np.array_equal(lib.encoder.encode_texts(PROBE), base)


def test_active_version_is_applied_when_the_library_opens_again(taught: Taught, make_library_obj):
    lib = taught.library
    _, result = run(lib)
    tuned = lib.encoder.encode_texts(PROBE)
    lib.close()
    again = make_library_obj()
    TextTowers.of(again).apply_active()  # what main.py's compose does
    assert not again.encoder.loaded  # cheap: nothing loaded until a query needs the model
    assert again.encoder.text_version == result.version
    assert np.allclose(again.encoder.encode_texts(PROBE), tuned, atol=1e-6)


def test_a_version_record_says_what_it_was_trained_on(taught: Taught):
    _, result = run(taught.library)
    info = TextTowers.of(taught.library).get(result.version)
    record = info.record
    assert record["base_space"] == taught.library.space_id
    assert record["settings"]["unlocked_blocks"] == 2 and record["settings"]["lr"] == FAST.lr
    assert record["counts"]["train_captions"] + record["counts"]["held_out_captions"] == 36
    assert set(record["before"]) >= {"recall@1", "recall@5", "recall@10", "anchor_cosine", "anchor_top10_overlap"}
    # Only the unlocked blocks, the final norm and the projection are stored: a small file.
    assert all(n.startswith(("transformer.resblocks.2.", "transformer.resblocks.3.", "ln_final.", "text_projection")) for n in record["parameters"])
    checkpoint = TextTowers.of(taught.library).load(result.version)
    assert checkpoint["step"] == result.steps and set(checkpoint["params"]) == set(record["parameters"])


def test_unknown_version_is_a_clear_error_and_changes_nothing(taught: Taught):
    towers = TextTowers.of(taught.library)
    with pytest.raises(TowerError, match="no text-tower version"):
        towers.use("nope")
    assert towers.active() == BASE and taught.library.encoder.text_version == BASE


def test_a_lost_version_file_falls_back_to_the_base_tower(taught: Taught, make_library_obj):
    lib = taught.library
    base = lib.encoder.encode_texts(PROBE)
    _, result = run(lib)
    (lib.paths.towers / TextTowers.of(lib).get(result.version).file).unlink()
    lib.close()
    again = make_library_obj()
    TextTowers.of(again).apply_active()
    assert np.allclose(again.encoder.encode_texts(PROBE), base, atol=1e-6)
    assert again.encoder.text_version == BASE
