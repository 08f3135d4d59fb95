"""The curated model list (`resources/models.json`) as typed, frozen data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.paths import RESOURCES


class UnknownModel(ValueError):
    """A model key that is not in the curated list."""


@dataclass(frozen=True)
class ModelSpec:
    key: str  # our short name, used on the command line and in space ids
    arch: str  # open_clip architecture name
    pretrained: str | None = None  # open_clip pretrained tag, downloaded on first use
    config: Path | None = None  # architecture JSON shipped in resources/ (for tiny-test)
    seed: int | None = None  # random-weights models: the seed that makes every process agree
    description: str = ""

    @property
    def random_weights(self) -> bool:
        return self.pretrained is None


@dataclass(frozen=True)
class ModelList:
    default: str
    specs: dict[str, ModelSpec]

    def get(self, key: str | None) -> ModelSpec:
        """The spec for `key`, or the default when `key` is None."""
        key = key or self.default
        try:
            return self.specs[key]
        except KeyError:
            known = ", ".join(sorted(self.specs))
            raise UnknownModel(f"unknown model {key!r}; choose one of: {known}") from None


def load_model_list(path: Path = RESOURCES / "models.json") -> ModelList:
    """Read the curated list shipped in resources/."""
    data = json.loads(path.read_text())
    specs = {}
    for key, entry in data["models"].items():
        config = entry.get("config")
        specs[key] = ModelSpec(
            key=key,
            arch=entry["arch"],
            pretrained=entry.get("pretrained"),
            config=(path.parent / config) if config else None,
            seed=entry.get("seed"),
            description=entry.get("description", ""),
        )
    return ModelList(default=data["default"], specs=specs)
