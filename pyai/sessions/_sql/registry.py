"""One repository per database per process, so session objects are cheap to create."""

from __future__ import annotations

import threading
import weakref

from sqlalchemy.engine import URL, Engine

from .engines import DEFAULT_BUSY_TIMEOUT, shared_engine
from .repository import SqlRepository

__all__ = ["repository_for_engine", "repository_for_url"]

_by_url: dict[str, SqlRepository] = {}
_by_engine: weakref.WeakKeyDictionary[Engine, SqlRepository] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def repository_for_url(
    url: URL, *, create_schema: bool, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> SqlRepository:
    """The shared repository for ``url`` (normalised); builds no connection.

    ``sqlite://`` in-memory databases get a new repository (and database) per call.
    """
    if url.get_backend_name() == "sqlite" and url.database == ":memory:":
        engine = shared_engine(url, busy_timeout=busy_timeout)
        return SqlRepository(engine, owns_engine=True, auto_upgrade=create_schema)
    # The busy timeout is a property of SQLite connections: objects asking for another
    # one get an engine (and pool) of their own.
    key = f"{url.render_as_string(hide_password=False)} busy={busy_timeout}"
    with _lock:
        repo = _by_url.get(key)
        if repo is None:
            engine = shared_engine(url, busy_timeout=busy_timeout)
            # Shared: no session object owns it; it lives until dispose_engines().
            repo = _by_url[key] = SqlRepository(
                engine, owns_engine=False, auto_upgrade=create_schema
            )
        elif create_schema:
            repo.auto_upgrade = True
        return repo


def repository_for_engine(engine: Engine, *, create_schema: bool) -> SqlRepository:
    """The shared repository for a caller-owned engine (never disposed by pyai)."""
    with _lock:
        repo = _by_engine.get(engine)
        if repo is None:
            repo = _by_engine[engine] = SqlRepository(
                engine, owns_engine=False, auto_upgrade=create_schema
            )
        elif create_schema:
            repo.auto_upgrade = True
        return repo
