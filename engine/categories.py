"""Custom categories: a person names what they care about, the stored image vectors sort the library.

A category is a name, prompts, optional example photos (positive and negative) and a
threshold. Its *prototype* is one unit vector:

    text  = renormalised mean over prompts x templates of the ACTIVE text tower's unit vectors
            (CLIP's zero-shot prompt ensembling; templates in resources/category_templates.json)
    proto = unit(text + unit(mean(positives) - m) - 0.5 * unit(mean(negatives) - m)),
            m the mean vector of the library (see `prototype`)

Assignment is one matrix product, stored vectors [N, d] x prototypes [d, C], then:
multi-label (every category whose threshold a photo passes) or best single (the passing
category with the largest margin over its own threshold, else Unsorted). Margins rather than
raw scores, because a category taught with examples scores on a different scale from a
text-only one; each threshold calibrates its own category. Pins and excludes (a person's
corrections) always win and are applied after scoring, so they survive every recomputation.

Assignments are derived data, cached under what they depend on: the space and its vector
generation, the text-tower version, and the categories' revision (bumped by every change to
a category, its examples or its corrections). Asking for them is always up to date.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.captions import sync_pin_captions
from engine.catalog import (
    Category,
    CategoryExample,
    CategoryPin,
    Photo,
    Setting,
    load_vectors,
    space_generation,
)
from engine.paths import RESOURCES

if TYPE_CHECKING:
    from engine.encoder import Encoder
    from engine.library import Library

UNSORTED = "Unsorted"  # the bucket of photos no category takes; reserved as a category name
REVISION_KEY = "categories_revision"
AUTO = -9.0  # stored threshold meaning "automatic" (no cosine is below -1)
POSITIVE_WEIGHT = 1.0  # examples weigh as much as the words
NEGATIVE_WEIGHT = 0.5  # "not like this" pushes away, but less than "like this" pulls
PIN_BONUS = 1e3  # added to a pinned margin: larger than any score difference
MAX_NAME = 200
SAMPLE = 20_000  # photos whose scores place a suggested threshold


class CategoryError(ValueError):
    """A category request that cannot be carried out; the message says why."""


def load_templates(path: Path = RESOURCES / "category_templates.json") -> tuple[str, ...]:
    """The prompt templates shipped in resources/."""
    return tuple(json.loads(path.read_text())["templates"])


@dataclass(frozen=True)
class CategoryDraft:
    """What a person typed: used to add or change a category, or to preview one unsaved."""

    name: str
    prompts: tuple[str, ...] = ()  # empty: the name itself
    examples: tuple[str | int, ...] = ()  # photos (paths or ids) that show what is meant
    negatives: tuple[str | int, ...] = ()  # photos that show what is not meant
    threshold: float | None = None  # None: automatic (the suggested threshold)


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    name: str
    prompts: tuple[str, ...]
    examples: tuple[str, ...]  # paths of positive example photos
    negatives: tuple[str, ...]  # paths of negative example photos
    threshold: float | None  # None: automatic
    pinned: int  # photos pinned in by a person
    excluded: int  # photos excluded by a person

    def draft(self) -> CategoryDraft:
        return CategoryDraft(self.name, self.prompts, self.examples, self.negatives, self.threshold)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "prompts": list(self.prompts),
            "examples": list(self.examples),
            "negatives": list(self.negatives),
            "threshold": self.threshold,
            "pinned": self.pinned,
            "excluded": self.excluded,
        }


@dataclass(frozen=True)
class Member:
    photo_id: int
    score: float  # cosine similarity to the category's prototype (best category's, for Unsorted)
    correction: int = 0  # 1 pinned in, -1 excluded, 0 none


@dataclass
class Assignment:
    """Scores of every photo for every category, and where each photo goes."""

    key: tuple  # (space, generation, text version, revision) it was computed for
    names: list[str]
    photo_ids: np.ndarray  # [N] int64, ascending
    scores: np.ndarray  # [N, C] float32
    thresholds: np.ndarray  # [C] effective (explicit, else suggested)
    suggested: np.ndarray  # [C] from each category's score distribution
    best: np.ndarray  # [N] category index, -1 for Unsorted (best-single mode)
    member: np.ndarray  # [N, C] bool (multi-label mode)
    corrections: np.ndarray  # [N, C] int8: 1 pinned, -1 excluded
    seconds: float = 0.0  # compute time, for the curious

    def index_of(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise CategoryError(f"no category named {name!r}") from None

    def members(self, name: str, multi: bool = False) -> list[Member]:
        """Photos in a category (or in Unsorted), best score first."""
        if name == UNSORTED:
            rows = np.flatnonzero(~self.member.any(axis=1) if multi else self.best < 0)
            if self.scores.shape[1] == 0:
                return [Member(int(self.photo_ids[r]), 0.0) for r in rows]
            top = self.scores[rows].max(axis=1)
            order = np.argsort(-top, kind="stable")
            return [Member(int(self.photo_ids[rows[o]]), float(top[o])) for o in order]
        c = self.index_of(name)
        rows = np.flatnonzero(self.member[:, c] if multi else self.best == c)
        return self._members(rows, c)

    def _members(self, rows: np.ndarray, c: int) -> list[Member]:
        column = self.scores[rows, c]
        order = np.argsort(-column, kind="stable")
        return [
            Member(int(self.photo_ids[rows[o]]), float(column[o]), int(self.corrections[rows[o], c]))
            for o in order
        ]

    def counts(self, multi: bool = False) -> dict[str, int]:
        """Photos per category, and in Unsorted."""
        if multi:
            out = {n: int(self.member[:, i].sum()) for i, n in enumerate(self.names)}
            out[UNSORTED] = int((~self.member.any(axis=1)).sum())
        else:
            tally = np.bincount(self.best + 1, minlength=len(self.names) + 1)
            out = {n: int(tally[i + 1]) for i, n in enumerate(self.names)}
            out[UNSORTED] = int(tally[0])
        return out

    def borderline(self, name: str, k: int = 12) -> list[Member]:
        """The k photos whose score is closest to the category's threshold, best first."""
        c = self.index_of(name)
        rows = np.argsort(np.abs(self.scores[:, c] - self.thresholds[c]), kind="stable")[:k]
        return self._members(rows, c)

    def category_of(self, photo_id: int) -> str:
        """Where one photo goes in best-single mode."""
        row = int(np.searchsorted(self.photo_ids, photo_id))
        if row >= len(self.photo_ids) or self.photo_ids[row] != photo_id:
            raise CategoryError(f"photo {photo_id} has no vector in the active space")
        best = int(self.best[row])
        return UNSORTED if best < 0 else self.names[best]


@dataclass(frozen=True)
class Preview:
    """What an unsaved category would catch: counts, its best photos, and the borderline ones."""

    name: str
    threshold: float  # effective
    suggested: float
    caught: int
    total: int
    top: list[Member] = field(default_factory=list)
    borderline: list[Member] = field(default_factory=list)


# -- the pure part: scoring and assigning ---------------------------------------------------
def unit(vec: np.ndarray) -> np.ndarray:
    """`vec` scaled to unit length (rows, for a matrix)."""
    norm = np.linalg.norm(vec, axis=-1, keepdims=True)
    return vec / np.maximum(norm, 1e-8)


def prototype(text_vec: np.ndarray, positives: np.ndarray, negatives: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """One unit vector from the words and the example photos' stored vectors.

    Examples count by how they differ from the library's mean vector (`center`): every photo
    shares a large common direction, and adding or subtracting it would raise or lower every
    score alike instead of pulling toward (or away from) what the examples show.
    """
    proto = np.array(text_vec, np.float32)
    if len(positives):
        proto += POSITIVE_WEIGHT * _direction(positives, center)
    if len(negatives):
        proto -= NEGATIVE_WEIGHT * _direction(negatives, center)
    return unit(proto)


def _direction(examples: np.ndarray, center: np.ndarray | None) -> np.ndarray:
    mean = examples.mean(axis=0)
    if center is not None and np.linalg.norm(mean - center) > 1e-3:
        return unit(mean - center)
    return unit(mean)  # the examples are (nearly) the whole library: nothing to centre on


def suggest_threshold(scores: np.ndarray, bins: int = 128) -> float:
    """A threshold from one category's score distribution over the library.

    When the scores clearly form two groups (Otsu's split explains at least 70% of their
    variance; one Gaussian group gives 64%), the split between them. Otherwise the photos
    that stand out from the bulk: median + 3 robust standard deviations (1.4826 MAD), which
    finds a small cluster (a few % of the library) that Otsu's criterion misses, and keeps
    about 0.1% of an unrelated library.
    """
    scores = np.asarray(scores, np.float64)
    if len(scores) == 0:
        return 0.0
    low, high = float(scores.min()), float(scores.max())
    if high - low < 1e-6:
        return high
    hist, edges = np.histogram(scores, bins=bins, range=(low, high))
    p = hist / hist.sum()
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    mu = np.cumsum(p * centers)
    w1 = 1.0 - w0
    valid = (w0 > 1e-12) & (w1 > 1e-12)
    between = np.zeros_like(w0)
    between[valid] = (mu[-1] * w0[valid] - mu[valid]) ** 2 / (w0[valid] * w1[valid])
    split = int(np.argmax(between))
    variance = float(np.sum(p * (centers - mu[-1]) ** 2))
    if variance > 0 and between[split] / variance >= 0.70:
        return float(edges[split + 1])
    median = float(np.median(scores))
    spread = 1.4826 * float(np.median(np.abs(scores - median)))
    return median + 3.0 * max(spread, 1e-6)


def assign(scores: np.ndarray, thresholds: np.ndarray, corrections: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(best category per photo or -1, multi-label membership) from scores and thresholds.

    Corrections (1 pinned, -1 excluded) always win over scores.
    """
    margin = scores - thresholds[None, :]
    member = margin >= 0
    if corrections is not None:
        rows, cols = np.nonzero(corrections)  # a person's corrections are few: touch only those
        if len(rows):
            pinned = corrections[rows, cols] > 0
            member[rows, cols] = pinned
            margin[rows, cols] = np.where(pinned, margin[rows, cols] + PIN_BONUS, -np.inf)
    if scores.shape[1] == 0:
        return np.full(scores.shape[0], -1, np.int64), member
    best = np.argmax(margin, axis=1)
    passed = np.take_along_axis(margin, best[:, None], axis=1)[:, 0] >= 0
    return np.where(passed, best, -1), member


def score_library(
    vectors: np.ndarray,
    prototypes: np.ndarray,
    explicit: Sequence[float | None],
    corrections: np.ndarray | None = None,
    sample: int = SAMPLE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scores, suggested and effective thresholds, best and membership: the whole recompute.

    Suggestions read the score distribution of an evenly spaced sample of `sample` photos:
    plenty to place a threshold, and it keeps suggesting cheap on large libraries.
    """
    scores = vectors @ prototypes.T if len(prototypes) else np.zeros((len(vectors), 0), np.float32)
    step = max(1, len(scores) // sample)
    columns = np.ascontiguousarray(scores[::step].T)
    suggested = np.array([suggest_threshold(column) for column in columns], np.float32).reshape(-1)
    thresholds = np.array(
        [s if t is None else t for s, t in zip(suggested, explicit)], np.float32
    ).reshape(-1)
    best, member = assign(scores, thresholds, corrections)
    return scores, suggested, thresholds, best, member


# -- the library-facing part ----------------------------------------------------------------
@dataclass(frozen=True)
class _Definition:
    id: int
    name: str
    prompts: tuple[str, ...]
    positives: tuple[int, ...]
    negatives: tuple[int, ...]
    threshold: float | None


class Categories:
    """Category definitions and corrections in the catalog; assignments computed on demand."""

    def __init__(self, library: Library, templates: Sequence[str] | None = None) -> None:
        self.library = library
        self.catalog = library.catalog
        self.templates = tuple(templates) if templates is not None else load_templates()
        self._lock = threading.RLock()
        self._vectors: tuple[tuple, np.ndarray, np.ndarray] | None = None  # key, ids, matrix
        self._texts: dict[tuple[str, str, str], np.ndarray] = {}  # (space, text version, text) -> unit vector
        self._assignment: Assignment | None = None

    @property
    def encoder(self) -> Encoder:
        """The library's serving model: a completed image-model switch replaces it (and its text tower)."""
        return self.library.encoder

    # -- definitions ---------------------------------------------------------------------
    def all(self) -> list[CategoryInfo]:
        """Every category, by name."""
        with self.catalog.reading() as s:
            ids = s.scalars(select(Category.id).order_by(func.lower(Category.name), Category.id)).all()
            return [self._info(s, i) for i in ids]

    def get(self, name: str) -> CategoryInfo:
        with self.catalog.reading() as s:
            return self._info(s, self._find(s, name).id)

    def add(self, draft: CategoryDraft) -> CategoryInfo:
        """Create a category. Raises CategoryError for a bad or duplicate name, or unknown photos."""
        name = self._check_name(draft.name)
        prompts = _clean_prompts(draft.prompts, name)
        threshold = _check_threshold(draft.threshold)
        with self.catalog.writing() as s:
            if self._lookup(s, name) is not None:
                raise CategoryError(f"a category named {name!r} already exists")
            category = Category(name=name, prompts=json.dumps(prompts), threshold=AUTO if threshold is None else threshold)
            s.add(category)
            s.flush()
            self._set_examples(s, category.id, draft.examples, draft.negatives)
            _bump(s)
            return self._info(s, category.id)

    def update(self, name: str, draft: CategoryDraft) -> CategoryInfo:
        """Replace a category's name, prompts, examples and threshold; corrections are kept."""
        new_name = self._check_name(draft.name)
        prompts = _clean_prompts(draft.prompts, new_name)
        threshold = _check_threshold(draft.threshold)
        with self.catalog.writing() as s:
            category = self._find(s, name)
            other = self._lookup(s, new_name)
            if other is not None and other.id != category.id:
                raise CategoryError(f"a category named {new_name!r} already exists")
            category.name = new_name
            category.prompts = json.dumps(prompts)
            category.threshold = AUTO if threshold is None else threshold
            s.execute(delete(CategoryExample).where(CategoryExample.category_id == category.id))
            s.flush()
            self._set_examples(s, category.id, draft.examples, draft.negatives)
            s.flush()
            sync_pin_captions(s, self._pinned(s, category.id))  # the pins' captions follow the category's words
            _bump(s)
            return self._info(s, category.id)

    def remove(self, name: str) -> None:
        """Delete a category with its examples and corrections (photos are untouched)."""
        with self.catalog.writing() as s:
            category = self._find(s, name)
            pinned = self._pinned(s, category.id)
            s.delete(category)  # its examples and corrections go with it (foreign keys cascade)
            s.flush()
            sync_pin_captions(s, pinned)
            _bump(s)

    # -- corrections ---------------------------------------------------------------------
    def pin(self, name: str, photos: Iterable[str | int]) -> int:
        """Always put these photos in this category (stored for the trainer as captions too)."""
        return self._correct(name, photos, True)

    def exclude(self, name: str, photos: Iterable[str | int]) -> int:
        """Never put these photos in this category."""
        return self._correct(name, photos, False)

    def clear(self, name: str, photos: Iterable[str | int]) -> int:
        """Forget corrections of these photos for this category: scores decide again."""
        return self._correct(name, photos, None)

    def _correct(self, name: str, photos: Iterable[str | int], pinned: bool | None) -> int:
        with self.catalog.writing() as s:
            category = self._find(s, name)
            ids = self._photo_ids(s, photos)
            for photo_id in ids:
                s.execute(
                    delete(CategoryPin).where(CategoryPin.category_id == category.id, CategoryPin.photo_id == photo_id)
                )
                if pinned is not None:
                    s.add(CategoryPin(category_id=category.id, photo_id=photo_id, pinned=pinned))
            s.flush()
            sync_pin_captions(s, ids)  # a pin is stored for the trainer as a caption too; an undone one is not
            _bump(s)
            return len(ids)

    # -- assignment ----------------------------------------------------------------------
    def state_key(self) -> tuple:
        """What assignments depend on: (space, vector generation, text-tower version, revision)."""
        encoder = self.encoder  # once: a switch may replace it meanwhile
        with self.catalog.reading() as s:
            generation = space_generation(s, encoder.space_id)
            row = s.get(Setting, REVISION_KEY)
        return (encoder.space_id, generation, encoder.text_version, int(row.value) if row else 0)

    def assignment(self) -> Assignment:
        """Current assignments: from the cache when nothing they depend on changed."""
        with self._lock:
            key = self.state_key()
            if self._assignment is not None and self._assignment.key == key:
                return self._assignment
            definitions, corrections_rows = self._definitions()
            ids, vectors = self._library_vectors(key)
            prototypes = self._prototypes(definitions, ids, vectors)
            corrections = _corrections_matrix(ids, [d.id for d in definitions], corrections_rows)
            started = time.perf_counter()
            scores, suggested, thresholds, best, member = score_library(
                vectors, prototypes, [d.threshold for d in definitions], corrections
            )
            self._assignment = Assignment(
                key, [d.name for d in definitions], ids, scores, thresholds, suggested, best, member,
                corrections, time.perf_counter() - started,
            )
            return self._assignment

    def preview(self, draft: CategoryDraft, editing: str | None = None, top: int = 48, borderline: int = 12) -> Preview:
        """What `draft` would catch, without saving it (the editor's live preview).

        `editing` names the saved category being edited, whose corrections then apply.
        """
        name = draft.name.strip() or "(unnamed)"
        prompts = _clean_prompts(draft.prompts, name)
        threshold = _check_threshold(draft.threshold)
        with self._lock:
            key = self.state_key()
            with self.catalog.reading() as s:
                positives = tuple(self._photo_ids(s, draft.examples))
                negatives = tuple(self._photo_ids(s, draft.negatives))
                category = self._lookup(s, editing) if editing else None
                rows = (
                    s.execute(select(CategoryPin.photo_id, CategoryPin.pinned).where(CategoryPin.category_id == category.id)).all()
                    if category is not None
                    else []
                )
            ids, vectors = self._library_vectors(key)
            definition = _Definition(-1, name, prompts, positives, negatives, threshold)
            proto = self._prototypes([definition], ids, vectors)
            corrections = _corrections_matrix(ids, [-1], [(-1, pid, pinned) for pid, pinned in rows])
        scores, suggested, thresholds, _, member = score_library(vectors, proto, [threshold], corrections)
        assignment = Assignment(key, [name], ids, scores, thresholds, suggested, np.where(member[:, 0], 0, -1), member, corrections)
        caught = assignment.members(name, multi=True)
        return Preview(
            name, float(thresholds[0]) if len(thresholds) else 0.0, float(suggested[0]) if len(suggested) else 0.0,
            len(caught), len(ids), caught[:top], assignment.borderline(name, borderline) if len(ids) else [],
        )

    def paths(self, photo_ids: Iterable[int] | None = None) -> dict[int, str]:
        """Photo id -> path, for some photos or all."""
        query = select(Photo.id, Photo.path)
        with self.catalog.reading() as s:
            if photo_ids is None:
                return dict(s.execute(query).all())
            wanted = list(photo_ids)
            out: dict[int, str] = {}
            for start in range(0, len(wanted), 900):
                out.update(s.execute(query.where(Photo.id.in_(wanted[start : start + 900]))).all())
            return out

    def groups(self, multi: bool = False, names: Sequence[str] | None = None) -> dict[str, list[tuple[int, str, float]]]:
        """Category name (and Unsorted) -> [(photo id, path, score)], best first."""
        assignment = self.assignment()
        wanted = list(names) if names else [*assignment.names, UNSORTED]
        for name in wanted:
            if name != UNSORTED:
                assignment.index_of(name)  # raises CategoryError for an unknown name
        groups = {name: assignment.members(name, multi) for name in wanted}
        paths = self.paths(m.photo_id for ms in groups.values() for m in ms)
        return {
            name: [(m.photo_id, paths[m.photo_id], m.score) for m in members if m.photo_id in paths]
            for name, members in groups.items()
        }

    # -- internals -----------------------------------------------------------------------
    def _definitions(self) -> tuple[list[_Definition], list[tuple[int, int, bool]]]:
        with self.catalog.reading() as s:
            categories = s.scalars(select(Category).order_by(func.lower(Category.name), Category.id)).all()
            examples = s.execute(select(CategoryExample.category_id, CategoryExample.photo_id, CategoryExample.positive)).all()
            pins = s.execute(select(CategoryPin.category_id, CategoryPin.photo_id, CategoryPin.pinned)).all()
        definitions = []
        for c in categories:
            pos = tuple(p for cid, p, positive in examples if cid == c.id and positive)
            neg = tuple(p for cid, p, positive in examples if cid == c.id and not positive)
            definitions.append(_Definition(c.id, c.name, tuple(json.loads(c.prompts)), pos, neg, _threshold(c)))
        return definitions, [tuple(r) for r in pins]

    def _library_vectors(self, key: tuple) -> tuple[np.ndarray, np.ndarray]:
        vectors_key = key[:2]  # space and generation: every vector change bumps the generation
        if self._vectors is None or self._vectors[0] != vectors_key:
            self._vectors = None  # let the old matrix go before the new one is loaded
            with self.catalog.reading() as s:
                ids, matrix = load_vectors(s, key[0])
            if len(ids) == 0:
                matrix = np.zeros((0, self.encoder.dim), np.float32)
            # Stored vectors are unit length up to float16 rounding; renormalise in place
            # (100k x 512 float32 is 200 MB: no second copy).
            matrix /= np.maximum(np.sqrt(np.einsum("ij,ij->i", matrix, matrix)), 1e-8)[:, None]
            self._vectors = (vectors_key, ids, matrix)
        return self._vectors[1], self._vectors[2]

    def _prototypes(self, definitions: Sequence[_Definition], ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        if not definitions:
            return np.zeros((0, vectors.shape[1]), np.float32)
        texts = self._ensembles([d.prompts for d in definitions])

        def rows(photo_ids: tuple[int, ...]) -> np.ndarray:
            wanted = np.asarray(photo_ids, np.int64)
            at = np.searchsorted(ids, wanted)
            found = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == wanted) if len(ids) else np.zeros(len(wanted), bool)
            return vectors[at[found]]

        center = vectors.mean(axis=0) if len(vectors) else None
        return np.stack([prototype(t, rows(d.positives), rows(d.negatives), center) for t, d in zip(texts, definitions)])

    def _ensembles(self, prompt_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """Each category's prompt ensemble: unit mean of its prompts in every template."""
        encoder = self.encoder
        # Text vectors belong to a space as much as to a text-tower version: each image model
        # has its own text tower, and every space starts at version 'base'.
        tower = (encoder.space_id, encoder.text_version)
        if any(k[:2] != tower for k in self._texts):
            self._texts = {k: v for k, v in self._texts.items() if k[:2] == tower}
        filled = [[t.format(p) for p in prompts for t in self.templates] for prompts in prompt_lists]
        missing = sorted({t for texts in filled for t in texts if (*tower, t) not in self._texts})
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            for t, vec in zip(chunk, encoder.encode_texts(chunk)):
                self._texts[(*tower, t)] = vec
        return np.stack([unit(np.mean([self._texts[(*tower, t)] for t in texts], axis=0)) for texts in filled])

    def _check_name(self, name: str) -> str:
        name = " ".join(str(name).split())  # one line, single spaces
        if not name:
            raise CategoryError("a category needs a name")
        if name.casefold() == UNSORTED.casefold():
            raise CategoryError(f"{UNSORTED!r} is the bucket for photos no category takes; choose another name")
        if len(name) > MAX_NAME:
            raise CategoryError(f"a category name can be at most {MAX_NAME} characters")
        return name

    @staticmethod
    def _lookup(s: Session, name: str | None) -> Category | None:
        if name is None:
            return None
        name = " ".join(str(name).split())
        exact = s.scalar(select(Category).where(Category.name == name))
        return exact or s.scalar(select(Category).where(func.lower(Category.name) == name.lower()))

    def _find(self, s: Session, name: str) -> Category:
        category = self._lookup(s, name)
        if category is None:
            raise CategoryError(f"no category named {name!r} (see `categories list`)")
        return category

    def _photo_ids(self, s: Session, photos: Iterable[str | int]) -> list[int]:
        ids: list[int] = []
        for ref in photos:
            if isinstance(ref, (int, np.integer)):
                found = s.scalar(select(Photo.id).where(Photo.id == int(ref)))
            else:
                found = s.scalar(select(Photo.id).where(Photo.path == os.path.abspath(os.path.expanduser(str(ref)))))
            if found is None:
                raise CategoryError(f"not in the library (index it first): {ref}")
            if found not in ids:
                ids.append(int(found))
        return ids

    def _set_examples(self, s: Session, category_id: int, positives: Iterable[str | int], negatives: Iterable[str | int]) -> None:
        pos = self._photo_ids(s, positives)
        neg = self._photo_ids(s, negatives)
        both = set(pos) & set(neg)
        if both:
            raise CategoryError("a photo cannot be both an example and a negative example of one category")
        for photo_id in pos:
            s.add(CategoryExample(category_id=category_id, photo_id=photo_id, positive=True))
        for photo_id in neg:
            s.add(CategoryExample(category_id=category_id, photo_id=photo_id, positive=False))

    @staticmethod
    def _pinned(s: Session, category_id: int) -> list[int]:
        return list(s.scalars(select(CategoryPin.photo_id).where(CategoryPin.category_id == category_id, CategoryPin.pinned.is_(True))))

    def _info(self, s: Session, category_id: int) -> CategoryInfo:
        c = s.get(Category, category_id)
        examples = s.execute(
            select(Photo.path, CategoryExample.positive)
            .join(CategoryExample, CategoryExample.photo_id == Photo.id)
            .where(CategoryExample.category_id == category_id)
            .order_by(Photo.path)
        ).all()
        pins = s.execute(
            select(CategoryPin.pinned, func.count()).where(CategoryPin.category_id == category_id).group_by(CategoryPin.pinned)
        ).all()
        counts = {bool(p): int(n) for p, n in pins}
        return CategoryInfo(
            c.id, c.name, tuple(json.loads(c.prompts)),
            tuple(p for p, positive in examples if positive), tuple(p for p, positive in examples if not positive),
            _threshold(c), counts.get(True, 0), counts.get(False, 0),
        )


def _threshold(category: Category) -> float | None:
    return None if category.threshold < -1.0 else float(category.threshold)


def _clean_prompts(prompts: Iterable[str], name: str) -> list[str]:
    out: list[str] = []
    for p in prompts:
        p = " ".join(str(p).split())
        if p and p not in out:
            out.append(p)
    return out or [name]


def _check_threshold(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not -1.0 <= value <= 1.0:
        raise CategoryError("a threshold is a similarity between -1 and 1")
    return value


def _bump(s: Session) -> None:
    """Mark every cached assignment stale (inside the caller's write)."""
    row = s.get(Setting, REVISION_KEY)
    if row is None:
        s.add(Setting(key=REVISION_KEY, value="1"))
    else:
        row.value = str(int(row.value) + 1)


def _corrections_matrix(ids: np.ndarray, category_ids: list[int], rows: Iterable[tuple[int, int, bool]]) -> np.ndarray:
    """[N, C] int8 from (category id, photo id, pinned) rows; photos without a vector are ignored."""
    out = np.zeros((len(ids), len(category_ids)), np.int8)
    column = {cid: i for i, cid in enumerate(category_ids)}
    for cid, photo_id, pinned in rows:
        c = column.get(cid)
        if c is None or len(ids) == 0:
            continue
        r = int(np.searchsorted(ids, photo_id))
        if r < len(ids) and ids[r] == photo_id:
            out[r, c] = 1 if pinned else -1
    return out
