"""Alembic, driven from code: the same scripts as ``alembic upgrade head`` at the checkout.

The scripts are found inside the installed package (``pyai/_migrations``, put there
when the wheel is built) or, in a source checkout, in ``migrations/`` at its root.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine

from ..errors import ConfigurationError, SchemaError
from .engines import migration_engine, safe_url

__all__ = [
    "SCHEMA_REVISION",
    "check",
    "current",
    "current_revision",
    "downgrade",
    "head_revision",
    "schema_error",
    "script_location",
    "upgrade",
]

#: The migration this version of pyai reads and writes (checked against the scripts in tests).
SCHEMA_REVISION = "0001"

# Taken by concurrent upgraders on PostgreSQL so only one runs the DDL at a time.
_PG_MIGRATION_LOCK = 0x70796169  # "pyai"


def script_location() -> Path:
    """Where the Alembic scripts are: inside the package, else the source checkout."""
    package = Path(__file__).resolve().parents[2]
    for candidate in (package / "_migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigurationError(
        f"pyai's migration scripts are missing (looked in {package / '_migrations'}); "
        "reinstall pyai"
    )


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision among the migration scripts."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def schema_error(url: URL, found: str | None) -> SchemaError:
    """The error for a database that is not at :data:`SCHEMA_REVISION`."""
    where = safe_url(url)
    state = "has no pyai schema" if found is None else f"is at schema revision {found!r}"
    return SchemaError(
        f"the database {where} {state}; this pyai needs revision {SCHEMA_REVISION!r}. "
        "Run `pyai db upgrade --url URL` with this database's URL (or `alembic upgrade "
        "head` in a pyai checkout), or pass create_schema=True"
    )


def _run(engine: Engine, action: str, revision: str) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        cfg = _config(conn)
        if action == "upgrade":
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)


@contextmanager
def _engine(target: URL | Engine) -> Iterator[Engine]:
    """The caller's engine as it is, or a throwaway one for a URL (disposed after)."""
    if isinstance(target, Engine):
        yield target
        return
    engine = migration_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade(target: URL | Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (in one transaction where the dialect allows)."""
    with _engine(target) as engine:
        _run(engine, "upgrade", revision)


def downgrade(target: URL | Engine, revision: str) -> None:
    """Take the database back to ``revision`` (``base`` drops every pyai table)."""
    with _engine(target) as engine:
        _run(engine, "downgrade", revision)


def current(target: URL | Engine) -> str | None:
    """The database's current revision."""
    with _engine(target) as engine, engine.connect() as conn:
        return current_revision(conn)


def check(target: URL | Engine) -> list[str]:
    """Differences between the models and the database (empty when they agree)."""
    from alembic.autogenerate import compare_metadata

    from .models import metadata

    with _engine(target) as engine, engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return [repr(diff) for diff in compare_metadata(ctx, metadata)]
