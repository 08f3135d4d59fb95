"""Where a model's weights come from: a local file, the download cache, or (first use) the hub."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from engine.specs import ModelSpec

DownloadProgress = Callable[[int, int], None]  # (bytes done, bytes total)


class WeightsUnavailable(RuntimeError):
    """The weights are neither cached nor downloadable (offline); the message says what to do."""


def file_identity(path: Path) -> str:
    """A cheap, stable identity for a weights file: size plus hash of its first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=8)
    with open(path, "rb") as f:
        digest.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            digest.update(f.read(1 << 20))
    return digest.hexdigest()


def weights_identity(spec: ModelSpec, weights_file: Path | None) -> str:
    """What, besides the architecture, defines an embedding space."""
    if weights_file is not None:
        return f"file-{file_identity(weights_file)}"
    if spec.random_weights:
        return f"random-seed{spec.seed or 0}"
    return spec.pretrained or "none"


def _hub_location(spec: ModelSpec) -> tuple[str, list[str]] | None:
    """The hub repository and candidate file names of a pretrained tag (safetensors first)."""
    from open_clip.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg(spec.arch, spec.pretrained or "")
    hub = cfg.get("hf_hub", "")
    if not hub:
        return None
    repo, filename = os.path.split(hub)
    names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    if filename.endswith((".bin", ".pth")):
        names.insert(0, filename[:-4] + ".safetensors")
    return repo, names


def _progress_class(on_progress: DownloadProgress):
    """A tqdm class that reports bytes to `on_progress` (and still draws on stderr)."""
    from tqdm.auto import tqdm

    class Reporting(tqdm):  # type: ignore[misc, valid-type]
        def update(self, n=1):  # noqa: ANN001 - tqdm's signature
            result = super().update(n)
            on_progress(int(self.n), int(self.total or 0))
            return result

    return Reporting


def resolve_weights(
    spec: ModelSpec,
    cache_dir: Path,
    weights_file: Path | None = None,
    allow_download: bool = True,
    on_progress: DownloadProgress | None = None,
) -> Path | None:
    """The local weights file for `spec`: given, cached, or downloaded now. None for random weights.

    The cache is looked at first with no network at all; only a miss downloads.
    """
    if weights_file is not None:
        if not weights_file.is_file():
            raise WeightsUnavailable(f"weights file not found: {weights_file}")
        return weights_file
    if spec.random_weights:
        return None
    location = _hub_location(spec)
    if location is None:
        raise WeightsUnavailable(
            f"no download source is known for {spec.arch} {spec.pretrained}; pass --weights FILE"
        )
    from huggingface_hub import hf_hub_download

    repo, names = location
    for name in names:
        try:
            return Path(hf_hub_download(repo, name, cache_dir=str(cache_dir), local_files_only=True))
        except Exception:  # noqa: BLE001 - any miss just means "not cached"
            continue
    if not allow_download:
        raise WeightsUnavailable(_offline_message(spec, repo))
    tqdm_class = _progress_class(on_progress) if on_progress else None
    errors = []
    for name in names:
        try:
            return Path(hf_hub_download(repo, name, cache_dir=str(cache_dir), tqdm_class=tqdm_class))
        except Exception as exc:  # noqa: BLE001 - offline, missing file, hub error: try the next name
            errors.append(exc)
    raise WeightsUnavailable(_offline_message(spec, repo))


def _offline_message(spec: ModelSpec, repo: str) -> str:
    return (
        f"the weights of model {spec.key!r} are not cached and could not be downloaded "
        f"(no network?); download open_clip_model.safetensors from the Hugging Face repository "
        f"{repo} on a connected machine and pass it with --weights FILE"
    )
