"""``RedisSession``: a session in Redis or Redis Cluster."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from redis.cluster import RedisCluster

from .._codec import Limits
from .._session import Session
from ..errors import ConfigurationError
from .clients import dispose_clients, repository_for_client, repository_for_server
from .repository import RedisRepository

__all__ = ["RedisSession"]


class RedisSession(Session):
    """A session in Redis (a server or a cluster), expiring natively with ``ttl``.

    Session objects on the same server share one client and connection pool, built from
    ``url=`` or ``host=``/``port=``; with ``client=`` you bring (and keep owning) the
    client. Every write is one atomic script call; every key of the session shares one
    Redis Cluster hash tag. See docs/redis.md for the key layout and TTL semantics.

    Args:
        session_id: the id; generated (uuid4 hex) when omitted.
        host: the server's host name (ignored with ``url=`` or ``client=``).
        port: the server's port.
        db: the database number (0 with a cluster).
        password: the password (never shown in ``repr()``, logs or errors).
        ssl: connect with TLS; certificate options (``ssl_ca_certs``, ``ssl_certfile``,
            ``ssl_keyfile``, ``ssl_cert_reqs``, ...) go in ``**options``.
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) or
            ``unix://``; its query may also carry ``key_prefix=`` and ``cluster=true``.
        cluster: the server is a Redis Cluster (``url``/``host`` name any node).
        client: a ``redis.Redis`` or ``redis.cluster.RedisCluster`` you own;
            :meth:`close` never closes it.
        ttl: seconds of inactivity before the session expires (sliding; every key of
            the session), or None for no expiry.
        user_id: the session's owner.
        key_prefix: the first part of every key (default ``"pyai"``; no braces).
        encryption_key: encrypt content and metadata at rest (see docs/encryption.md).
        limits: size limits (:class:`~pyai.sessions.Limits`).
        **options: passed to redis-py (timeouts, TLS certificates, ``username``, ...).

    Raises:
        ConfigurationError: a malformed URL, prefix or option, or ``client=`` combined
            with connection arguments.
        ValidationError: a malformed session id, user id or ttl.
    """

    def __init__(
        self,
        session_id: str | None = None,
        *,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        ssl: bool = False,
        url: str | None = None,
        cluster: bool = False,
        client: Any = None,
        ttl: float | timedelta | None = None,
        user_id: str | None = None,
        key_prefix: str | None = None,
        encryption_key: str | Sequence[str] | None = None,
        limits: Limits | None = None,
        **options: Any,
    ) -> None:
        repository: RedisRepository
        if client is not None:
            if url is not None or password is not None or options:
                raise ConfigurationError(
                    "RedisSession takes either client= (yours, already configured) or "
                    "connection arguments (url=, host=, password=, ...), not both"
                )
            if cluster and not isinstance(client, RedisCluster):
                raise ConfigurationError(
                    "cluster=True needs a redis.cluster.RedisCluster client, got "
                    f"{type(client).__name__}"
                )
            repository = repository_for_client(client, key_prefix)
        else:
            repository = repository_for_server(
                url=url,
                host=host,
                port=port,
                db=db,
                password=password,
                ssl=ssl,
                cluster=cluster,
                key_prefix=key_prefix,
                options=options,
            )
        super().__init__(
            repository,
            session_id,
            ttl=ttl,
            user_id=user_id,
            encryption_key=encryption_key,
            limits=limits,
        )

    @property
    def _redis(self) -> RedisRepository:
        repository = self.repository
        assert isinstance(repository, RedisRepository)
        return repository

    @property
    def key_prefix(self) -> str:
        """The first part of every key of this session."""
        return self._redis.key_prefix

    @property
    def location(self) -> str:
        """The server (a URL with any password hidden)."""
        return self._redis.location

    def _describe_location(self) -> str:
        return f"url={self.location!r}, key_prefix={self.key_prefix!r}"

    @staticmethod
    def dispose_clients() -> None:
        """Close every Redis client pyai built (e.g. at shutdown or before forking).

        Session objects stay usable: their client reconnects on next use. Clients
        passed in with ``client=`` are not touched.
        """
        dispose_clients()
