"""Throwaway servers for the fault tests (see :mod:`.servers`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .servers import ThrowawayPostgres, ThrowawayRedis


@pytest.fixture(scope="module")
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL cluster the tests of one module may stop, kill and restart."""
    cluster = ThrowawayPostgres()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def throwaway_redis() -> Iterator[ThrowawayRedis]:
    """A redis-server (append-only file, fsync always) a test may stop, kill and restart."""
    server = ThrowawayRedis()
    try:
        yield server
    finally:
        server.close()
