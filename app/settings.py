"""What the app remembers between runs (geometry, last filters), in a file under the data home.

QSettings is pointed at an INI file inside the data home rather than the platform registry,
so a test's temporary home (or $LITPHOTOS_HOME) isolates everything the app writes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QSettings

from engine.library import Filters

FILE_NAME = "app-settings.ini"
POLLING_S = 60.0  # "look for changes regularly": how often, unless the settings file says otherwise


def open_settings(home: Path) -> QSettings:
    """The app's settings file under `home`."""
    return QSettings(str(Path(home) / FILE_NAME), QSettings.Format.IniFormat)


def save_filters(settings: QSettings, filters: Filters) -> None:
    """Remember the filters of the search bar."""
    settings.setValue("filters/folder", filters.folder or "")
    settings.setValue("filters/after", filters.after.isoformat() if filters.after else "")
    settings.setValue("filters/before", filters.before.isoformat() if filters.before else "")
    settings.setValue("filters/min_score", "" if filters.min_score is None else repr(filters.min_score))


def load_filters(settings: QSettings) -> Filters:
    """The filters remembered last time (a damaged value is just forgotten)."""

    def text(key: str) -> str:
        return str(settings.value(f"filters/{key}", "") or "")

    def day(key: str) -> date | None:
        try:
            return date.fromisoformat(text(key)) if text(key) else None
        except ValueError:
            return None

    try:
        min_score = float(text("min_score")) if text("min_score") else None
    except ValueError:
        min_score = None
    return Filters(folder=text("folder") or None, after=day("after"), before=day("before"), min_score=min_score)


def load_polling(settings: QSettings) -> tuple[bool, float]:
    """(whether folders are looked at regularly instead of followed by change events, how often in s)."""
    on = str(settings.value("watching/polling", "false")).lower() == "true"
    try:
        seconds = float(settings.value("watching/polling_s", POLLING_S))
    except (TypeError, ValueError):
        seconds = POLLING_S
    return on, seconds if seconds > 0 else POLLING_S


def save_polling(settings: QSettings, on: bool, seconds: float) -> None:
    settings.setValue("watching/polling", "true" if on else "false")
    settings.setValue("watching/polling_s", seconds)
