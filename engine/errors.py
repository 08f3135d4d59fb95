"""The failures that the environment or the person causes, as opposed to bugs.

Both front ends (the command line and the app) show these as one plain message; anything
else is a bug and goes to the crash log with its traceback.
"""

from __future__ import annotations


def expected_errors() -> tuple[type[BaseException], ...]:
    """Exception types that deserve a one-line message, not a traceback (imported lazily)."""
    from engine.catalog import CatalogLocked, CatalogTooNew
    from engine.images import UnreadableImage
    from engine.library import FolderError
    from engine.query import QueryError
    from engine.spaces import SpaceError
    from engine.specs import UnknownModel
    from engine.weights import WeightsUnavailable

    return (
        CatalogLocked, CatalogTooNew, UnreadableImage, FolderError, QueryError, SpaceError, UnknownModel,
        WeightsUnavailable, OSError,  # a home folder that cannot be written, a full disk
    )
