"""Fixtures: real backends only.

PostgreSQL and Redis come from ``PYAI_TEST_POSTGRES_URL`` / ``PYAI_TEST_REDIS_URL``;
without them, testcontainers starts containers where Docker works; otherwise the tests
that need them are skipped with a reason naming the variable (or, with ``CI=true``,
the run fails: CI must never pass with a backend silently missing).

Each run works in its own PostgreSQL database (created here, dropped afterwards) and
its own Redis key prefix (deleted afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pyai.sessions import Session, SessionRepository
from pyai.sessions._backends import memory_repository
from pyai.sessions._sql import migrate
from pyai.sessions._sql.engines import normalize_url
from pyai.sessions._sql.registry import repository_for_url

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(what: str, variable: str) -> None:
    message = f"{what} not available: set {variable} (e.g. {_EXAMPLES[variable]})"
    if IN_CI:
        pytest.fail(f"{message}; CI must run every backend", pytrace=False)
    pytest.skip(message)


_EXAMPLES = {
    "PYAI_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    "PYAI_TEST_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _docker_works() -> bool:
    import docker

    try:
        client = docker.from_env()
    except Exception:
        return False
    try:
        client.ping()
    except Exception:
        return False
    finally:
        client.close()
    return True


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server URL (an existing database to connect to for admin work)."""
    url = os.environ.get("PYAI_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if not _docker_works():
        _unavailable("PostgreSQL", "PYAI_TEST_POSTGRES_URL")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
        yield container.get_connection_url()


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test run; dropped at the end."""
    server = normalize_url(postgres_server_url)
    name = f"pyai_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        from pyai.sessions import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_migrated_url(postgres_url: str) -> str:
    """The run's database, at the newest migration."""
    migrate.upgrade(normalize_url(postgres_url))
    return postgres_url


@pytest.fixture
def fresh_postgres_url(postgres_server_url: str) -> Iterator[str]:
    """An empty database of its own for one test (migration tests)."""
    server = normalize_url(postgres_server_url)
    name = f"pyai_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL; tests use a key prefix of their own run."""
    url = os.environ.get("PYAI_TEST_REDIS_URL")
    if url:
        yield url
        return
    if not _docker_works():
        _unavailable("Redis", "PYAI_TEST_REDIS_URL")
    from testcontainers.redis import RedisContainer

    with RedisContainer("redis:7-alpine") as container:
        host = container.get_container_host_ip()
        yield f"redis://{host}:{container.get_exposed_port(6379)}/0"


@dataclass
class Backend:
    """A repository under test plus a way to open session handles on it."""

    name: str
    repository: SessionRepository
    url: str | None = None

    def session(self, session_id: str | None = None, **options: Any) -> Session:
        return Session(self.repository, session_id or uuid.uuid4().hex, **options)


def _memory_backend(request: pytest.FixtureRequest) -> Backend:
    return Backend("memory", memory_repository(f"test-{uuid.uuid4().hex}"))


def _sqlite_backend(request: pytest.FixtureRequest) -> Backend:
    tmp = request.getfixturevalue("tmp_path")
    url = f"sqlite:///{tmp / 'sessions.db'}"
    return Backend("sqlite", repository_for_url(normalize_url(url), create_schema=True), url)


def _postgres_backend(request: pytest.FixtureRequest) -> Backend:
    url = request.getfixturevalue("postgres_migrated_url")
    return Backend("postgres", repository_for_url(normalize_url(url), create_schema=False), url)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Backend]] = {
    "memory": _memory_backend,
    "sqlite": _sqlite_backend,
    "postgres": _postgres_backend,
}

_MARKS = {"postgres": [pytest.mark.postgres], "redis": [pytest.mark.redis]}


@pytest.fixture(params=[pytest.param(n, marks=_MARKS.get(n, [])) for n in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Every backend, one after another: the contract suite runs on each."""
    return BACKENDS[request.param](request)


@pytest.fixture(
    params=[pytest.param(n, marks=_MARKS.get(n, [])) for n in BACKENDS if n != "memory"]
)
def durable_backend(request: pytest.FixtureRequest) -> Backend:
    """Backends that other processes can reach through a URL."""
    return BACKENDS[request.param](request)


def server_url_of(url: str) -> str:
    """For messages: a URL with the password hidden."""
    return make_url(url).render_as_string(hide_password=True)
