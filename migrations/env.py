"""Alembic environment for the pyai session schema.

The database URL comes from, in order: a connection handed in by pyai
(``config.attributes["connection"]``), ``-x url=...``, ``$PYAI_DATABASE_URL``,
then the embedded default ``sqlite:///sessions.db``.
"""

from __future__ import annotations

import os

from alembic import context

from pyai.sessions._sql.engines import migration_engine, normalize_url
from pyai.sessions._sql.models import metadata

config = context.config
target_metadata = metadata


def _url() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("PYAI_DATABASE_URL")
        or "sqlite:///sessions.db"
    )


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def run_offline() -> None:
    _configure(url=normalize_url(_url()), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = migration_engine(normalize_url(_url()))
    try:
        with engine.connect() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
