"""The catalog: SQLite (WAL) through SQLAlchemy 2.0, the source of truth for photos and vectors.

The catalog owns the schema; callers own the unit of work:

    with catalog.reading() as s:   # a consistent snapshot; never blocks the writer
        ...
    with catalog.writing() as s:   # BEGIN IMMEDIATE: one writer at a time, committed on exit
        ...

Paths are stored as the file system's bytes, so any file name (including names that are not
valid UTF-8) round-trips exactly; in Python they are `str` (surrogate-escaped where needed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    cast,
    create_engine,
    event,
    exists,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 4

# Migration steps: the SQL that takes a catalog from version n to n+1, each step explained.
MIGRATIONS: dict[int, list[str]] = {
    # 1 -> 2: folders.device, the file system a folder's photos were last read from. An empty
    # root that held photos is offline if it is now on another device (the mount point an
    # unmounted drive leaves behind), emptied on purpose if on the same one. NULL (catalogs
    # from version 1, until their next scan) keeps the old, safe reading: offline.
    1: ["ALTER TABLE folders ADD COLUMN device INTEGER"],
    # 2 -> 3: failures.folder, set for a folder that could not be listed (its photos stay,
    # unavailable). "Is this photo below an unreadable folder" then reads only those few
    # rows, not every corrupt file: 110 s -> well under a second for 100k photos waiting
    # against 5,000 failures. Older rows are told apart by the scanner's reason texts.
    2: [
        "ALTER TABLE failures ADD COLUMN folder BOOLEAN NOT NULL DEFAULT 0",
        "UPDATE failures SET folder = 1 WHERE reason LIKE 'folder cannot be read:%' OR reason LIKE 'cannot be read:%'",
        "CREATE INDEX ix_failures_folder ON failures (folder)",
    ],
    # 3 -> 4: the mounts table (drives mounted inside a chosen folder), a new table that
    # `create_all` makes before the steps run; it fills at the next scan.
    3: [],
}


class CatalogLocked(RuntimeError):
    """Another process held the catalog's write lock for longer than we were willing to wait."""


class CatalogTooNew(RuntimeError):
    """The catalog was written by a newer version of the program."""


class FsPath(TypeDecorator):
    """A path as the file system's bytes in SQLite, a `str` in Python (lossless for any name)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001, ANN201
        if value is None or isinstance(value, bytes):
            return value
        return os.fsencode(str(value))

    def process_result_value(self, value, dialect):  # noqa: ANN001, ANN201
        return None if value is None else os.fsdecode(bytes(value))


def path_key(path: str | Path) -> bytes:
    """The stored form of a path (for range queries on folder prefixes)."""
    return os.fsencode(str(path))


def prefix_range(folder: str | Path) -> tuple[bytes, bytes]:
    """[low, high) byte range of every path strictly inside `folder`."""
    base = path_key(folder).rstrip(b"/") + b"/"
    return base, base[:-1] + b"0"  # '0' sorts right after '/'


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Small key/value facts: schema version, active space, active text tower per space."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Folder(Base):
    """A folder the person chose. Only what is inside these is ever indexed (or written)."""

    __tablename__ = "folders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)
    added_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)
    online: Mapped[bool] = mapped_column(Boolean, default=True)  # False: root missing (unplugged drive)
    last_scan_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    device: Mapped[int | None] = mapped_column(Integer, nullable=True)  # st_dev of the root at its last scan


class Mount(Base):
    """A folder inside a chosen folder that another drive was mounted on, as last seen mounted.

    Unmounted, it is an empty folder of the drive beneath (or gone): its photos are then
    kept and shown unavailable, as for an unplugged root, instead of being taken as deleted.
    """

    __tablename__ = "mounts"
    path: Mapped[str] = mapped_column(FsPath, primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"), index=True)
    device: Mapped[int] = mapped_column(Integer)  # st_dev of the mounted drive


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are hnswlib labels: never reused
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # also the hnswlib label
    folder_id: Mapped[int] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String, index=True)  # size + first/last block
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String)
    taken_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # EXIF, else file mtime
    camera_make: Mapped[str | None] = mapped_column(String, nullable=True)
    camera_model: Mapped[str | None] = mapped_column(String, nullable=True)
    indexed_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)


class Space(Base):
    """An embedding space: one image tower (model + weights). Vectors belong to exactly one."""

    __tablename__ = "spaces"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    model_key: Mapped[str] = mapped_column(String)
    weights_id: Mapped[str] = mapped_column(String)
    dim: Mapped[int] = mapped_column(Integer)
    # Bumped by every committed change to this space's vectors; the vector index file is
    # stamped with the generation it reflects.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)


class Vector(Base):
    __tablename__ = "vectors"
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float16, unit length
    generation: Mapped[int] = mapped_column(Integer)  # the space generation that wrote it
    __table_args__ = (Index("ix_vectors_space_generation", "space_id", "generation"),)


class Removal(Base):
    """Tombstones: photo ids whose vectors left a space, so vector indexes can catch up."""

    __tablename__ = "removals"
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, index=True)


class Failure(Base):
    """A file that could not be indexed, and why. Retried only when its size or mtime change."""

    __tablename__ = "failures"
    path: Mapped[str] = mapped_column(FsPath, primary_key=True)
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)
    # A folder (or an entry of unknown kind) that could not be listed: photos below it stay.
    folder: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0", index=True)


def inside_failed_folder(path: ColumnElement) -> ColumnElement[bool]:
    """SQL: `path` lies below a folder that could not be listed.

    Its photos stay in the catalog, unavailable, until the folder can be read again. Only
    folder failures are read (through their index): a library may hold thousands of
    corrupt files, and this is asked for every photo a model switch waits for.
    """
    # `||` joins the stored bytes as text; the cast makes them bytes again, compared bytewise.
    return exists().where(
        Failure.folder.is_(True),
        path >= cast(Failure.path.op("||")(literal(b"/", LargeBinary)), LargeBinary),
        path < cast(Failure.path.op("||")(literal(b"0", LargeBinary)), LargeBinary),
    )


class Caption(Base):
    """Words a person (or their metadata) attached to a photo: the trainer's data."""

    __tablename__ = "captions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String)  # user, import, xmp, iptc, exif, folder, category
    created_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)
    __table_args__ = (Index("ux_captions_photo_text_source", "photo_id", "text", "source", unique=True),)


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, unique=True)
    prompts: Mapped[str] = mapped_column(Text)  # JSON list of strings
    threshold: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)


class CategoryExample(Base):
    """A photo that shows what a category means (positive) or does not (negative)."""

    __tablename__ = "category_examples"
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    positive: Mapped[bool] = mapped_column(Boolean, default=True)


class CategoryPin(Base):
    """A person's correction: this photo is (pinned) or is not (excluded) in this category."""

    __tablename__ = "category_pins"
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    pinned: Mapped[bool] = mapped_column(Boolean)  # True: pinned in; False: excluded
    at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)


class TextTower(Base):
    """A text-tower version made by the trainer; its parameters live in a small file."""

    __tablename__ = "text_towers"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    space_id: Mapped[str] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=datetime.now)
    file: Mapped[str] = mapped_column(Text)  # relative to the data home's towers/ folder
    record: Mapped[str] = mapped_column(Text)  # JSON: settings, data counts, metrics


class Catalog:
    """One SQLite file; sessions for reading (snapshot) and writing (exclusive, immediate)."""

    def __init__(self, path: Path, busy_timeout_s: float = 60.0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = _make_engine(path, busy_timeout_s)
        self._write_engine = self._engine.execution_options(lit_begin="IMMEDIATE")
        self._read = sessionmaker(self._engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._write_lock = threading.Lock()  # one writer per process; SQLite serialises processes
        self._migrate()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: one consistent snapshot."""
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write unit of work, committed on normal exit, rolled back on error."""
        with self._write_lock:
            try:
                with self._write() as session, session.begin():
                    yield session
            except OperationalError as exc:
                if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                    raise CatalogLocked(
                        "the catalog is busy in another program for too long; try again"
                    ) from exc
                raise

    def close(self) -> None:
        self._engine.dispose()

    # -- schema --------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self.writing() as s:
            conn = s.connection()
            Base.metadata.create_all(conn)
            row = s.get(Setting, "schema_version")
            version = int(row.value) if row else 0
            if version > SCHEMA_VERSION:
                raise CatalogTooNew(
                    f"{self.path} has schema version {version}; this program understands up to "
                    f"{SCHEMA_VERSION}: please update LiT Photos"
                )
            if version == 0:  # a new catalog: create_all made the current schema
                s.merge(Setting(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            while version < SCHEMA_VERSION:
                for statement in MIGRATIONS.get(version, []):
                    conn.exec_driver_sql(statement)
                version += 1
                s.merge(Setting(key="schema_version", value=str(version)))

    # -- settings ------------------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self.reading() as s:
            row = s.get(Setting, key)
            return row.value if row else default

    def set_setting(self, key: str, value: str | None) -> None:
        with self.writing() as s:
            if value is None:
                row = s.get(Setting, key)
                if row is not None:
                    s.delete(row)
            else:
                s.merge(Setting(key=key, value=value))


def _make_engine(path: Path, busy_timeout_s: float) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001, ANN202
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions are not serializable).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across app crashes
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001, ANN202
        mode = conn.get_execution_options().get("lit_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


# -- vectors ------------------------------------------------------------------------------
def pack_vector(vec: np.ndarray) -> bytes:
    return np.asarray(vec, dtype=np.float16).tobytes()


def unpack_vectors(blobs: list[bytes], dim: int) -> np.ndarray:
    """float32 [N, dim] from stored float16 blobs."""
    if not blobs:
        return np.zeros((0, dim), np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), dim).astype(np.float32)


def load_vectors(session: Session, space_id: str, photo_ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of a space, optionally for some photos only."""
    dim = session.scalar(select(Space.dim).where(Space.id == space_id)) or 0
    query = select(Vector.photo_id, Vector.vector).where(Vector.space_id == space_id)
    if photo_ids is not None:
        if not photo_ids:
            return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
        rows = []
        for start in range(0, len(photo_ids), 900):  # SQLite's bound-parameter limit
            chunk = photo_ids[start : start + 900]
            rows += session.execute(query.where(Vector.photo_id.in_(chunk))).all()
    else:
        rows = session.execute(query.order_by(Vector.photo_id)).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return ids, unpack_vectors([r[1] for r in rows], dim)


def photo_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Photo)) or 0)


def space_generation(session: Session, space_id: str) -> int:
    return int(session.scalar(select(Space.generation).where(Space.id == space_id)) or 0)


def ensure_space(session: Session, space_id: str, model_key: str, weights_id: str, dim: int) -> Space:
    space = session.get(Space, space_id)
    if space is None:
        space = Space(id=space_id, model_key=model_key, weights_id=weights_id, dim=dim, generation=0)
        session.add(space)
        session.flush()
    return space


def bump_generation(session: Session, space_id: str) -> int:
    """Advance a space's generation inside the current write; returns the new value."""
    session.execute(text("UPDATE spaces SET generation = generation + 1 WHERE id = :id"), {"id": space_id})
    return space_generation(session, space_id)


def delete_photos(session: Session, photo_ids: list[int]) -> None:
    """Delete photos (and, by cascade, their vectors, captions, pins), leaving tombstones."""
    if not photo_ids:
        return
    spaces = session.scalars(select(Space.id)).all()
    for space_id in spaces:
        generation = bump_generation(session, space_id)
        for start in range(0, len(photo_ids), 900):
            chunk = photo_ids[start : start + 900]
            session.execute(
                text(
                    "INSERT OR REPLACE INTO removals (space_id, photo_id, generation) "
                    "SELECT space_id, photo_id, :g FROM vectors WHERE space_id = :s AND photo_id IN (%s)"
                    % ",".join(str(int(i)) for i in chunk)
                ),
                {"g": generation, "s": space_id},
            )
    for start in range(0, len(photo_ids), 900):
        chunk = photo_ids[start : start + 900]
        session.execute(Photo.__table__.delete().where(Photo.id.in_(chunk)))
