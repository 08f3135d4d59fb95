"""The default model's architecture with random weights: the speed of the real thing, no download.

The weights are made once (seeded) and saved under the bench cache, so that every process
loads a file exactly as it would load downloaded weights (which is what a cold start costs).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.cache import cached_dir
from engine.encoder import Encoder
from engine.specs import ModelSpec, load_model_list


def default_spec() -> ModelSpec:
    """The curated default (ViT-B-32-256) with its pretrained tag removed: never downloads."""
    models = load_model_list()
    return replace(models.get(models.default), pretrained=None, seed=0)


def weights_file(spec: ModelSpec) -> Path:
    """A cached file of seeded random weights for `spec`'s architecture."""

    def build(folder: Path) -> None:
        import torch

        encoder = Encoder(spec, folder, allow_download=False)
        torch.save(encoder.model.state_dict(), folder / "weights.pt")

    return cached_dir(f"weights-{spec.arch}-seed{spec.seed}-v1", build) / "weights.pt"


def tiny_spec() -> ModelSpec:
    """The tiny test architecture (smoke runs only: its numbers mean nothing)."""
    return load_model_list().get("tiny-test")


def bench_encoder(tiny: bool = False) -> Encoder:
    """An Encoder of the default architecture (or the tiny one) loading cached random weights."""
    spec = tiny_spec() if tiny else default_spec()
    path = weights_file(spec)
    return Encoder(spec, path.parent, weights_file=path, allow_download=False)
