"""The contrastive loss: shared captions and several captions per photo are not contradictions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from trainer.loss import contrastive_loss, distillation_loss, multi_positive_nll


def unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def test_a_caption_shared_by_two_photos_can_reach_zero_loss():
    photos = unit([1, 0, 0], [1, 0.01, 0], [0, 1, 0])  # two photos of Rex, one of something else
    caption = unit([1, 0, 0])
    positives = torch.tensor([[True, True, False]])
    scale = torch.tensor(math.log(100.0))
    loss = contrastive_loss(caption, photos, positives, scale)
    assert loss < 0.01
    # Read as plain CLIP (only the first photo is right), the same situation costs about log 2.
    diagonal = torch.tensor([[True, False, False]])
    assert contrastive_loss(caption, photos, diagonal, scale) > 0.3


def test_two_captions_of_one_photo_are_both_positives():
    photo = unit([0, 0, 1], [1, 0, 0])
    captions = unit([0, 0.05, 1], [0, -0.05, 1])  # "Rex" and "Rex asleep on the sofa"
    positives = torch.tensor([[True, False], [True, False]])
    assert contrastive_loss(captions, photo, positives, torch.tensor(math.log(100.0))) < 0.01


def test_gradient_pulls_a_shared_caption_toward_all_its_photos():
    photos = unit([1, 0, 0], [0, 1, 0], [0, 0, 1])
    caption = unit([0.2, 0.2, 1.0]).requires_grad_(True)
    positives = torch.tensor([[True, True, False]])
    contrastive_loss(caption, photos, positives, torch.tensor(1.0)).backward()
    step = -caption.grad[0]
    assert step @ photos[0] > 0 and step @ photos[1] > 0 and step @ photos[2] < 0


def test_photos_without_a_caption_in_the_batch_are_only_negatives():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    positives = torch.tensor([[True, False], [False, False]])
    # The second row has no positive: it is left out, not counted as a zero loss.
    assert torch.isclose(multi_positive_nll(logits, positives), torch.log1p(torch.exp(torch.tensor(-2.0))))


def test_distillation_is_zero_at_the_base_and_grows_with_distance():
    base = unit([1, 0], [0, 1])
    assert distillation_loss(base, base) < 1e-6
    assert distillation_loss(unit([1, 1], [0, 1]), base) > 0.1
