"""Embedding spaces: which one serves searches, which one is being built, and their upkeep.

Choosing another image model never stops search. The choice becomes the *building* space
(remembered in the catalog, so the work resumes after a restart); the indexer fills it with
vectors for every photo that lacks one, while the *serving* space keeps answering queries.
When nothing is missing, one write transaction makes it the serving space. Photos in a folder
that is offline (or cannot be read) count as missing: the switch waits for them rather than
drop them from search, and the old space serves meanwhile. Switching back
to a space that is still complete is that same transaction, nothing else.

Settings (catalog `settings` table):
    model, weights                  the serving model (key, weights file or empty)
    target_model, target_weights    the model being built, absent when no switch is pending
    active_space                    the serving space id (read by other parts)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Select, exists, func, select, text
from sqlalchemy.orm import Session

from engine.catalog import (
    Catalog,
    Failure,
    Folder,
    Photo,
    Setting,
    Space,
    TextTower,
    Vector,
    inside_failed_folder,
)
from engine.encoder import Encoder
from engine.paths import Paths
from engine.specs import ModelList

SERVING_MODEL = "model"
SERVING_WEIGHTS = "weights"
TARGET_MODEL = "target_model"
TARGET_WEIGHTS = "target_weights"
ACTIVE_SPACE = "active_space"


class SpaceError(ValueError):
    """A space that cannot be deleted or switched to; the message says why."""


@dataclass(frozen=True)
class ModelChoice:
    """An image tower as a person picks it: a curated model key, optionally a local weights file."""

    key: str
    weights: Path | None = None  # absolute; None: the curated download (or random weights)


@dataclass(frozen=True)
class SpaceInfo:
    id: str
    model_key: str
    weights_id: str
    dim: int
    embedded: int  # photos with a vector in this space
    missing: int  # photos still without one (offline ones too; known unreadable files aside)
    serving: bool
    building: bool
    bytes_on_disk: int  # its vector index files (vectors in the catalog not counted)
    created_at: datetime

    @property
    def complete(self) -> bool:
        return self.missing == 0

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "model": self.model_key,
            "weights": self.weights_id,
            "dim": self.dim,
            "embedded": self.embedded,
            "missing": self.missing,
            "complete": self.complete,
            "serving": self.serving,
            "building": self.building,
            "bytes_on_disk": self.bytes_on_disk,
            "created_at": self.created_at.isoformat(timespec="seconds"),
        }


# -- remembered choices ---------------------------------------------------------------------
def _choice(catalog: Catalog, model_key: str, weights_key: str) -> ModelChoice | None:
    key = catalog.get_setting(model_key)
    if not key:
        return None
    weights = catalog.get_setting(weights_key)
    return ModelChoice(key, Path(weights) if weights else None)


def serving_choice(catalog: Catalog) -> ModelChoice | None:
    """The model searches use, or None for a library that never chose one."""
    return _choice(catalog, SERVING_MODEL, SERVING_WEIGHTS)


def target_choice(catalog: Catalog) -> ModelChoice | None:
    """The model being built in the background, or None."""
    return _choice(catalog, TARGET_MODEL, TARGET_WEIGHTS)


def _put(s: Session, key: str, value: str | None) -> None:
    row = s.get(Setting, key)
    if value is None:
        if row is not None:
            s.delete(row)
    else:
        s.merge(Setting(key=key, value=value))


def set_target(catalog: Catalog, choice: ModelChoice | None) -> None:
    """Remember (or forget, with None) the model to build."""
    with catalog.writing() as s:
        _put(s, TARGET_MODEL, choice.key if choice else None)
        _put(s, TARGET_WEIGHTS, str(choice.weights) if choice and choice.weights else None)


def set_serving(s: Session, choice: ModelChoice, space_id: str) -> None:
    """Make `choice` the serving model inside the caller's write; any pending target is dropped."""
    _put(s, SERVING_MODEL, choice.key)
    _put(s, SERVING_WEIGHTS, str(choice.weights) if choice.weights else None)
    _put(s, ACTIVE_SPACE, space_id)
    _put(s, TARGET_MODEL, None)
    _put(s, TARGET_WEIGHTS, None)


def requested_choice(model: str | None, weights: Path | None, serving: ModelChoice | None) -> ModelChoice | None:
    """What `--model` / `--weights` ask for, or None when they ask for nothing."""
    if not model and weights is None:
        return None
    key = model or (serving.key if serving else None)
    if key is None:
        return None  # only --weights, and no model yet: the caller picks the default key
    if weights is None and serving is not None and key == serving.key:
        weights = serving.weights  # `--model X` for the serving X keeps its weights file
    return ModelChoice(key, weights.expanduser().resolve() if weights else None)


def open_encoder(choice: ModelChoice, models: ModelList, paths: Paths, allow_download: bool) -> Encoder:
    """The (lazy) model facade for a choice; raises UnknownModel for a key not in the list."""
    return Encoder(models.get(choice.key), paths.models, weights_file=choice.weights, allow_download=allow_download)


# -- progress ------------------------------------------------------------------------------
def _lacking(space_id: str) -> Select:
    """Count of photos without a vector in `space_id`, files known to be unreadable aside."""
    return (
        select(func.count())
        .select_from(Photo)
        .join(Folder, Folder.id == Photo.folder_id)
        .where(
            ~exists().where(Vector.photo_id == Photo.id, Vector.space_id == space_id),
            ~exists().where(Failure.path == Photo.path),
        )
    )


def missing_count(s: Session, space_id: str) -> int:
    """Photos a space still lacks, those out of reach (see `waiting_count`) included.

    A space missing the photos of an unplugged drive is not complete: serving it would drop
    them from every search, so a switch to it waits until the drive is back.
    """
    return int(s.scalar(_lacking(space_id)) or 0)


def waiting_count(s: Session, space_id: str) -> int:
    """Of the missing photos, those no indexer can reach now: their folder is offline or unreadable."""
    out_of_reach = Folder.online.is_(False) | inside_failed_folder(Photo.path)
    return int(s.scalar(_lacking(space_id).where(out_of_reach)) or 0)


def embedded_count(s: Session, space_id: str) -> int:
    return int(s.scalar(select(func.count()).select_from(Vector).where(Vector.space_id == space_id)) or 0)


def try_switch(catalog: Catalog, choice: ModelChoice, space_id: str) -> bool:
    """Make `choice` serve if its space lacks no photo; checked and done in one write."""
    with catalog.writing() as s:
        if missing_count(s, space_id):
            return False
        set_serving(s, choice, space_id)
        return True


# -- listing and deleting ------------------------------------------------------------------
def list_spaces(catalog: Catalog, paths: Paths, serving_id: str, building_id: str | None) -> list[SpaceInfo]:
    """Every space in the catalog, serving first, then newest first."""
    with catalog.reading() as s:
        spaces = s.scalars(select(Space)).all()
        infos = [
            SpaceInfo(
                id=space.id,
                model_key=space.model_key,
                weights_id=space.weights_id,
                dim=space.dim,
                embedded=embedded_count(s, space.id),
                missing=missing_count(s, space.id),
                serving=space.id == serving_id,
                building=space.id == building_id,
                bytes_on_disk=_folder_bytes(paths.space_dir(space.id)),
                created_at=space.created_at,
            )
            for space in spaces
        ]
    return sorted(infos, key=lambda i: (not i.serving, -i.created_at.timestamp()))


def delete_space(catalog: Catalog, paths: Paths, space_id: str, serving_id: str, building_id: str | None) -> int:
    """Delete a space: its vectors, index files and text-tower versions. Returns vectors freed.

    The serving space cannot be deleted (searches need it). Deleting the space being built
    abandons that switch; the photos and every other space are untouched.
    """
    if space_id == serving_id:
        raise SpaceError(f"{space_id} is the space searches use; switch to another model first")
    with catalog.writing() as s:
        space = s.get(Space, space_id)
        if space is None:
            raise SpaceError(f"no such space: {space_id} (see `spaces list`)")
        freed = embedded_count(s, space_id)
        tower_files = list(s.scalars(select(TextTower.file).where(TextTower.space_id == space_id)))
        if space_id == building_id:
            _put(s, TARGET_MODEL, None)
            _put(s, TARGET_WEIGHTS, None)
        s.execute(text("DELETE FROM vectors WHERE space_id = :s"), {"s": space_id})
        s.execute(text("DELETE FROM removals WHERE space_id = :s"), {"s": space_id})
        s.execute(text("DELETE FROM text_towers WHERE space_id = :s"), {"s": space_id})
        s.delete(space)
    # Files after the commit: a crash in between leaves only orphaned cache files.
    shutil.rmtree(paths.space_dir(space_id), ignore_errors=True)
    for name in tower_files:
        tower = (paths.towers / name).resolve()
        if tower.is_relative_to(paths.towers.resolve()):  # never outside the data home
            if tower.is_dir():
                shutil.rmtree(tower, ignore_errors=True)
            else:
                tower.unlink(missing_ok=True)
    return freed


def _folder_bytes(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
