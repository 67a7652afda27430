"""Engines: one per database URL per process, shared by every session object.

Building an engine opens no connection; the first query does. SQLite files run in WAL
mode with ``synchronous=FULL`` (a returned write survives power loss) and a busy
timeout, so several processes can write one file. PostgreSQL uses a pool that pings
a connection which sat idle before handing it out, so a connection the server dropped
is replaced instead of failing a call, while a busy pool pays no extra round trip.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
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
        text = url
        try:
            url = make_url(text)
        except ArgumentError:
            # Shown as given only when it cannot hold a password.
            return text if "@" not in text and ":" not in text.partition("//")[2] else "<URL>"
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


def _sqlite_on_connect(busy_timeout: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # pysqlite's own transaction handling issues a deferred BEGIN lazily, which lets
        # two writers both read and then deadlock on upgrade; pyai issues BEGIN
        # IMMEDIATE itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Pragmas go here, on every new connection: a hook installed after the pool
            # already held a connection would leave that connection unconfigured.
            _enable_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    return on_connect


def _enable_wal(cursor: Any, busy_timeout: float) -> None:
    # Switching a file to WAL needs an exclusive lock, and SQLite answers "database is
    # locked" at once, without its busy handler, while another process holds any lock
    # (several processes opening a new file together). Once the file is in WAL mode
    # (the mode is stored in the file) there is nothing to switch.
    (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
    if str(mode).lower() == "wal":
        return
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


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
            # pyai ends every transaction itself (COMMIT or ROLLBACK) and reads outside
            # one, so the pool's rollback on return is pure overhead on the hot path.
            pool_reset_on_return=None,
        )
        event.listen(engine, "connect", _sqlite_on_connect(busy_timeout))
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    try:
        engine = create_engine(
            url,
            pool_size=10,
            max_overflow=20,
            # Timestamps come back in UTC (pyai's timezone), with no conversion per row;
            # options given in the URL are kept.
            connect_args={"options": f"{url.query.get('options', '')} -c TimeZone=UTC".strip()},
        )
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the PostgreSQL driver is not installed ({exc.name}); "
            "install it with: pip install 'pyai[postgres]'"
        ) from None
    event.listen(engine.pool, "checkin", _remember_checkin)
    event.listen(engine.pool, "checkout", _ping_if_idle)
    return engine


#: A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE = 1.0


def _remember_checkin(dbapi_connection: Any, connection_record: Any) -> None:
    connection_record.info["pyai_checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, connection_record: Any, proxy: Any) -> None:
    # Pre-ping, but only for connections that sat idle: SQLAlchemy's pool_pre_ping
    # costs a round trip on every checkout, which would double the cost of an append.
    # A connection that was just returned is as alive as a ping could show.
    checked_in = connection_record.info.get("pyai_checked_in")
    if checked_in is None or time.monotonic() - checked_in < PING_AFTER_IDLE:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as exc:
        # The documented way to make the pool discard this connection and try another.
        raise DisconnectionError("pooled connection failed its ping") from exc


def shared_engine(url: URL, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """The process-wide engine for ``url`` (built on first use).

    ``sqlite://`` in-memory databases are never shared: each call gets its own.
    """
    if url.get_backend_name() == "sqlite" and url.database == ":memory:":
        return _build(url, busy_timeout)
    key = f"{url.render_as_string(hide_password=False)} busy={busy_timeout}"
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
        event.listen(engine, "connect", _sqlite_on_connect(busy_timeout))
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
