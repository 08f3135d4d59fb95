"""The LiT/CLIP contrastive loss, written for captions that are shared and photos with many captions.

Plain CLIP loss assumes row i of the batch matches only column i. A person's captions break
that: "Rex" sits on forty photos, and one photo carries "Rex" and "Rex asleep on the sofa".
Treating those as negatives of each other would ask the model to tell apart things the
person called the same. So each direction is a softmax over all candidates whose target is
the *set* of positives: loss = -log(sum of exp(positive logits) / sum of exp(all logits)).

Image features are stored vectors, so every photo of the library (captioned or not) can be
a candidate in the caption -> photo direction at the cost of one matrix product.
"""

from __future__ import annotations

import torch


def multi_positive_nll(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Mean over rows with a positive of -log(softmax mass on that row's positives)."""
    has_positive = positives.any(dim=1)
    logits, positives = logits[has_positive], positives[has_positive]
    if logits.shape[0] == 0:
        return logits.new_zeros(())
    all_mass = torch.logsumexp(logits, dim=1)
    positive_mass = torch.logsumexp(logits.masked_fill(~positives, float("-inf")), dim=1)
    return (all_mass - positive_mass).mean()


def contrastive_loss(
    texts: torch.Tensor,
    images: torch.Tensor,
    positives: torch.Tensor,
    logit_scale: torch.Tensor,
) -> torch.Tensor:
    """Symmetric softmax contrastive loss with a learned temperature and several positives.

    texts:      [B, d] unit caption embeddings (the batch's distinct caption texts)
    images:     [P, d] unit photo vectors: the batch's captioned photos plus extra negatives
    positives:  [B, P] bool, True where caption b was given to photo p
    logit_scale: log of the inverse temperature (a trained scalar)

    In the photo -> caption direction only photos with a caption in the batch are queries:
    extra negatives have no positive there and drop out.
    """
    logits = logit_scale.exp() * texts @ images.T
    text_to_image = multi_positive_nll(logits, positives)
    image_to_text = multi_positive_nll(logits.T, positives.T)
    return (text_to_image + image_to_text) / 2


def distillation_loss(tuned: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Forgetting guard: mean (1 - cosine) between tuned and base embeddings of anchor prompts."""
    return (1 - (tuned * base).sum(dim=-1)).mean()
