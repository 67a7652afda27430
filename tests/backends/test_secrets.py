"""Passwords never show: not in reprs, error messages, tracebacks, log records or CLI output.

Every check looks for the password as given and as it appears percent-encoded in a URL.
Connections fail against a closed port (127.0.0.1:1), are refused by servers that want a
password (throwaway servers of the test's own), or succeed; all three paths are covered,
with every logger (pyai, SQLAlchemy, psycopg, redis-py, root) capturing at DEBUG.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from pyai.sessions import PostgresSession, dispose_engines, open_session, open_store
from pyai.sessions.errors import BackendError, BackendUnavailableError, SessionError

from ..faults.servers import ThrowawayPostgres, ThrowawayRedis

# Characters that URLs percent-encode, so both spellings are looked for.
SECRET = "S3cr@t:pw/Zq9%"
ENCODED = quote(SECRET, safe="")
CLOSED = "127.0.0.1:1"
LOGGERS = ("", "pyai", "sqlalchemy", "psycopg", "redis", "alembic")


def assert_hidden(text: str, where: str = "") -> None:
    for spelling in (SECRET, ENCODED, "Zq9"):
        assert spelling not in text, f"the password shows in {where or 'the text'}: {text!r}"


def error_text(exc: BaseException) -> str:
    """What a user can see of an error: message, repr and the whole chained traceback."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Capture every log record at DEBUG; the returned function renders them all."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return lambda: "\n".join(formatter.format(r) for r in caplog.records)


@pytest.fixture(autouse=True)
def _release_pools() -> Iterator[None]:
    yield
    dispose_engines()
    from pyai.sessions._redis import dispose_clients

    dispose_clients()


# -- URLs and arguments that carry the password -----------------------------------------

PG_CLOSED = f"postgresql://app:{ENCODED}@{CLOSED}/db"
REDIS_CLOSED = [
    f"redis://:{ENCODED}@{CLOSED}/0",
    f"redis://app:{ENCODED}@{CLOSED}/0",
    f"redis://{CLOSED}/0?password={ENCODED}",
    f"rediss://:{ENCODED}@{CLOSED}/0",
]


def _pg_session() -> Any:
    return PostgresSession(PG_CLOSED, "s")


def _redis_kwargs_session() -> Any:
    from pyai.sessions import RedisSession

    return RedisSession("s", host="127.0.0.1", port=1, password=SECRET)


OBJECTS: list[Any] = [
    pytest.param(_pg_session, id="PostgresSession"),
    pytest.param(lambda: open_session(PG_CLOSED, "s"), id="open_session-postgres"),
    pytest.param(lambda: open_store(PG_CLOSED), id="open_store-postgres"),
    pytest.param(_redis_kwargs_session, id="RedisSession-password="),
    *(
        pytest.param(lambda url=url: open_session(url, "s"), id=f"open_session-{i}")
        for i, url in enumerate(REDIS_CLOSED)
    ),
    *(
        pytest.param(lambda url=url: open_store(url), id=f"open_store-{i}")
        for i, url in enumerate(REDIS_CLOSED)
    ),
]


def _views(obj: Any) -> str:
    parts = [repr(obj), str(obj)]
    repository = getattr(obj, "repository", getattr(obj, "_repository", None))
    for part in (
        repository,
        getattr(repository, "engine", None),
        getattr(repository, "connection", None),
    ):
        if part is not None:
            parts += [repr(part), str(part)]
    return "\n".join(parts)


def _fail(obj: Any) -> BaseException:
    call = obj.list_sessions if hasattr(obj, "list_sessions") else obj.count
    with pytest.raises(SessionError) as info:
        call()
    return info.value


@pytest.mark.parametrize("make", OBJECTS)
def test_objects_and_their_errors_hide_the_password(
    make: Callable[[], Any], every_log: Callable[[], str]
) -> None:
    obj = make()
    try:
        assert_hidden(_views(obj), "repr/str")
        error = _fail(obj)
        assert isinstance(error, BackendError)
        assert CLOSED in str(error), "the error names the server"
        assert_hidden(error_text(error), "the error")
        assert_hidden(_views(obj), "repr/str after the failure")
    finally:
        obj.close()
    assert_hidden(every_log(), "the log records")


# -- servers that ask for the password ---------------------------------------------------


@pytest.fixture(scope="module")
def postgres_with_password() -> Iterator[ThrowawayPostgres]:
    cluster = ThrowawayPostgres(password=SECRET)
    try:
        yield cluster
    finally:
        dispose_engines()
        cluster.close()


@pytest.fixture(scope="module")
def redis_with_password() -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(extra=["--requirepass", SECRET])
    try:
        yield server
    finally:
        from pyai.sessions._redis import dispose_clients

        dispose_clients()
        server.close()


def _redis_url(server: ThrowawayRedis, password: str, user: str = "") -> str:
    return f"redis://{user}:{quote(password, safe='')}@127.0.0.1:{server.port}/0"


@pytest.mark.slow
def test_postgres_wrong_and_right_password(
    postgres_with_password: ThrowawayPostgres, every_log: Callable[[], str]
) -> None:
    wrong = postgres_with_password.url_with("not-it-" + SECRET[::-1])
    with pytest.raises(BackendUnavailableError) as info:
        PostgresSession(wrong, "s", create_schema=True).count()
    assert "password authentication failed" in str(info.value)
    assert_hidden(error_text(info.value), "the error")

    session = PostgresSession(postgres_with_password.url, "s", create_schema=True)
    session.add_message("user", "hello")
    assert [m.content for m in session.get_messages()] == ["hello"]
    store = open_store(postgres_with_password.url)
    assert [i.session_id for i in store.list_sessions().items] == ["s"]
    assert_hidden(_views(session) + _views(store), "repr/str")
    store.close()
    assert_hidden(every_log(), "the log records")


def test_redis_wrong_and_right_password(
    redis_with_password: ThrowawayRedis, every_log: Callable[[], str]
) -> None:
    for url in (
        _redis_url(redis_with_password, "not-it-" + SECRET[::-1]),
        _redis_url(redis_with_password, "not-it-" + SECRET[::-1], user="default"),
        f"redis://127.0.0.1:{redis_with_password.port}/0",
    ):
        with pytest.raises(BackendUnavailableError) as info:
            open_session(url, "s").add_message("user", "x")
        assert_hidden(error_text(info.value), "the error")

    session = open_session(_redis_url(redis_with_password, SECRET), "s")
    session.add_message("user", "hello")
    assert [m.content for m in session.get_messages()] == ["hello"]
    store = open_store(_redis_url(redis_with_password, SECRET, user="default"))
    assert [i.session_id for i in store.list_sessions().items] == ["s"]
    assert_hidden(_views(session) + _views(store), "repr/str")
    store.close()
    assert_hidden(every_log(), "the log records")


# -- the command line --------------------------------------------------------------------


def _pyai(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pyai", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.mark.slow
def test_cli_output_hides_the_password(
    postgres_with_password: ThrowawayPostgres, redis_with_password: ThrowawayRedis
) -> None:
    # The schema, so that listing succeeds and prints the URL it lists.
    PostgresSession(postgres_with_password.url, "cli", create_schema=True).add_message("user", "x")
    pg, wrong_pg = postgres_with_password.url, postgres_with_password.url_with("not-it")
    good_redis = _redis_url(redis_with_password, SECRET)
    # Each run is a new interpreter (about a second of CPU): started together, read after.
    runs = {
        "pg wrong password": _pyai("sessions", "list", "--url", wrong_pg),
        "pg list": _pyai("sessions", "list", "--url", pg),
        "pg show missing": _pyai("sessions", "show", "missing", "--url", pg),
        "pg db current": _pyai("db", "current", "--url", pg),
        "pg from environment": _pyai("sessions", "list", "--json", env={"PYAI_DATABASE_URL": pg}),
        "redis closed, password in query": _pyai("sessions", "list", "--url", REDIS_CLOSED[2]),
        "redis closed, user and password": _pyai("sessions", "list", "--url", REDIS_CLOSED[1]),
        "redis wrong password": _pyai(
            "sessions", "list", "--url", _redis_url(redis_with_password, "not-it")
        ),
        "redis list": _pyai("sessions", "list", "--url", good_redis),
        "redis show missing": _pyai("sessions", "show", "missing", "--url", good_redis),
    }
    outputs = {name: run.communicate(timeout=120) for name, run in runs.items()}
    codes = {name: run.returncode for name, run in runs.items()}
    for name, (out, err) in outputs.items():
        assert_hidden(out + err, f"the output of {name!r}")
        assert "Traceback" not in err, (name, err)
    # The runs that reach their server succeed; the others fail with a one-line error.
    succeeded = {name for name, code in codes.items() if code == 0}
    assert succeeded == {"pg list", "pg db current", "pg from environment", "redis list"}, {
        name: outputs[name][1] for name in runs if name not in succeeded
    }
    # The listings name where they list, with the password hidden.
    assert "postgres:***@" in outputs["pg list"][0] and ":***@" in outputs["redis list"][0]
