"""Teach the text tower a person's words (LiT: the image tower stays locked).

Reads top to bottom: config, data, model, learning-rate schedule, the loop, evaluation and
the forgetting guard, the checkpoint. `train()` is a generator of `TrainProgress` events
taking a cancel event, so the command line, tests and the app's worker drive it the same.

Why it is cheap:
- The image side is the catalog's stored vectors. No image is ever decoded, and every
  uncaptioned photo of the library is a free extra negative.
- Only the top `unlocked_blocks` blocks, the final norm and the projection train. The
  frozen lower blocks' outputs are computed once per caption (padding trimmed) and cached.
- The training runs on a private copy of the text tower: searches keep using the active
  version meanwhile, and a cancelled or failed run changes nothing.
"""

from __future__ import annotations

import copy
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from engine.captions import training_pairs
from engine.catalog import load_vectors
from engine.paths import RESOURCES
from engine.text_tower import block_count, embed, head, run_blocks
from engine.towers import TextTowers
from trainer.evaluation import drift, held_out_score, recall_at
from trainer.loss import contrastive_loss, distillation_loss

ANCHOR_PROMPTS = RESOURCES / "anchor_prompts.txt"


class TrainError(ValueError):
    """A run that cannot start (no captions, no indexed photos); the message says what to do."""


# -- config ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # passes over the training captions
    min_steps: int = 60  # at least this many steps, so a handful of captions still gets learned
    max_steps: int = 3000  # a ceiling for very large caption sets
    unlocked_blocks: int = 2  # top text blocks trained (plus final norm and projection); the rest are frozen and cached
    batch_size: int = 64  # distinct caption texts per step
    negatives: int = 4096  # library photos drawn per step as extra negatives (all of them when fewer)
    lr: float = 1e-4  # peak learning rate (AdamW)
    warmup_steps: int = 10  # linear warm-up: the first updates of a pretrained tower are the riskiest
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * this
    weight_decay: float = 0.0  # decaying toward zero would pull pretrained weights away from base
    learn_temperature: bool = True  # the softmax temperature is a trained scalar, as in CLIP/LiT
    guard: bool = True  # forgetting guard: distillation on anchor prompts plus weight interpolation
    distill_weight: float = 1.0  # weight of the anchor distillation loss (guard on)
    distill_batch: int = 32  # anchor prompts per step
    interpolation: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)  # candidate a in base + a * (tuned - base) (guard on)
    interpolation_tolerance: float = 0.02  # the smallest a within this much of the best (held-out recall and fit) wins
    device: str = "auto"  # 'auto': a GPU when present, else the CPU
    seed: int = 0  # batches and negatives are drawn from this: a run can be repeated exactly


@dataclass(frozen=True)
class TrainProgress:
    phase: str  # 'preparing', 'caching', 'evaluating', 'training', 'choosing', 'saving', 'done'
    step: int = 0
    total: int = 0
    loss: float | None = None
    eta_s: float | None = None
    message: str = ""
    result: "TrainResult | None" = None


@dataclass
class TrainResult:
    version: str | None  # None when cancelled
    before: dict[str, float] = field(default_factory=dict)  # base tower on the held-out split and anchors
    after: dict[str, float] = field(default_factory=dict)  # the saved version
    unguarded: dict[str, float] = field(default_factory=dict)  # the tuned weights before interpolation
    alpha: float = 1.0  # interpolation weight chosen on the held-out split
    counts: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    cancelled: bool = False
    activated: bool = False

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "before": _rounded(self.before),
            "after": _rounded(self.after),
            "unguarded": _rounded(self.unguarded),
            "alpha": self.alpha,
            "counts": self.counts,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "device": self.device,
            "cancelled": self.cancelled,
            "activated": self.activated,
        }


def _rounded(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if v != v else round(v, 4)) for k, v in metrics.items()}  # NaN -> null in JSON


def lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Learning rate at `step` of `total`: linear warm-up, then cosine decay to lr * min_lr_ratio."""
    warmup = min(config.warmup_steps, max(total - 1, 0))
    if step < warmup:
        return config.lr * (step + 1) / (warmup + 1)
    progress = (step - warmup) / max(total - warmup, 1)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def step_count(texts: int, config: TrainConfig) -> int:
    """Optimizer steps of a run over `texts` distinct training captions."""
    per_epoch = math.ceil(texts / config.batch_size)
    return int(min(max(config.epochs * per_epoch, config.min_steps), config.max_steps))


def load_anchor_prompts() -> list[str]:
    """The generic prompts shipped in resources/ that the guard keeps close to the base tower."""
    lines = ANCHOR_PROMPTS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


# -- model ----------------------------------------------------------------------------------
class TextTowerCopy(torch.nn.Module):
    """A private copy of the text tower with the base parameters (the live one keeps serving).

    Attribute names match open_clip's CLIP, so `engine.text_tower` runs it and its parameter
    names are the keys a text-tower version stores.
    """

    def __init__(self, clip: torch.nn.Module, base_state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.token_embedding = copy.deepcopy(clip.token_embedding)
        self.positional_embedding = torch.nn.Parameter(clip.positional_embedding.detach().clone())
        self.transformer = copy.deepcopy(clip.transformer)
        self.ln_final = copy.deepcopy(clip.ln_final)
        projection = clip.text_projection
        self.text_projection = (
            copy.deepcopy(projection) if isinstance(projection, torch.nn.Module) else torch.nn.Parameter(projection.detach().clone())
        )
        self.register_buffer("attn_mask", None if clip.attn_mask is None else clip.attn_mask.clone(), persistent=False)
        self.text_pool_type = clip.text_pool_type
        self.text_eos_id = getattr(clip, "text_eos_id", None)
        own = self.state_dict()
        self.load_state_dict({k: v for k, v in base_state.items() if k in own}, strict=True)


@dataclass
class Cached:
    """A caption after the frozen lower blocks: hidden states and tokens, trimmed to its length."""

    hidden: torch.Tensor  # [L, width]
    tokens: torch.Tensor  # [L]


def cache_lower(tower: TextTowerCopy, tokenize: Callable[[list[str]], torch.Tensor], texts: list[str], frozen: int, device: str, chunk: int = 64) -> list[Cached]:
    """Run every text once through the frozen blocks [0, frozen); keep each output trimmed."""
    out: list[Cached] = []
    with torch.no_grad():
        for start in range(0, len(texts), chunk):
            tokens = tokenize(texts[start : start + chunk]).to(device)
            lengths = (tokens != 0).sum(dim=1)
            tokens = tokens[:, : int(lengths.max())]
            hidden = run_blocks(tower, embed(tower, tokens), 0, frozen)
            out += [Cached(h[:n].clone(), t[:n].clone()) for h, t, n in zip(hidden, tokens, lengths.tolist())]
    return out


def forward_top(tower: TextTowerCopy, items: list[Cached], frozen: int) -> torch.Tensor:
    """Unit embeddings of cached captions through the trainable top blocks and the head."""
    length = max(item.tokens.shape[0] for item in items)
    width = items[0].hidden.shape[1]
    hidden = items[0].hidden.new_zeros(len(items), length, width)
    tokens = items[0].tokens.new_zeros(len(items), length)
    for i, item in enumerate(items):  # zero padding after the end token: the causal mask hides it
        hidden[i, : item.tokens.shape[0]] = item.hidden
        tokens[i, : item.tokens.shape[0]] = item.tokens
    return head(tower, run_blocks(tower, hidden, frozen, block_count(tower)), tokens)


def embed_all(tower: TextTowerCopy, items: list[Cached], frozen: int, chunk: int = 256) -> torch.Tensor:
    """`forward_top` in inference mode over any number of cached captions."""
    with torch.no_grad():
        parts = [forward_top(tower, items[s : s + chunk], frozen) for s in range(0, len(items), chunk)]
    return torch.cat(parts) if parts else torch.zeros(0)


def unlock_top(tower: TextTowerCopy, unlocked_blocks: int) -> tuple[int, list[torch.nn.Parameter]]:
    """Freeze the tower but its top blocks, final norm and projection: (frozen block count, trained parameters)."""
    blocks = block_count(tower)
    frozen = blocks - max(1, min(unlocked_blocks, blocks))
    for p in tower.parameters():
        p.requires_grad_(False)
    trained = [*tower.transformer.resblocks[frozen:], tower.ln_final]
    params = [p for m in trained for p in m.parameters()]
    params += list(tower.text_projection.parameters()) if isinstance(tower.text_projection, torch.nn.Module) else [tower.text_projection]
    for p in params:
        p.requires_grad_(True)
    return frozen, params


def make_optimizer(params: list[torch.nn.Parameter], logit_scale: torch.nn.Parameter, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the trained parameters and the temperature (which is never weight-decayed)."""
    return torch.optim.AdamW(
        [{"params": params, "weight_decay": config.weight_decay}, {"params": [logit_scale], "weight_decay": 0.0}],
        lr=config.lr,
    )


# -- one step -------------------------------------------------------------------------------
def draw_candidates(
    batch: list[int], photos_of_text: list[list[int]], negative_pool: np.ndarray, negatives: int, np_rng: np.random.Generator, device: str
) -> tuple[list[int], torch.Tensor]:
    """The batch's captioned photos plus extra library negatives, and the [batch, candidates] positives mask."""
    positive_rows = sorted({r for t in batch for r in photos_of_text[t]})
    if len(negative_pool) > negatives:
        drawn = np_rng.choice(negative_pool, size=negatives, replace=False)
        candidates = sorted(set(positive_rows) | set(drawn.tolist()))
    else:
        candidates = sorted(set(positive_rows) | set(negative_pool.tolist()))
    column = {r: c for c, r in enumerate(candidates)}
    positives = torch.zeros(len(batch), len(candidates), dtype=torch.bool, device=device)
    for b, t in enumerate(batch):
        positives[b, [column[r] for r in photos_of_text[t]]] = True
    return candidates, positives


def train_step(
    tower: TextTowerCopy,
    frozen: int,
    optimizer: torch.optim.Optimizer,
    logit_scale: torch.nn.Parameter,
    captions: list[Cached],
    images: torch.Tensor,
    positives: torch.Tensor,
    anchors: list[Cached],
    base_anchor: torch.Tensor,
    distill_weight: float,
) -> float:
    """One optimizer step of the top blocks on cached captions (and anchors, guard on); returns the loss."""
    text_vecs = forward_top(tower, captions, frozen)
    tuned_anchor = forward_top(tower, anchors, frozen) if anchors else None
    return optimize(optimizer, logit_scale, text_vecs, images, positives, tuned_anchor, base_anchor, distill_weight)


def optimize(
    optimizer: torch.optim.Optimizer,
    logit_scale: torch.nn.Parameter,
    text_vecs: torch.Tensor,
    images: torch.Tensor,
    positives: torch.Tensor,
    tuned_anchor: torch.Tensor | None,
    base_anchor: torch.Tensor,
    distill_weight: float,
) -> float:
    """The loss (contrastive, plus distillation when anchors were embedded), backward and an AdamW update."""
    with torch.no_grad():
        logit_scale.clamp_(0, math.log(100))  # as CLIP: a temperature no lower than 0.01
    loss = contrastive_loss(text_vecs, images, positives, logit_scale)
    if tuned_anchor is not None:
        loss = loss + distill_weight * distillation_loss(tuned_anchor, base_anchor)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


# -- the run --------------------------------------------------------------------------------
def train(library, config: TrainConfig = TrainConfig(), cancel: threading.Event | None = None, activate: bool = True) -> Iterator[TrainProgress]:  # noqa: ANN001, C901
    """Train a new text-tower version on the library's captions; the last event carries the result."""
    cancel = cancel or threading.Event()
    started = time.monotonic()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device
    yield TrainProgress("preparing", message="reading captions and stored photo vectors")

    # -- data: captions and the locked image side (stored vectors, never decoded) --
    encoder = library.encoder
    space_id = encoder.space_id
    with library.catalog.reading() as s:
        photo_ids, vectors = load_vectors(s, space_id)
    if len(photo_ids) == 0:
        raise TrainError("no indexed photos yet: index a folder first")
    row_of = {int(pid): row for row, pid in enumerate(photo_ids)}
    pairs = [p for p in training_pairs(library.catalog) if p.photo_id in row_of]
    train_pairs = [p for p in pairs if not p.held_out]
    held_pairs = [p for p in pairs if p.held_out]
    if not train_pairs:
        raise TrainError("no captions to learn from: caption some photos first (held-out photos are only used to evaluate)")
    texts = sorted({p.text for p in train_pairs})
    text_index = {t: i for i, t in enumerate(texts)}
    photos_of_text: list[list[int]] = [[] for _ in texts]
    for p in train_pairs:
        photos_of_text[text_index[p.text]].append(row_of[p.photo_id])
    images = torch.from_numpy(vectors).to(device)
    images = images / images.norm(dim=1, keepdim=True).clamp_min(1e-8)  # float16 storage rounding
    # Held-out photos are kept out of training entirely (not even as negatives): they stand for
    # the photos the person has not captioned yet.
    held_rows = {row_of[p.photo_id] for p in held_pairs}
    negative_pool = np.array([r for r in range(len(photo_ids)) if r not in held_rows], dtype=np.int64)
    anchors = load_anchor_prompts()

    # -- model: a private copy of the base text tower; only the top blocks train --
    clip = encoder.model
    tower = TextTowerCopy(clip, encoder.base_text_state()).to(device)
    frozen, params = unlock_top(tower, config.unlocked_blocks)
    unlocked = block_count(tower) - frozen
    names = [n for n, p in tower.named_parameters() if p.requires_grad]
    base_params = {n: p.detach().clone() for n, p in tower.named_parameters() if p.requires_grad}
    logit_scale = torch.nn.Parameter(clip.logit_scale.detach().clone().float().to(device), requires_grad=config.learn_temperature)

    yield TrainProgress("caching", message=f"running {len(texts)} captions through the {frozen} frozen blocks once")
    cached = cache_lower(tower, encoder.tokenize, texts, frozen, device)
    held_texts = sorted({p.text for p in held_pairs})
    held_cached = cache_lower(tower, encoder.tokenize, held_texts, frozen, device)
    anchor_cached = cache_lower(tower, encoder.tokenize, anchors, frozen, device)
    if cancel.is_set():
        yield _cancelled(started, device)
        return

    # -- evaluation: held-out recall among all library photos, drift on anchor prompts --
    held_index = {t: i for i, t in enumerate(held_texts)}
    carriers: dict[str, set[int]] = {}
    for p in pairs:
        carriers.setdefault(p.text, set()).add(row_of[p.photo_id])
    held_targets = [row_of[p.photo_id] for p in held_pairs]
    held_also = [sorted(carriers[p.text] - {row_of[p.photo_id]}) for p in held_pairs]
    held_rows_of_query = [held_index[p.text] for p in held_pairs]
    tower.eval()
    base_anchor = embed_all(tower, anchor_cached, frozen)

    # The training captions' own recall ("fit"): the held-out split only sees words that have a
    # held-out photo, so a word whose photos all fell in the training split would be invisible
    # to the interpolation choice and could be left half-learned.
    fit_targets = [row_of[p.photo_id] for p in train_pairs]
    fit_also = [sorted(carriers[p.text] - {row_of[p.photo_id]}) for p in train_pairs]
    fit_rows_of_query = [text_index[p.text] for p in train_pairs]

    def fit() -> float:
        queries = embed_all(tower, cached, frozen)[fit_rows_of_query]
        return held_out_score(recall_at(queries, images, fit_targets, fit_also))

    def evaluate() -> dict[str, float]:
        queries = embed_all(tower, held_cached, frozen)
        queries = queries[held_rows_of_query] if held_pairs else queries
        metrics = recall_at(queries, images, held_targets, held_also)
        metrics.update(drift(base_anchor, embed_all(tower, anchor_cached, frozen), images))
        return metrics

    yield TrainProgress("evaluating", message="the base tower on the held-out captions")
    before = evaluate()

    # -- the loop --
    total = step_count(len(texts), config)
    optimizer = make_optimizer(params, logit_scale, config)
    rng = random.Random(config.seed)
    np_rng = np.random.default_rng(config.seed)
    order: list[int] = []
    distill = config.guard and config.distill_weight > 0
    tower.train()
    loop_started = time.monotonic()
    loss_value = float("nan")
    for step in range(total):
        if cancel.is_set():
            yield _cancelled(started, device, step)
            return
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total, config)
        if len(order) < config.batch_size:  # epochs: every caption once before any repeats
            fresh = list(range(len(texts)))
            rng.shuffle(fresh)
            order += fresh
        batch = list(dict.fromkeys(order[: config.batch_size]))
        order = order[config.batch_size :]

        candidates, positives = draw_candidates(batch, photos_of_text, negative_pool, config.negatives, np_rng, device)
        picks = rng.sample(range(len(anchors)), min(config.distill_batch, len(anchors))) if distill else []
        loss_value = train_step(
            tower, frozen, optimizer, logit_scale, [cached[t] for t in batch], images[candidates], positives,
            [anchor_cached[i] for i in picks], base_anchor[picks], config.distill_weight,
        )
        per_step = (time.monotonic() - loop_started) / (step + 1)
        yield TrainProgress("training", step + 1, total, loss_value, per_step * (total - step - 1))

    # -- the guard: interpolate between base and tuned weights, chosen on the held-out split --
    tower.eval()
    tuned_params = {n: p.detach().clone() for n, p in tower.named_parameters() if n in base_params}
    unguarded = evaluate()
    alphas = sorted(set(config.interpolation)) if config.guard else [1.0]
    alpha, after = 1.0, unguarded
    if config.guard and len(alphas) > 1:
        # The smallest weight (the closest to the base tower) that loses nothing that matters:
        # held-out recall (the words generalise) and fit (every word taught is learned).
        yield TrainProgress("choosing", total, total, loss_value, message="choosing the interpolation weight on the held-out split")
        scored: dict[float, tuple[dict[str, float], float, float]] = {}  # alpha -> (metrics, held-out score, fit)
        for a in alphas:
            _set_params(tower, base_params, tuned_params, a)
            metrics = evaluate()
            scored[a] = (metrics, held_out_score(metrics) if held_pairs else 0.0, fit())
        alpha = choose_interpolation([(a, h, f) for a, (_, h, f) in scored.items()], config.interpolation_tolerance)
        after = scored[alpha][0]
    else:
        alpha = max(alphas)
        if alpha != 1.0:
            _set_params(tower, base_params, tuned_params, alpha)
            after = evaluate()
    _set_params(tower, base_params, tuned_params, alpha)
    if cancel.is_set():
        yield _cancelled(started, device, total)
        return

    # -- the checkpoint: only the trained parameters, with the config and the step --
    yield TrainProgress("saving", total, total, loss_value, message="saving the new text-tower version")
    dtype = next(iter(encoder.base_text_state().values())).dtype
    checkpoint = {
        "params": {n: p.detach().to("cpu", dtype).clone() for n, p in tower.named_parameters() if n in base_params},
        "config": asdict(config),
        "step": total,
        "alpha": alpha,
        "logit_scale": float(logit_scale.detach()),
        "unlocked_blocks": unlocked,
    }
    counts = {
        "captions": len(pairs),
        "train_captions": len(train_pairs),
        "train_texts": len(texts),
        "held_out_captions": len(held_pairs),
        "photos": len(photo_ids),
        "captioned_photos": len({p.photo_id for p in pairs}),
        "anchor_prompts": len(anchors),
        "trained_parameters": int(sum(p.numel() for p in checkpoint["params"].values())),
    }
    result = TrainResult(
        version=None, before=before, after=after, unguarded=unguarded, alpha=alpha, counts=counts,
        steps=total, seconds=time.monotonic() - started, device=device,
    )
    record = {
        "base_space": space_id,
        "model": encoder.spec.key,
        "settings": asdict(config),
        "parameters": names,
        **{k: v for k, v in result.as_dict().items() if k in ("before", "after", "unguarded", "alpha", "counts", "steps", "seconds", "device")},
    }
    towers = TextTowers.of(library)
    result.version = towers.save(checkpoint, record)
    if activate:
        towers.use(result.version)
        result.activated = True
    result.seconds = time.monotonic() - started
    yield TrainProgress("done", total, total, loss_value, 0.0, f"saved text-tower version {result.version}", result)


def choose_interpolation(scored: list[tuple[float, float, float]], tolerance: float) -> float:
    """The interpolation weight to keep from (alpha, held-out score, fit) candidates.

    The smallest alpha (the closest to the base tower) whose held-out score is within
    `tolerance` of the best, and whose fit is within `tolerance` of the best fit among those.
    Held-out recall comes first: when the words fit better the further from base but
    generalise worse, no candidate may be near the best of both, and a run must still end.
    """
    best_held = max(h for _, h, _ in scored)
    generalise = [(a, f) for a, h, f in scored if h >= best_held - tolerance]
    best_fit = max(f for _, f in generalise)
    return min(a for a, f in generalise if f >= best_fit - tolerance)


def _set_params(tower: torch.nn.Module, base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], alpha: float) -> None:
    """Weights base + alpha * (tuned - base) for the trained parameters."""
    with torch.no_grad():
        for name, p in tower.named_parameters():
            if name in base:
                p.copy_(base[name] + alpha * (tuned[name] - base[name]))


def _cancelled(started: float, device: str, steps: int = 0) -> TrainProgress:
    result = TrainResult(version=None, steps=steps, seconds=time.monotonic() - started, device=device, cancelled=True)
    return TrainProgress("done", steps, steps, message="cancelled: the active text tower is unchanged", result=result)
