"""Every path the program writes, in one place, under one home folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

HOME_ENV = "LITPHOTOS_HOME"
RESOURCES = Path(__file__).resolve().parent.parent / "resources"

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by LiT Photos.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def default_home() -> Path:
    """The data home: $LITPHOTOS_HOME, else the platform's user data folder."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("LiT Photos", appauthor=False))


@dataclass(frozen=True)
class Paths:
    """The layout of a data home; nothing is created until `ensure()`."""

    home: Path

    @property
    def catalog(self) -> Path:
        return self.home / "catalog.sqlite"

    @property
    def spaces(self) -> Path:
        return self.home / "spaces"

    def space_dir(self, space_id: str) -> Path:
        return self.spaces / space_id

    @property
    def models(self) -> Path:
        """Downloaded model weights (a cache: safe to delete, re-downloaded on use)."""
        return self.home / "models"

    @property
    def thumbnails(self) -> Path:
        return self.home / "thumbnails"

    @property
    def towers(self) -> Path:
        """Text-tower versions produced by the trainer."""
        return self.home / "towers"

    @property
    def journals(self) -> Path:
        """Export journals, so that an export can be undone even after a crash."""
        return self.home / "journals"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def ensure(self) -> "Paths":
        """Create the home and its folders; tag the caches so backup tools skip them."""
        for folder in (self.home, self.spaces, self.models, self.thumbnails, self.towers, self.journals, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        for cache in (self.models, self.thumbnails, self.spaces):
            tag = cache / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_text(_CACHEDIR_TAG)
        return self
