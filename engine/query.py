"""The combined-query language: `"2:beach" + sunset - people`, and image terms.

Terms are joined by `+` and `-` (with spaces around them, so "black-and-white" stays one
term). A term may start with a weight, `W:`. A term that names an existing image file is an
image term: its picture is the query ("more like this").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from engine.images import EXTENSIONS

_OPERATOR = re.compile(r"(?:^|\s+)([+-])\s+")
_WEIGHT = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*:\s*(.+)$", re.S)


class QueryError(ValueError):
    """A query that cannot be understood; the message says why."""


@dataclass(frozen=True)
class Term:
    weight: float  # negative for "-" terms
    text: str
    image: str | None = None  # absolute path when the term names an image file

    @property
    def is_image(self) -> bool:
        return self.image is not None


def parse(query: str) -> list[Term]:
    """Split a query into weighted terms. Raises QueryError on an empty query."""
    query = query.strip()
    if not query:
        raise QueryError("the query is empty")
    parts = _OPERATOR.split(" " + query if query[0] in "+-" and query[1:2].isspace() else query)
    sign = 1.0
    pieces: list[tuple[float, str]] = []
    for i, part in enumerate(parts):
        if i % 2 == 1:
            sign = -1.0 if part == "-" else 1.0
            continue
        part = part.strip()
        if not part:
            continue
        pieces.append((sign, part))
        sign = 1.0
    terms = []
    for sign, raw in pieces:
        raw = _unquote(raw)
        weight = 1.0
        match = _WEIGHT.match(raw)
        if match:
            weight, raw = float(match.group(1)), _unquote(match.group(2).strip())
        if not raw:
            continue
        terms.append(Term(sign * weight, raw, _image_path(raw)))
    if not terms:
        raise QueryError("the query has no terms")
    if all(t.weight <= 0 for t in terms):
        raise QueryError("the query needs at least one positive term")
    return terms


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def _image_path(text: str) -> str | None:
    path = os.path.expanduser(text)
    if os.path.splitext(path)[1].lower() in EXTENSIONS and os.path.isfile(path):
        return os.path.abspath(path)
    return None
