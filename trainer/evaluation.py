"""What a run is judged by: held-out recall, and how far generic queries moved (drift)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

KS = (1, 5, 10)
TOP = 10  # anchor prompts: overlap of the base and tuned top results over the library


def recall_at(
    queries: torch.Tensor, images: torch.Tensor, targets: Sequence[int], also_right: Sequence[Sequence[int]], ks: Sequence[int] = KS
) -> dict[str, float]:
    """Recall@k of the right photo among all library photos, one query per (caption, photo).

    queries: [Q, d] caption embeddings; images: [N, d] library vectors; targets[q] is the
    photo the caption belongs to; also_right[q] lists other photos carrying the same words,
    which are neither hits nor mistakes (a caption shared by ten photos has ten right answers).
    """
    if not targets:
        return {f"recall@{k}": float("nan") for k in ks}
    scores = queries @ images.T  # [Q, N]
    target = torch.as_tensor(list(targets), device=scores.device)
    own = scores[torch.arange(len(targets), device=scores.device), target]
    ahead = scores > own[:, None]
    for q, others in enumerate(also_right):
        if others:
            ahead[q, list(others)] = False
    rank = ahead.sum(dim=1)  # photos that are wrongly above the right one
    return {f"recall@{k}": float((rank < k).float().mean()) for k in ks}


def drift(base: torch.Tensor, tuned: torch.Tensor, images: torch.Tensor, top: int = TOP) -> dict[str, float]:
    """How much generic prompts moved: mean cosine base vs tuned, overlap of their top results."""
    cosine = float((base * tuned).sum(dim=-1).mean())
    k = min(top, images.shape[0])
    if k == 0:
        return {"anchor_cosine": cosine, f"anchor_top{top}_overlap": float("nan")}
    base_top = (base @ images.T).topk(k, dim=1).indices
    tuned_top = (tuned @ images.T).topk(k, dim=1).indices
    overlap = [len(set(b.tolist()) & set(t.tolist())) / k for b, t in zip(base_top, tuned_top)]
    return {"anchor_cosine": cosine, f"anchor_top{top}_overlap": sum(overlap) / len(overlap)}


def held_out_score(metrics: dict[str, float]) -> float:
    """One number to choose the interpolation weight by: mean recall@1/5/10."""
    values = [metrics[f"recall@{k}"] for k in KS]
    return sum(values) / len(values)
