"""The model facade: the image tower is locked, trimmed text encoding is exact, loading is lazy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.encoder import Encoder
from engine.images import decode_for_model
from engine.specs import UnknownModel, load_model_list
from tests.factories import make_photo


@pytest.fixture
def encoder(tmp_path: Path) -> Encoder:
    return Encoder(load_model_list().get("tiny-test"), tmp_path, allow_download=False)


def test_nothing_loads_until_first_use(encoder: Encoder):
    assert not encoder.loaded
    assert encoder.dim == 64  # from the architecture config, still without loading
    assert not encoder.loaded
    encoder.encode_texts(["a cat"])
    assert encoder.loaded


def test_image_tower_is_locked(encoder: Encoder):
    model = encoder.model
    assert not any(p.requires_grad for p in model.visual.parameters())
    assert not model.visual.training
    before = {k: v.clone() for k, v in model.visual.state_dict().items()}
    encoder.encode_images(torch.randn(2, 3, 64, 64))
    encoder.use_text_tower("v1", {"ln_final.weight": torch.full((64,), 2.0)})
    after = model.visual.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_trimmed_text_encoding_equals_open_clip_full_context(encoder: Encoder):
    texts = ["a dog", "a photo of a cat sleeping on a red sofa in the afternoon sun", "x"]
    ours = encoder.encode_texts(texts)
    assert encoder.tokenize(texts).shape[1] < 77
    full = encoder.model.encode_text(encoder._tokenizer(texts), normalize=True).detach().numpy()
    assert np.abs(ours - full).max() < 1e-5


def test_text_tower_versions_switch_and_return_to_base(encoder: Encoder):
    base = encoder.encode_texts(["Rex"])
    encoder.use_text_tower("v1", {"ln_final.bias": torch.full((64,), 0.5)})
    tuned = encoder.encode_texts(["Rex"])
    assert encoder.text_version == "v1" and not np.allclose(base, tuned)
    encoder.use_text_tower("base", None)
    assert np.allclose(encoder.encode_texts(["Rex"]), base)


def test_a_version_replacing_fewer_parameters_brings_the_others_back_to_base(encoder: Encoder):
    base = encoder.encode_texts(["Rex"])
    encoder.use_text_tower("v1", {"ln_final.bias": torch.full((64,), 0.5), "ln_final.weight": torch.full((64,), 2.0)})
    encoder.use_text_tower("v2", {"ln_final.bias": torch.full((64,), 0.5)})
    encoder.use_text_tower("v3", {"ln_final.bias": torch.zeros(64)})
    state = encoder.text_state()
    assert torch.equal(state["ln_final.weight"], encoder.base_text_state()["ln_final.weight"])  # v1's weight undone
    assert torch.equal(state["ln_final.bias"], torch.zeros(64))
    encoder.use_text_tower("base", None)
    assert np.array_equal(encoder.encode_texts(["Rex"]), base)


def test_random_weights_model_is_the_same_in_every_instance(tmp_path: Path):
    spec = load_model_list().get("tiny-test")
    a = Encoder(spec, tmp_path).encode_texts(["same"])
    b = Encoder(spec, tmp_path).encode_texts(["same"])
    assert np.array_equal(a, b)


def test_fast_decode_matches_open_clip_preprocess(encoder: Encoder, tmp_path: Path):
    """Our draft-decode path gives (nearly) the vector of open_clip's own full-image preprocess."""
    import open_clip
    from PIL import Image

    path = make_photo(tmp_path / "big.jpg", "yellow_rings", size=(1600, 1200))
    ours = encoder.encode_images(torch.from_numpy(decode_for_model(path, encoder.preprocess).pixels[None]))
    _, _, preprocess = open_clip.create_model_and_transforms("tiny-test")
    theirs = encoder.encode_images(preprocess(Image.open(path).convert("RGB"))[None])
    assert float((ours * theirs).sum()) > 0.99


def test_unknown_model_key_names_the_choices():
    with pytest.raises(UnknownModel, match="tiny-test"):
        load_model_list().get("no-such-model")
