"""A small, lazy facade over one open_clip model: the locked image tower and the active text tower."""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.specs import ModelSpec
from engine.weights import DownloadProgress, resolve_weights, weights_identity


@dataclass(frozen=True)
class Preprocess:
    """What the image tower expects: square input size, normalisation, resize rule."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize_mode: str = "shortest"  # 'shortest' (resize + centre crop) or 'squash'


def space_id_for(spec: ModelSpec, weights_file: Path | None) -> str:
    """The embedding space an image tower defines: model key plus weights identity."""
    return f"{spec.key}--{weights_identity(spec, weights_file)}".replace("/", "_")


class Encoder:
    """Loads on first use under a lock; `close()` frees it. Thread-safe for concurrent callers."""

    def __init__(
        self,
        spec: ModelSpec,
        cache_dir: Path,
        weights_file: Path | None = None,
        allow_download: bool = True,
        device: str = "cpu",
    ) -> None:
        self.spec = spec
        self.cache_dir = cache_dir
        self.weights_file = weights_file
        self.allow_download = allow_download
        self.device = device
        self.space_id = space_id_for(spec, weights_file)
        self._lock = threading.RLock()
        self._model = None
        self._tokenizer = None
        self._preprocess: Preprocess | None = None
        # Base values of the text parameters that some version replaced (a version trains only
        # the top blocks: keeping a copy of just those, not of the whole tower, saves ~0.25 GB).
        self._base_saved: dict[str, "torch.Tensor"] = {}  # noqa: F821
        self.text_version: str = "base"
        # A text-tower version to activate as soon as the model loads (see `use_text_tower_when_loaded`).
        self._pending_text: tuple[str, Callable[[], Mapping[str, "torch.Tensor"] | None]] | None = None  # noqa: F821

    # -- loading -------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self, on_download: DownloadProgress | None = None) -> None:
        """Build the model (download weights if needed and allowed). Idempotent."""
        with self._lock:
            if self._model is not None:
                return
            import open_clip
            import torch

            if self.spec.config is not None:
                open_clip.add_model_config(self.spec.config)
            path = resolve_weights(
                self.spec, self.cache_dir, self.weights_file, self.allow_download, on_download
            )
            if self.spec.seed is not None:
                # A random-weights model must be the same in every process, or vectors
                # written by one run would not match queries of the next.
                with torch.random.fork_rng():
                    torch.manual_seed(self.spec.seed)
                    model = open_clip.create_model(self.spec.arch, pretrained=str(path) if path else None)
            else:
                model = open_clip.create_model(self.spec.arch, pretrained=str(path) if path else None)
            model.eval().to(self.device)
            _release_freed_memory()  # the checkpoint's tensors were copied into the model and freed
            lock_image_tower(model)
            for p in model.parameters():
                p.requires_grad_(False)
            cfg = open_clip.get_model_preprocess_cfg(model)
            size = cfg["size"]
            self._preprocess = Preprocess(
                size=int(size[0] if isinstance(size, (tuple, list)) else size),
                mean=tuple(cfg["mean"]),
                std=tuple(cfg["std"]),
                resize_mode=cfg.get("resize_mode", "shortest"),
            )
            self._tokenizer = open_clip.get_tokenizer(self.spec.arch)
            self._model = model
            if self._pending_text is not None:
                version, load_params = self._pending_text
                self._pending_text = None
                params = load_params()
                self.use_text_tower(version if params is not None else "base", params)

    @property
    def model(self):  # noqa: ANN201 - open_clip CLIP
        self.load()
        return self._model

    @property
    def preprocess(self) -> Preprocess:
        self.load()
        assert self._preprocess is not None
        return self._preprocess

    @property
    def dim(self) -> int:
        """The embedding width, read from the architecture config (no weights loaded)."""
        import open_clip

        if self.spec.config is not None:
            open_clip.add_model_config(self.spec.config)
        return int(open_clip.get_model_config(self.spec.arch)["embed_dim"])

    def close(self) -> None:
        with self._lock:
            self._model = None
            self._tokenizer = None
            self._base_saved = {}

    # -- encoding ------------------------------------------------------------------------
    def encode_images(self, pixels: "torch.Tensor") -> np.ndarray:  # noqa: F821
        """Unit vectors (float32, [N, dim]) for a batch of preprocessed images."""
        import torch

        model = self.model
        with torch.inference_mode():
            out = model.encode_image(pixels.to(self.device), normalize=True)
        return out.float().cpu().numpy()

    def tokenize(self, texts: list[str]) -> "torch.Tensor":  # noqa: F821
        """Token ids, padding trimmed to the longest text of the batch."""
        from engine.text_tower import trim

        self.load()
        return trim(self._tokenizer(texts))

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (float32, [N, dim]) from the active text tower."""
        import torch

        from engine.text_tower import encode

        if not texts:
            return np.zeros((0, self.dim), np.float32)
        tokens = self.tokenize(texts)
        # A search query is a few dozen tokens: its small matrices gain little from a second
        # thread on an idle machine and lose 5-10x on a busy one (each op waits for a
        # preempted thread). Measured on 2 cores under load: 225 ms with 2 threads, 34 ms with 1.
        threads = 1 if tokens.numel() <= SMALL_TEXT_TOKENS and self.device == "cpu" else None
        with self._lock, torch.inference_mode(), _torch_threads(threads):
            out = encode(self.model, tokens.to(self.device))
        return out.float().cpu().numpy()

    # -- text-tower versions -------------------------------------------------------------
    def text_state(self) -> dict[str, "torch.Tensor"]:  # noqa: F821
        """The text tower's parameters (everything that is not the locked image tower)."""
        return {k: v for k, v in self.model.state_dict().items() if not k.startswith("visual.")}

    def base_text_state(self) -> dict[str, "torch.Tensor"]:  # noqa: F821
        """The base (pretrained) text tower's parameters, whatever version is active."""
        with self._lock:
            return {**self.text_state(), **self._base_saved}

    def use_text_tower_when_loaded(self, version: str, load_params: Callable[[], Mapping[str, "torch.Tensor"] | None]) -> None:  # noqa: F821
        """Activate a version now if the model is loaded, else right after it loads.

        Opening a library must stay cheap (`status` never loads the model), so the version
        remembered in the catalog is applied lazily. `load_params` returning None means base.
        """
        with self._lock:
            if self._model is None:
                self._pending_text = (version, load_params)
                self.text_version = version
                return
        params = load_params()
        self.use_text_tower(version if params is not None else "base", params)

    def use_text_tower(self, version: str, params: Mapping[str, "torch.Tensor"] | None) -> None:  # noqa: F821
        """Activate a text-tower version: `params` replace base parameters; None is the base tower.

        The image tower is never touched: vectors stored in the catalog stay valid.
        """
        with self._lock:
            model = self.model
            current = self.text_state()
            params = dict(params or {})
            unknown = [k for k in params if k not in current]
            if unknown:
                raise ValueError(f"text-tower version has parameters the model lacks: {unknown[:3]}")
            for k in params:
                if k not in self._base_saved:
                    self._base_saved[k] = current[k].clone()
            # What an earlier version replaced and this one does not goes back to base.
            state = {k: v for k, v in self._base_saved.items() if k not in params}
            state.update({k: v.to(current[k].dtype) for k, v in params.items()})
            model.load_state_dict(state, strict=False)
            self.text_version = version


SMALL_TEXT_TOKENS = 256  # up to this many tokens in a batch, the text tower runs on one thread


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with `count` torch threads (None: leave as is)."""
    import torch

    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _release_freed_memory() -> None:
    """Give the C heap's free pages back to the system (glibc keeps them otherwise: ~170 MB after a load)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to give back this way
            pass


def lock_image_tower(model) -> None:  # noqa: ANN001 - open_clip CLIP
    """The LiT lock: image tower frozen, in eval mode, never trained."""
    model.lock_image_tower(unlocked_groups=0, freeze_bn_stats=True)
    model.visual.eval()
