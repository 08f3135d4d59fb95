"""Training: one LiT step of ours against the plain text-tower step, and a whole 300-caption run.

Ours is the trainer's own step (`trainer.train.train_step`): the lower blocks are frozen and
their outputs cached once per caption with padding trimmed, so a step runs only the top
`unlocked_blocks` blocks, the final norm and the projection, with the multi-positive loss
against stored photo vectors plus library negatives and the distillation guard. Plain is the
usual fine-tuning step: tokens at the full context length, every text-tower layer and
parameter trainable. Both take the same captions, candidates and anchor prompts, and share
the loss and the AdamW update (`trainer.train.optimize`).

The library is synthetic (clustered vectors written straight into a catalog, bench/homes.py)
and its captions are invented words given to the photos of a subject, so the held-out recall
says whether the words were learned. Random weights of the default architecture: the speed
of the real model, never a download.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.homes import synthetic_home
from bench.model import bench_encoder
from bench.rows import row
from bench.sizes import Sizes, sizes
from bench.timing import best_of, timed
from bench.vectors import ClusteredVectors
from engine.captions import add_captions
from engine.catalog import Catalog, load_vectors
from engine.encoder import Encoder
from engine.library import Library
from engine.paths import Paths
from engine.text_tower import block_count, encode
from trainer.train import (
    TextTowerCopy,
    TrainConfig,
    cache_lower,
    draw_candidates,
    embed_all,
    load_anchor_prompts,
    make_optimizer,
    optimize,
    train,
    train_step,
    unlock_top,
)

TARGET_VS_PLAIN = 5.0
MIN_SUBJECT = 5  # photos of a subject at least, so that some of them train and some are held out
# Captions of different lengths (5 to 12 tokens with start and end), one invented word each.
TEMPLATES = (
    "{w}",
    "a photo of {w}",
    "{w} asleep on the sofa",
    "{w} at the beach last summer",
    "my {w} with grandma at christmas",
    "{w} in the garden after the rain, looking at the camera",
)


def run(quick: bool) -> list[dict]:
    """Rows for the benchmark runner."""
    s = sizes(quick)
    encoder = bench_encoder(s.tiny)
    encoder.load()
    with tempfile.TemporaryDirectory() as tmp:
        library, texts = captioned_library(s, encoder, Path(tmp))
        try:
            step, plain_seconds = step_row(library, texts, s)
            return [step, run_row(library, plain_seconds)]
        finally:
            library.catalog.close()


def captioned_library(s: Sizes, encoder: Encoder, folder: Path) -> tuple[Library, dict[str, list[int]]]:
    """A private copy of a synthetic home with `s.train_captions` captions; returns it and text -> photo ids."""
    home = synthetic_home(s.train_photos, encoder, files=False)
    paths = Paths(folder / "home").ensure()
    # The cached home is shared with other runs: captions and saved text towers go into a copy.
    source, target = sqlite3.connect(home.paths.catalog), sqlite3.connect(paths.catalog)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    catalog = Catalog(paths.catalog)
    with catalog.reading() as session:
        photo_ids, vectors = load_vectors(session, encoder.space_id)
    # Captions follow the vectors' subjects (the clusters homes.py drew them from). Every photo
    # of a subject is captioned, smallest subjects first: a held-out photo then competes with
    # other subjects only, not with uncaptioned photos of its own, and its recall says whether
    # the word was learned.
    centres = ClusteredVectors(s.train_photos, encoder.dim, seed=0).centres
    subject = (vectors @ centres.T).argmax(axis=1)
    sizes_of = np.bincount(subject, minlength=len(centres))
    rng = np.random.default_rng(0)
    texts: dict[str, list[int]] = {}
    left = s.train_captions
    for k in np.argsort(sizes_of, kind="stable"):
        if sizes_of[k] < MIN_SUBJECT:
            continue
        word = "".join(rng.choice(list("bdfgklmnprstvz")) + rng.choice(list("aeiou")) for _ in range(3))
        members = photo_ids[subject == k][:left]
        for j, photo_id in enumerate(members.tolist()):
            texts.setdefault(TEMPLATES[j % len(TEMPLATES)].format(w=word), []).append(photo_id)
        left -= len(members)
        if left == 0:
            break
    for text, ids in texts.items():
        add_captions(catalog, ids, text)
    return Library(paths, catalog, encoder), texts


def step_row(library: Library, texts: dict[str, list[int]], s: Sizes) -> tuple[dict, float]:
    """Ours against plain on one batch; also returns the plain step's seconds (the run's baseline)."""
    config = TrainConfig()
    encoder = library.encoder
    clip = encoder.model
    with library.catalog.reading() as session:
        photo_ids, vectors = load_vectors(session, encoder.space_id)
    row_of = {int(pid): r for r, pid in enumerate(photo_ids)}
    images = torch.from_numpy(vectors)
    images = images / images.norm(dim=1, keepdim=True).clamp_min(1e-8)
    # The batch: distinct caption texts as the trainer draws them, its photos plus library negatives.
    batch_texts = sorted(texts)
    random.Random(config.seed).shuffle(batch_texts)
    batch_texts = batch_texts[: config.batch_size]
    photos_of_text = [[row_of[i] for i in texts[t]] for t in batch_texts]
    candidates, positives = draw_candidates(
        list(range(len(batch_texts))), photos_of_text, np.arange(len(photo_ids)), config.negatives, np.random.default_rng(config.seed), "cpu"
    )
    candidate_images = images[candidates]
    anchors = load_anchor_prompts()
    picks = random.Random(config.seed).sample(range(len(anchors)), min(config.distill_batch, len(anchors)))

    # Ours: set up as train() does; the caching is once per caption, not per step.
    tower = TextTowerCopy(clip, encoder.base_text_state())
    frozen, params = unlock_top(tower, config.unlocked_blocks)
    logit_scale = torch.nn.Parameter(clip.logit_scale.detach().clone().float(), requires_grad=config.learn_temperature)
    optimizer = make_optimizer(params, logit_scale, config)
    anchor_cached = cache_lower(tower, encoder.tokenize, anchors, frozen, "cpu")  # also warms up the blocks for the timing below
    cache_seconds, cached = timed(lambda: cache_lower(tower, encoder.tokenize, batch_texts, frozen, "cpu"))
    tower.eval()
    base_anchor = embed_all(tower, anchor_cached, frozen)[picks]
    tower.train()
    anchor_items = [anchor_cached[i] for i in picks]

    def ours() -> float:
        return train_step(tower, frozen, optimizer, logit_scale, cached, candidate_images, positives, anchor_items, base_anchor, config.distill_weight)

    # Plain: the whole text tower trainable, every caption padded to the full context.
    plain = TextTowerCopy(clip, encoder.base_text_state())
    for p in plain.parameters():
        p.requires_grad_(True)
    plain_scale = torch.nn.Parameter(clip.logit_scale.detach().clone().float(), requires_grad=config.learn_temperature)
    plain_optimizer = make_optimizer(list(plain.parameters()), plain_scale, config)
    context = plain.positional_embedding.shape[0]

    def full(prompts: list[str]) -> torch.Tensor:
        tokens = encoder.tokenize(prompts)  # trimmed; zero padding back to the context is the tokenizer's own output
        return F.pad(tokens, (0, context - tokens.shape[1]))

    tokens, anchor_tokens = full(batch_texts), full([anchors[i] for i in picks])
    plain.train()

    def plain_step() -> float:
        text_vecs, tuned_anchor = encode(plain, tokens), encode(plain, anchor_tokens)
        return optimize(plain_optimizer, plain_scale, text_vecs, candidate_images, positives, tuned_anchor, base_anchor, config.distill_weight)

    ours()  # warm-up: the first AdamW step allocates its state
    ours_seconds = best_of(s.train_repeats, ours)
    plain_step()
    plain_seconds = best_of(s.train_plain_repeats, plain_step)
    ours_trained = sum(p.numel() for p in params) + 1
    plain_trained = sum(p.numel() for p in plain.parameters()) + 1
    ours_length = max(item.tokens.shape[0] for item in cached + anchor_items)
    result = row(
        "train step: ours vs plain", ours_seconds * 1000, plain_seconds * 1000, "ms", higher_is_better=False,
        target=f">= {TARGET_VS_PLAIN:.0f}x", met=None if s.tiny else plain_seconds / ours_seconds >= TARGET_VS_PLAIN,
        note=f"same batch: {len(batch_texts)} captions x {len(candidates)} candidate photos ({len(candidates) - int(positives.any(0).sum())} library negatives) "
        f"+ {len(picks)} anchor prompts, AdamW; a warm-up step, then best of {s.train_repeats} (ours) and {s.train_plain_repeats} (plain). "
        f"Ours (trainer.train.train_step): top {block_count(tower) - frozen} of {block_count(tower)} blocks + final norm + projection, "
        f"{ours_trained / 1e6:.1f}M trained params, cached lower-block outputs trimmed to at most {ours_length} tokens "
        f"(caching the {len(batch_texts)} captions once took {cache_seconds * 1000:.0f} ms). "
        f"Plain: all {block_count(plain)} blocks and every text-tower param trainable ({plain_trained / 1e6:.1f}M), {context}-token context; "
        f"same loss and update (trainer.train.optimize)",
    )
    return result, plain_seconds


def run_row(library: Library, plain_seconds: float) -> dict:
    """A whole `train()` run with the default config, evaluation before and after included."""
    config = TrainConfig()
    steps_started = steps_ended = 0.0
    started = time.perf_counter()
    for event in train(library, config):
        if event.phase == "training" and event.step == 1:
            steps_started = time.perf_counter()
        if event.phase == "training" and event.step == event.total:
            steps_ended = time.perf_counter()
    seconds = time.perf_counter() - started
    result = event.result  # the last event carries it
    counts = result.counts
    per_step = (steps_ended - steps_started) / max(result.steps - 1, 1)
    estimate = result.steps * plain_seconds
    return row(
        f"train run, {counts['captions']} captions", seconds, estimate, "s", higher_is_better=False,
        note=f"trainer.train.train() on {result.device}, default TrainConfig, model already loaded: {result.steps} steps over {counts['train_texts']} caption texts "
        f"({counts['train_captions']} training + {counts['held_out_captions']} held-out captions), {counts['photos']} photos; "
        f"includes caching, evaluation before/after, choosing alpha ({result.alpha}) and saving; the steps took {per_step * 1000:.0f} ms each. "
        f"Held-out recall@1/5/10 among all photos {_recalls(result.before)} -> {_recalls(result.after)}. "
        f"Baseline: an estimate, {result.steps} steps x the plain step above, steps only (a plain run would also pay for its evaluation)",
    )


def _recalls(metrics: dict[str, float]) -> str:
    return "/".join(f"{metrics[f'recall@{k}']:.2f}" for k in (1, 5, 10))


if __name__ == "__main__":
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(r)
