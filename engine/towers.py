"""Text-tower versions: small checkpoints of the trained parameters, switched instantly.

A version is a file under the data home's `towers/<space>/` holding only the parameters the
trainer changed (an explicit checkpoint dict), plus a `TextTower` row with a JSON record of
its base space, settings, data counts and metrics. Activating a version swaps those
parameters into the encoder's text tower; the image tower and the stored vectors are never
touched, so nothing is re-indexed. The active version of each space and the ones active
before it (for rollback) are remembered in the catalog's settings.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from engine.catalog import Catalog, TextTower
from engine.encoder import Encoder
from engine.paths import Paths

BASE = "base"
CHECKPOINT_FORMAT = 1
HISTORY_LENGTH = 20

log = logging.getLogger(__name__)


class TowerError(ValueError):
    """A text-tower version that cannot be found, read or activated; the message says why."""


@dataclass(frozen=True)
class TowerInfo:
    id: str
    space_id: str
    created_at: datetime
    file: str
    record: dict
    active: bool

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "space": self.space_id,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "active": self.active,
            "record": self.record,
        }


def _active_key(space_id: str) -> str:
    return f"text_tower:{space_id}"


def _history_key(space_id: str) -> str:
    return f"text_tower_history:{space_id}"


class TextTowers:
    """The versions of one embedding space, and which of them the encoder uses."""

    def __init__(self, paths: Paths, catalog: Catalog, encoder: Encoder) -> None:
        self.paths = paths
        self.catalog = catalog
        self.encoder = encoder
        self._cache: dict[str, dict] = {}  # version -> params, so switching back is instant

    @classmethod
    def of(cls, library) -> "TextTowers":  # noqa: ANN001 - engine.library.Library
        """The versions of a library's active space."""
        return cls(library.paths, library.catalog, library.encoder)

    @property
    def space_id(self) -> str:
        return self.encoder.space_id

    # -- reading -------------------------------------------------------------------------
    def active(self) -> str:
        """The version the catalog says is active for this space ('base' when none)."""
        return self.catalog.get_setting(_active_key(self.space_id)) or BASE

    def versions(self) -> list[TowerInfo]:
        """This space's versions, newest first."""
        active = self.active()
        with self.catalog.reading() as s:
            rows = s.scalars(
                select(TextTower).where(TextTower.space_id == self.space_id).order_by(TextTower.created_at.desc(), TextTower.id)
            ).all()
        return [TowerInfo(r.id, r.space_id, r.created_at, r.file, json.loads(r.record), r.id == active) for r in rows]

    def get(self, version: str) -> TowerInfo:
        for info in self.versions():
            if info.id == version:
                return info
        raise TowerError(f"no text-tower version {version!r} for this library's model; see `towers list`")

    def load(self, version: str) -> dict:
        """A version's checkpoint dict (parameters, config, step), read from its file."""
        import torch

        info = self.get(version)
        path = self.paths.towers / info.file
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError) as exc:
            raise TowerError(f"cannot read text-tower version {version}: {exc}") from exc
        if checkpoint.get("space") != self.space_id:
            raise TowerError(f"text-tower version {version} belongs to another model ({checkpoint.get('space')})")
        return checkpoint

    def params(self, version: str) -> dict | None:
        """The parameters of a version (None for the base tower)."""
        if version == BASE:
            return None
        if version not in self._cache:
            self._cache[version] = self.load(version)["params"]
        return self._cache[version]

    # -- writing -------------------------------------------------------------------------
    def save(self, checkpoint: dict, record: dict) -> str:
        """Store a new version (written atomically, registered in the catalog); returns its id."""
        import torch

        version = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        relative = Path(self.space_id) / f"{version}.pt"
        target = self.paths.towers / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(".tmp")
        torch.save({**checkpoint, "format": CHECKPOINT_FORMAT, "space": self.space_id, "version": version}, temp)
        with open(temp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temp, target)
        with self.catalog.writing() as s:
            s.add(TextTower(id=version, space_id=self.space_id, file=str(relative), record=json.dumps(record)))
        return version

    def delete(self, version: str) -> None:
        """Forget a version that is not active (its file goes too)."""
        if version == self.active():
            raise TowerError("that version is active: switch to another one first")
        info = self.get(version)
        with self.catalog.writing() as s:
            row = s.get(TextTower, version)
            if row is not None:
                s.delete(row)
        (self.paths.towers / info.file).unlink(missing_ok=True)
        self._cache.pop(version, None)

    # -- switching -----------------------------------------------------------------------
    def use(self, version: str) -> str:
        """Activate a version ('base' for the pretrained tower); the previous one can be rolled back to."""
        previous = self.active()
        self._activate(version)
        if previous != version:
            history = self._history()
            history.append(previous)
            self._set_history(history[-HISTORY_LENGTH:])
        return version

    def rollback(self) -> str:
        """Go back to the version that was active before the current one; returns it."""
        history = self._history()
        while history:
            previous = history.pop()
            if previous == BASE or any(i.id == previous for i in self.versions()):
                self._activate(previous)
                self._set_history(history)
                return previous
        raise TowerError("nothing to roll back to: no earlier text-tower version was active")

    def apply_active(self) -> None:
        """Make the encoder use the remembered version (lazily: the model is not loaded here)."""
        version = self.active()
        if version == BASE:
            return

        def load_params() -> dict | None:
            try:
                return self.params(version)
            except TowerError as exc:  # a lost file must not stop the library from opening
                log.warning("using the base text tower: %s", exc)
                return None

        self.encoder.use_text_tower_when_loaded(version, load_params)

    def _activate(self, version: str) -> None:
        params = self.params(version)  # may raise TowerError: nothing has changed yet
        if self.encoder.loaded:
            self.encoder.use_text_tower(version, params)
        else:  # a command line that only switches: no need to load the model
            self.encoder.use_text_tower_when_loaded(version, lambda: params)
        self.catalog.set_setting(_active_key(self.space_id), None if version == BASE else version)

    def _history(self) -> list[str]:
        raw = self.catalog.get_setting(_history_key(self.space_id))
        return list(json.loads(raw)) if raw else []

    def _set_history(self, history: list[str]) -> None:
        self.catalog.set_setting(_history_key(self.space_id), json.dumps(history) if history else None)
