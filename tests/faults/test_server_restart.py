"""The server restarts while writers run: clear errors, nothing acknowledged lost, recovery.

Each test starts a server of its own (:mod:`.servers`), has writer threads append
through their own session objects (sharing one pool or client, as in an application),
restarts the server under them, and checks that:

* every failed call raised a pyai ``BackendError`` naming the server, never a driver's
  exception;
* every acknowledged message is stored, positions are 1..N without gaps;
* the same session objects work again within a few calls once the server is back,
  without disposing pools or clients.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from pyai.sessions import PostgresSession, Session, dispose_engines

from .harness import Workload, check_history
from .servers import ThrowawayPostgres, ThrowawayRedis

WRITERS = 3
BEFORE = 10  # successful calls per thread before the restart
AFTER = 10  # ... and after it
#: Failed calls a thread may see once the server is back: one per pooled connection
#: that died with the old server.
MAX_FAILURES_AFTER_RESTART = 5


def _exercise(
    open_session: Callable[[str], Session], restart: Callable[[], None], server: str
) -> None:
    session_id = f"restart-{uuid.uuid4().hex}"
    writers = [open_session(session_id) for _ in range(WRITERS)]
    load = Workload(writers, reader=open_session(session_id))
    load.start()
    try:
        load.wait_until_each_succeeds(BEFORE, since=0.0, timeout=30)
        restart()
        back_at = time.monotonic()
        load.wait_until_each_succeeds(AFTER, since=back_at, timeout=30)
    finally:
        load.stop()

    assert load.errors(), "no call failed: the restart did not happen under the writers"
    load.check_errors_are_clear(server)
    slow = {
        name: n
        for name, n in load.failures_before_recovery(back_at).items()
        if n > MAX_FAILURES_AFTER_RESTART
    }
    assert not slow, f"failed calls after the server was back: {slow}"
    check_history(writers[0].get_messages(), load.acknowledged())
    assert writers[0].count() == len(writers[0].get_messages())


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_while_writers_run(
    throwaway_postgres: ThrowawayPostgres, mode: str
) -> None:
    """``fast``: a clean shutdown; ``immediate``: like a crash (WAL recovery at start)."""
    url = throwaway_postgres.url
    try:
        PostgresSession(url, "schema", create_schema=True).count()
        _exercise(
            lambda sid: PostgresSession(url, sid),
            lambda: throwaway_postgres.restart(mode),
            f"127.0.0.1:{throwaway_postgres.port}",
        )
    finally:
        dispose_engines()


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("graceful", [True, False], ids=["shutdown", "sigkill"])
def test_redis_restart_while_writers_run(throwaway_redis: ThrowawayRedis, graceful: bool) -> None:
    """``shutdown``: SIGTERM (Redis saves and exits); ``sigkill``: a crash. The append-only
    file is fsynced before every reply, so both keep every acknowledged write."""
    from pyai.sessions import RedisSession
    from pyai.sessions._redis import dispose_clients

    prefix = f"restart-{uuid.uuid4().hex[:8]}"
    try:
        _exercise(
            lambda sid: RedisSession(sid, url=throwaway_redis.url, key_prefix=prefix),
            lambda: throwaway_redis.restart(graceful=graceful),
            f"127.0.0.1:{throwaway_redis.port}",
        )
    finally:
        dispose_clients()
