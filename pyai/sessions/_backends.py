"""The session classes users construct, and ``open_session`` for URLs."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from ._codec import Limits
from ._memory import MemoryRepository
from ._session import Session
from ._sql.engines import DEFAULT_BUSY_TIMEOUT, normalize_url, safe_url, sqlite_url
from ._sql.registry import repository_for_engine, repository_for_url
from ._store import SessionStore
from .errors import ConfigurationError

__all__ = ["InMemorySession", "PostgresSession", "SQLiteSession", "open_session", "open_store"]

Ttl = float | timedelta | None


class SQLiteSession(Session):
    """A session in a SQLite file: the embedded default, no server needed.

    The file is created on first use and brought to the newest schema automatically.
    Every SQLiteSession on the same file in a process shares one engine. ``":memory:"``
    gives a private in-process database per object.

    Args:
        db_path: the database file (default ``sessions.db``) or ``":memory:"``.
        session_id: the id; generated (uuid4 hex) when omitted.
        ttl: seconds of inactivity before the session expires (sliding), or None.
        user_id: the session's owner.
        engine: use this engine (you own it) instead of ``db_path``.
        create_schema: bring the schema to head on first use (default True).
        busy_timeout: seconds to wait for another process's write lock.
        encryption_key: encrypt content and metadata at rest (see docs/encryption.md).
        limits: size limits (:class:`~pyai.sessions.Limits`).
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] = "sessions.db",
        session_id: str | None = None,
        *,
        ttl: Ttl = None,
        user_id: str | None = None,
        engine: Engine | None = None,
        create_schema: bool = True,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        encryption_key: str | Sequence[str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        if engine is not None:
            if engine.dialect.name != "sqlite":
                raise ConfigurationError("SQLiteSession needs a sqlite engine")
            repository = repository_for_engine(engine, create_schema=create_schema)
        else:
            repository = repository_for_url(
                sqlite_url(db_path), create_schema=create_schema, busy_timeout=busy_timeout
            )
        super().__init__(
            repository,
            session_id,
            ttl=ttl,
            user_id=user_id,
            encryption_key=encryption_key,
            limits=limits,
        )
        self._owns_repository = engine is None and os.fspath(db_path) == ":memory:"

    @property
    def location(self) -> str:
        """The database URL, password hidden."""
        return safe_url(self._repository.engine.url)  # type: ignore[attr-defined]

    def _release(self) -> None:
        if self._owns_repository:
            self._repository.close()


class PostgresSession(Session):
    """A session in PostgreSQL.

    The schema is managed by the DBA (``pyai db upgrade`` or ``alembic upgrade head``);
    a database that is not at the newest migration raises
    :class:`~pyai.sessions.errors.SchemaError` naming the fix, unless
    ``create_schema=True``. Sessions on the same URL share one engine and pool.

    Args:
        connection_string: ``postgresql://user:pass@host:5432/db`` (psycopg 3 unless
            the URL names another driver).
        session_id: the id; generated (uuid4 hex) when omitted.
        ttl: seconds of inactivity before the session expires (sliding), or None.
        user_id: the session's owner.
        engine: use this engine (you own it) instead of ``connection_string``.
        create_schema: migrate the database to head on first use.
        encryption_key: encrypt content and metadata at rest (see docs/encryption.md).
        limits: size limits (:class:`~pyai.sessions.Limits`).
    """

    def __init__(
        self,
        connection_string: str | None = None,
        session_id: str | None = None,
        *,
        ttl: Ttl = None,
        user_id: str | None = None,
        engine: Engine | None = None,
        create_schema: bool = False,
        encryption_key: str | Sequence[str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        if engine is not None:
            if engine.dialect.name != "postgresql":
                raise ConfigurationError("PostgresSession needs a postgresql engine")
            repository = repository_for_engine(engine, create_schema=create_schema)
        elif connection_string is None:
            raise ConfigurationError("PostgresSession needs connection_string= or engine=")
        else:
            url = normalize_url(connection_string)
            if url.get_backend_name() != "postgresql":
                raise ConfigurationError(
                    f"PostgresSession needs a postgresql:// URL, got {safe_url(url)!r}"
                )
            repository = repository_for_url(url, create_schema=create_schema)
        super().__init__(
            repository,
            session_id,
            ttl=ttl,
            user_id=user_id,
            encryption_key=encryption_key,
            limits=limits,
        )

    @property
    def location(self) -> str:
        """The database URL, password hidden."""
        return safe_url(self._repository.engine.url)  # type: ignore[attr-defined]


_memory_stores: dict[str, MemoryRepository] = {}
_memory_lock = threading.Lock()


def memory_repository(name: str = "default") -> MemoryRepository:
    """The process-wide in-memory store called ``name``."""
    with _memory_lock:
        repo = _memory_stores.get(name)
        if repo is None:
            repo = _memory_stores[name] = MemoryRepository()
        return repo


class InMemorySession(Session):
    """A session held in this process's memory (tests, prototypes).

    Every InMemorySession with the same ``store`` name (and ``memory://NAME`` URL)
    sees the same data, like sessions on one database do; nothing survives the process.

    Args:
        session_id: the id; generated (uuid4 hex) when omitted.
        ttl: seconds of inactivity before the session expires (sliding), or None.
        user_id: the session's owner.
        store: the name of the in-process store.
        encryption_key: encrypt content and metadata (see docs/encryption.md).
        limits: size limits (:class:`~pyai.sessions.Limits`).
    """

    def __init__(
        self,
        session_id: str | None = None,
        *,
        ttl: Ttl = None,
        user_id: str | None = None,
        store: str = "default",
        encryption_key: str | Sequence[str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(
            memory_repository(store),
            session_id,
            ttl=ttl,
            user_id=user_id,
            encryption_key=encryption_key,
            limits=limits,
        )
        self._store = store

    @property
    def location(self) -> str:
        """``memory://`` and the store's name."""
        return f"memory://{self._store}"


def open_session(url: str, session_id: str | None = None, **options: Any) -> Session:
    """A session for a URL: ``sqlite:///file.db``, ``postgresql://...``, ``redis://...``
    (or ``rediss://``) or ``memory://``.

    Args:
        url: where the session lives.
        session_id: the id; generated (uuid4 hex) when omitted.
        **options: passed to the backend's session class (``ttl``, ``user_id``,
            ``create_schema``, ...).

    Raises:
        ConfigurationError: an unknown scheme or malformed URL.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"url must be a string, got {type(url).__name__}")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "memory":
        name = url.split("://", 1)[-1].strip("/") or "default"
        return InMemorySession(session_id, store=name, **options)
    if scheme in ("redis", "rediss"):
        from ._redis import RedisSession

        return RedisSession(session_id, url=url, **options)
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SQLiteSession(parsed.database or ":memory:", session_id, **options)
    return PostgresSession(url, session_id, **options)


def open_store(url: str, **options: Any) -> SessionStore:
    """A :class:`SessionStore` for the same URLs as :func:`open_session`.

    Args:
        url: ``sqlite:///file.db``, ``postgresql://...``, ``redis://...`` or ``memory://``.
        **options: ``ttl`` (default for its sessions), ``encryption_key``, ``limits``,
            ``create_schema``, and the backend's connection options.

    Raises:
        ConfigurationError: an unknown scheme or malformed URL.
    """
    ttl = options.pop("ttl", None)
    session_options = {k: options.pop(k) for k in ("encryption_key", "limits") if k in options}
    probe = open_session(url, "store", **options)
    release = probe.close if getattr(probe, "_owns_repository", False) else None
    return SessionStore(
        probe.repository,
        ttl=ttl,
        location=probe.location,
        release=release,
        **session_options,
    )
