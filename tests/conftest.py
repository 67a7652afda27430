"""Fixtures: real backends only.

PostgreSQL and Redis come from ``PYAI_TEST_POSTGRES_URL`` / ``PYAI_TEST_REDIS_URL``;
without them, testcontainers starts containers where Docker works; otherwise the tests
that need them are skipped with a reason naming the variable (or, with ``CI=true``,
the run fails: CI must never pass with a backend silently missing).

Each run works in its own PostgreSQL database (created here, dropped afterwards) and
its own Redis key prefix (deleted afterwards).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    # Without a daemon socket, don't ask docker-py at all: its failed probe leaves a
    # socket open, which pytest (filterwarnings=error) reports as an error.
    if not os.environ.get("DOCKER_HOST") and not os.path.exists("/var/run/docker.sock"):
        return False
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


@contextlib.contextmanager
def _scratch_database(server_url: str, *, dispose: bool) -> Iterator[str]:
    """A database created for the caller and dropped afterwards (even if in use)."""
    server = normalize_url(server_url)
    name = f"pyai_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        if dispose:
            from pyai.sessions import dispose_engines

            dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test run; dropped at the end."""
    with _scratch_database(postgres_server_url, dispose=True) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_migrated_url(postgres_url: str) -> str:
    """The run's database, at the newest migration."""
    migrate.upgrade(normalize_url(postgres_url))
    return postgres_url


@pytest.fixture
def fresh_postgres_url(postgres_server_url: str) -> Iterator[str]:
    """An empty database of its own for one test (migration tests)."""
    with _scratch_database(postgres_server_url, dispose=False) as url:
        yield url


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


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _delete_keys(url: str, pattern: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test run; its keys are deleted at the end (SCAN, tests only)."""
    prefix = f"pyai-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        from pyai.sessions._redis import dispose_clients

        dispose_clients()
        _delete_keys(redis_url, f"{prefix}*")


@pytest.fixture(scope="session")
def redis_test_url(redis_url: str, redis_key_prefix: str) -> str:
    """The Redis URL with this run's key prefix in its query (what open_session takes)."""
    return with_query(redis_url, key_prefix=redis_key_prefix)


def _loopback_port() -> int:
    """A free 127.0.0.1 port whose cluster bus port (+10000) is free too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisServers:
    """``redis-server`` processes on loopback ports, without persistence, stopped at exit."""

    def __init__(self, directory: Path) -> None:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            message = (
                "redis-server/redis-cli are not on PATH: the Redis Cluster and server tests "
                "start their own servers with them (apt-get install redis-server)"
            )
            if IN_CI:
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        self.server, self.cli, self.directory = server, cli, directory
        self._running: list[tuple[subprocess.Popen[bytes], Any]] = []

    def start(self, *args: str) -> int:
        """Start a server with extra ``args``; returns its port once it answers."""
        import redis

        for _ in range(5):
            port = _loopback_port()
            log = (self.directory / f"redis-{port}.log").open("wb")
            process = subprocess.Popen(
                [
                    self.server,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                    "--cluster-config-file",
                    f"nodes-{port}.conf",
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self._running.append((process, log))
            deadline = time.monotonic() + 15
            while process.poll() is None and time.monotonic() < deadline:
                probe = redis.Redis(port=port, socket_connect_timeout=0.5)
                try:
                    probe.ping()
                    return port
                except redis.AuthenticationError:
                    return port  # up, and wants a password
                except redis.ConnectionError:
                    time.sleep(0.05)
                finally:
                    probe.close()
            # The port was taken in between (or the server failed): try another.
        pytest.fail(f"could not start redis-server; see the logs in {self.directory}")

    def create_cluster(self, nodes: int = 3) -> list[int]:
        """Start ``nodes`` servers in cluster mode and join them (no replicas)."""
        import redis

        ports = [self.start("--cluster-enabled", "yes") for _ in range(nodes)]
        created = subprocess.run(
            [
                self.cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if created.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed:\n{created.stdout}{created.stderr}")
        deadline = time.monotonic() + 60
        for port in ports:
            node = redis.Redis(port=port, decode_responses=True)
            try:
                while node.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    if time.monotonic() > deadline:
                        pytest.fail(f"the cluster did not reach cluster_state:ok ({port})")
                    time.sleep(0.1)
            finally:
                node.close()
        return ports

    def stop(self) -> None:
        """Stop every server started here."""
        for process, _ in self._running:
            process.terminate()
        for process, log in self._running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
        self._running.clear()


@pytest.fixture(scope="session")
def redis_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServers]:
    """Starts Redis servers of the test's own (cluster mode, passwords...) on loopback."""
    servers = RedisServers(tmp_path_factory.mktemp("redis-servers"))
    try:
        yield servers
    finally:
        from pyai.sessions._redis import dispose_clients

        dispose_clients()
        servers.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(redis_servers: RedisServers) -> str:
    """A 3-node Redis Cluster of this run (no persistence), as a pyai URL."""
    ports = redis_servers.create_cluster(3)
    return f"redis://127.0.0.1:{ports[0]}?cluster=true&key_prefix=pyai-test"


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


def _redis_backend(request: pytest.FixtureRequest) -> Backend:
    from pyai.sessions import open_session

    url = request.getfixturevalue("redis_test_url")
    return Backend("redis", open_session(url).repository, url)


def _redis_cluster_backend(request: pytest.FixtureRequest) -> Backend:
    from pyai.sessions import open_session

    url = request.getfixturevalue("redis_cluster_url")
    return Backend("redis-cluster", open_session(url).repository, url)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Backend]] = {
    "memory": _memory_backend,
    "sqlite": _sqlite_backend,
    "postgres": _postgres_backend,
    "redis": _redis_backend,
    "redis-cluster": _redis_cluster_backend,
}

_MARKS = {
    "postgres": [pytest.mark.postgres],
    "redis": [pytest.mark.redis],
    "redis-cluster": [pytest.mark.redis],
}


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


@pytest.fixture(scope="session", autouse=True)
def _release_shared_clients_at_the_end() -> Iterator[None]:
    """Close every pool and client pyai shares process-wide, once all tests are done.

    Then collect garbage with unclosed-socket warnings shown rather than raised: a
    socket that a third-party client dropped to a throwaway server the tests killed
    (seen rarely, timing-dependent, in redis-py cluster connections) would otherwise be
    finalised inside pytest's own teardown, after every test passed, and fail the run
    without naming a test. It is still printed, so it stays visible.
    """
    yield
    import gc
    import warnings

    from pyai.sessions import dispose_engines

    dispose_engines()
    try:
        from pyai.sessions._redis import dispose_clients
    except ImportError:  # the redis extra is optional
        pass
    else:
        dispose_clients()
    with warnings.catch_warnings():
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
