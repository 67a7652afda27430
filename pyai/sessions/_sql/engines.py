"""Engines: one per database URL per process, shared by every session object.

Building an engine opens no connection; the first query does. SQLite files run in WAL
mode with ``synchronous=FULL`` (a returned write survives power loss) and a busy
timeout, so several processes can write one file. PostgreSQL uses a pool with
pre-ping, so a connection the server dropped is replaced instead of failing a call.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "dispose_engines",
    "migration_engine",
    "normalize_url",
    "safe_url",
    "shared_engine",
    "sqlite_url",
]

DEFAULT_BUSY_TIMEOUT = 30.0

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def safe_url(url: URL | str) -> str:
    """The URL as text with any password replaced by ``***``."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "<unparseable URL>"
    return url.render_as_string(hide_password=True)


def sqlite_url(db_path: str | os.PathLike[str]) -> URL:
    """The URL of a SQLite file (absolute, so equal paths share one engine)."""
    path = os.fspath(db_path)
    if path in ("", ":memory:"):
        return URL.create("sqlite", database=":memory:")
    return URL.create("sqlite", database=str(Path(path).expanduser().resolve()))


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL and pick pyai's default driver.

    ``postgresql://`` means psycopg 3 unless the URL names a driver; relative SQLite
    paths are made absolute.

    Raises:
        ConfigurationError: the URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise ConfigurationError(
            f"cannot parse database URL {safe_url(str(url))!r}; expected e.g. "
            "sqlite:///sessions.db or postgresql://user:pass@host:5432/db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return parsed.set(database=":memory:")
        if parsed.database.startswith("file:"):
            return parsed
        return parsed.set(database=str(Path(parsed.database).expanduser().resolve()))
    if backend in ("postgresql", "postgres"):
        driver = parsed.get_driver_name()
        if parsed.drivername in ("postgresql", "postgres"):
            driver = "psycopg"
        return parsed.set(drivername=f"postgresql+{driver}")
    raise ConfigurationError(
        f"unsupported database {backend!r} in {safe_url(parsed)!r}; "
        "pyai's SQL store runs on sqlite:// and postgresql://"
    )


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # pysqlite's own transaction handling issues a deferred BEGIN lazily, which lets two
    # writers both read and then deadlock on upgrade; pyai issues BEGIN IMMEDIATE itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Pragmas go here, on every new connection: a hook installed after the pool
        # already held a connection would leave that connection unconfigured.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # SQLAlchemy-driven transactions (Alembic migrations) take the write lock up front.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _build(url: URL, busy_timeout: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        memory = url.database == ":memory:"
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout, "check_same_thread": False},
            # One connection is the whole database for :memory:; a pool would hand out
            # a fresh, empty database per connection.
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the PostgreSQL driver is not installed ({exc.name}); "
            "install it with: pip install 'pyai[postgres]'"
        ) from None


def shared_engine(url: URL, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """The process-wide engine for ``url`` (built on first use).

    ``sqlite://`` in-memory databases are never shared: each call gets its own.
    """
    if url.get_backend_name() == "sqlite" and url.database == ":memory:":
        return _build(url, busy_timeout)
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _build(url, busy_timeout)
        return engine


def dispose_engines() -> None:
    """Close every shared engine's pool (e.g. at shutdown). Engines rebuild on next use."""
    with _engines_lock:
        engines = list(_engines.values())
    for engine in engines:
        engine.dispose()


def migration_engine(url: URL, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """A throwaway engine (no pool) for Alembic, configured like the shared ones."""
    from sqlalchemy.pool import NullPool

    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": busy_timeout}, poolclass=NullPool)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    try:
        return create_engine(url, poolclass=NullPool)
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the PostgreSQL driver is not installed ({exc.name}); "
            "install it with: pip install 'pyai[postgres]'"
        ) from None


def _after_fork() -> None:
    global _engines_lock
    # A lock held by another thread at fork time would never be released in the child.
    _engines_lock = threading.Lock()
    # A child process must not reuse the parent's sockets or SQLite handles; drop the
    # inherited pools without closing them (the parent still uses them).
    for engine in list(_engines.values()):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork)
