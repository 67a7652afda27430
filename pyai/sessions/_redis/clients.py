"""Redis clients: built once per server and shared, with pyai's retry and error policy.

Ownership: a client pyai builds from ``host=``/``url=`` belongs to a process-wide
registry, keyed by every connection parameter, so session objects on the same server
share one client and connection pool; :func:`dispose_clients` closes them (they
reconnect on next use). On a single server each thread keeps one connection of that
pool for its commands (:meth:`RedisConnection._for_this_thread`). A client passed in with
``client=`` belongs to the caller and is never closed here.

Retries: clients built here have redis-py's own retries switched off, because those
re-send a command whose reply was lost, and re-sending an append appends twice. pyai
retries once instead, and only when that cannot duplicate a write: reads and idempotent
writes after any connection failure; other writes (append, pop, import) only when the
command never reached the server (connecting failed, the cluster reported itself down).
Then it raises :class:`~pyai.sessions.errors.BackendUnavailableError` naming
``host:port``, never the password.
"""

from __future__ import annotations

import inspect
import os
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.connection import URL_QUERY_ARGUMENT_PARSERS
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    BusyLoadingError,
    ClusterDownError,
    MaxConnectionsError,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.utils import HIREDIS_AVAILABLE

from ..errors import BackendError, BackendUnavailableError, ConfigurationError
from .keys import DEFAULT_PREFIX, check_prefix
from .repository import RedisRepository

__all__ = [
    "RedisConnection",
    "dispose_clients",
    "repository_for_client",
    "repository_for_server",
    "safe_url",
]

T = TypeVar("T")

_hiredis_pack: Callable[[tuple[Any, ...]], bytes] | None = None
if HIREDIS_AVAILABLE:  # redis-py packs with hiredis; so may pyai (see _PinnedClient)
    import hiredis

    _hiredis_pack = getattr(hiredis, "pack_command", None)  # hiredis >= 2.1

_SCHEMES = ("redis", "rediss", "unix")
# Query parameters of a redis:// URL that configure pyai, not redis-py.
_PYAI_QUERY = ("key_prefix", "cluster")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# Options a caller may pass through to redis-py (TLS certificates, timeouts, ...).
_CLIENT_OPTIONS = frozenset(inspect.signature(redis.Redis.__init__).parameters) | frozenset(
    inspect.signature(RedisCluster.__init__).parameters
)
_EXPLICIT = frozenset(("self", "kwargs", "host", "port", "db", "password", "ssl", "url"))


def _no_retries() -> Retry:
    return Retry(NoBackoff(), 0)


# -- URLs -------------------------------------------------------------------------------


def safe_url(url: str) -> str:
    """``url`` with its password (in the user info or the query) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable Redis URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostport = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _split_url(url: str) -> tuple[str, dict[str, str], str]:
    """``url`` without pyai's query parameters, those parameters, and ``host:port``.

    Raises:
        ConfigurationError: not a redis://, rediss:// or unix:// URL.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"url must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"cannot parse Redis URL {safe_url(url)!r}") from None
    if parts.scheme not in _SCHEMES:
        raise ConfigurationError(
            f"a Redis URL starts with redis://, rediss:// or unix://, got {safe_url(url)!r}"
        )
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in pairs if k in _PYAI_QUERY}
    rest = [(k, v) for k, v in pairs if k not in _PYAI_QUERY]
    unknown = sorted(
        {k for k, _ in rest} - _CLIENT_OPTIONS - set(URL_QUERY_ARGUMENT_PARSERS) - {"password"}
    )
    if unknown:
        raise ConfigurationError(
            f"unknown parameter(s) {', '.join(unknown)} in Redis URL {safe_url(url)!r}"
        )
    if parts.scheme == "unix":
        address = parts.path
    else:
        address = _address(parts.hostname or "localhost", port or 6379)
    return urlunsplit(parts._replace(query=urlencode(rest))), ours, address


def _url_password(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.password:
        return unquote(parts.password)
    return dict(parse_qsl(parts.query)).get("password")


def _url_db(url: str) -> int | None:
    parts = urlsplit(url)
    given = dict(parse_qsl(parts.query)).get("db") or parts.path.strip("/") or None
    try:
        return None if given is None else int(given)
    except ValueError:
        raise ConfigurationError(f"bad database number {given!r} in Redis URL") from None


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _flag(value: str, name: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"URL parameter {name}={value!r} must be true or false")


def _check_options(options: dict[str, Any]) -> None:
    given = set(options)
    unknown = sorted((given - _CLIENT_OPTIONS) | (given & _EXPLICIT))
    if unknown:
        raise ConfigurationError(
            f"unknown Redis option(s) {', '.join(unknown)}; RedisSession passes only "
            "redis-py connection options through (ssl_ca_certs, socket_timeout, username, ...)"
        )


# -- one client and its policy ------------------------------------------------------------


def _never_sent(exc: BaseException) -> bool:
    """Whether ``exc`` proves the command did not reach (or was refused by) the server."""
    if isinstance(exc, ClusterDownError | BusyLoadingError | MaxConnectionsError):
        return True
    if isinstance(exc, RedisClusterException):
        return True  # cluster client: no reachable node / slot not covered
    # redis-py raises the same ConnectionError class for a failed connect and for a
    # connection lost mid-command; only its message tells them apart. Should the wording
    # change, writes fall back to not being retried, which is the safe side.
    message = str(exc)
    return " connecting to " in message or message.startswith(
        ("Timeout connecting", "Error connecting")
    )


class _PinnedClient(redis.Redis):
    """One thread's client: one connection of the shared pool, and a lean command path.

    ``redis.Redis.execute_command`` wraps every command in a retry loop, metrics hooks
    and a lock, which together cost more on a loopback server than the command itself
    (20 to 30 µs of Python a command here, against a 45 µs round trip). This client is
    never shared between threads (no lock needed) and pyai retries by its own policy
    (:meth:`RedisConnection.run`; redis-py's retries are switched off here anyway), so a
    plain command goes straight to the connection: redis-py packs it, sends it and
    parses the reply (hiredis), and applies the client's reply callback. The connection
    itself still drops its socket on any error and reconnects on next use. A command
    with options goes through redis-py's full path.

    Where redis-py packs commands with hiredis (it does when hiredis is installed and no
    ``command_packer`` is configured), this client calls ``hiredis.pack_command`` itself:
    the same bytes, without redis-py's generic argument pass (a third of the Python
    time of a script call with 17 arguments).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        custom = self.connection_pool.connection_kwargs.get("command_packer")
        self._pack = None if custom is not None else _hiredis_pack
        # The connection object stays the same across reconnects; redis-py >= 7 flags
        # it when the server announces maintenance (older versions have no flag).
        self._maintenance: Callable[[], bool] | None = getattr(
            self.connection, "should_reconnect", None
        )

    def execute_command(self, *args: Any, **options: Any) -> Any:
        # redis-py leaves the connection's methods unannotated.
        conn: Any = self.connection
        if options or conn is None:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        pack = self._pack
        if pack is None or " " in args[0]:  # "SCRIPT LOAD": redis-py splits the name
            conn.send_packed_command(conn.pack_command(*args))
        else:
            conn.send_packed_command((pack(args),))
        reply = conn.read_response()
        if self._maintenance is not None and self._maintenance():
            conn.disconnect()  # as redis-py does: reconnect before the next command
        callback = self.response_callbacks.get(args[0])  # type: ignore[no-untyped-call]
        return reply if callback is None else callback(reply)


class RedisConnection:
    """A Redis or Redis Cluster client, built on first use, plus how to name its server.

    Args:
        location: the server as shown in ``repr()`` (password hidden).
        address: ``host:port`` for error messages.
        cluster: whether the client is a RedisCluster.
        build: builds the client (pyai owns it); or
        client: the caller's client (never closed here).
        secret: the password, only to scrub it from any error text.
    """

    def __init__(
        self,
        *,
        location: str,
        address: str,
        cluster: bool,
        build: Callable[[], Any] | None = None,
        client: Any = None,
        secret: str | None = None,
    ) -> None:
        self.location = location
        self.address = address
        self.cluster = cluster
        self.owned = build is not None
        self._build = build
        # redis-py annotates replies as `T | Awaitable[T]`; pyai uses the sync clients only.
        self._client: Any = client
        self._secret = secret or None
        self._lock = threading.Lock()
        # A standalone client pyai built: each thread keeps one connection of its pool
        # (see _for_this_thread). Replacing the threading.local drops every pin at once.
        self._pins_connections = self.owned and not cluster
        self._pins = threading.local()

    def __repr__(self) -> str:
        return f"RedisConnection({self.location!r})"

    def client(self) -> Any:
        """The client, built on first use (a RedisCluster connects when built)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    assert self._build is not None
                    self._client = self._build()
                client = self._client
        return client

    def _for_this_thread(self) -> Any:
        """The client this thread runs its commands on.

        For a standalone client pyai built, that is a client holding one connection of
        the shared pool for as long as the thread lives (redis-py's
        ``single_connection_client``): taking a connection from the pool and giving it
        back costs more per command than the command itself on a loopback server (the
        pool checks the socket with a system call and records metrics each time). The
        connection goes back to the pool when the thread ends, on
        :meth:`close` and in a child process after ``fork``.
        """
        if not self._pins_connections:
            return self.client()
        pinned = getattr(self._pins, "client", None)
        if pinned is None:
            shared = self.client()
            pinned = _PinnedClient(
                connection_pool=shared.connection_pool, single_connection_client=True
            )
            self._pins.client = pinned
        return pinned

    def drop_pins(self) -> None:
        """Let every thread's pinned connection go back to the pool (or be closed)."""
        self._pins = threading.local()

    def close(self) -> None:
        """Close the client if pyai built it; it is rebuilt on next use."""
        if not self.owned:
            return
        with self._lock:
            client, self._client = self._client, None
            self.drop_pins()
        if client is not None:
            client.close()

    def scrub(self, message: str) -> str:
        """``message`` with the password, should it ever appear, replaced by ``***``."""
        return message.replace(self._secret, "***") if self._secret else message

    def run(self, operation: Callable[[Any], T], *, idempotent: bool, what: object) -> T:
        """Run ``operation(client)`` under the retry and error policy (module docstring).

        Redis replies that are errors (``ResponseError``) are left to the caller.

        Raises:
            BackendUnavailableError: the server could not be reached (after one retry
                where that is safe).
            BackendError: any other client failure.
        """
        for attempt in (1, 2):
            try:
                return operation(self._for_this_thread())
            except ClusterDownError as exc:
                failure: BaseException = exc
            except ResponseError:
                raise
            except (AuthenticationError, AuthorizationError) as exc:
                raise BackendUnavailableError(
                    f"Redis at {self.address} refused the credentials: {self._detail(exc)}; "
                    "check the username and password"
                ) from exc
            except (RedisConnectionError, RedisTimeoutError, RedisClusterException) as exc:
                failure = exc
            except RedisError as exc:
                raise BackendError(f"Redis at {self.address}: {self._detail(exc)}") from exc
            safe = idempotent or _never_sent(failure)
            if attempt == 2 or not safe:
                break
        detail = self._detail(failure)
        if safe:
            message = f"Redis at {self.address} is unreachable ({what}, tried twice): {detail}"
        else:
            message = (
                f"lost the connection to Redis at {self.address} during {what}; the write "
                f"may or may not have been applied (not retried, to avoid applying it "
                f"twice): {detail}"
            )
        raise BackendUnavailableError(message) from failure

    def _detail(self, exc: BaseException) -> str:
        return self.scrub((str(exc).strip().splitlines() or [type(exc).__name__])[0])


# -- the registry -------------------------------------------------------------------------

_connections: dict[Hashable, RedisConnection] = {}
_repositories: dict[tuple[Hashable, str], RedisRepository] = {}
# Caller-owned clients map weakly to weakly held repositories: session objects keep
# their repository (and so the client) alive, the registry keeps nothing alive.
_caller_clients: weakref.WeakKeyDictionary[
    Any, weakref.WeakValueDictionary[str, RedisRepository]
] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _options_key(options: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    # repr(): option values may be unhashable; unequal objects then get their own client.
    return tuple(sorted((k, repr(v)) for k, v in options.items()))


def repository_for_server(
    *,
    url: str | None,
    host: str,
    port: int,
    db: int,
    password: str | None,
    ssl: bool,
    cluster: bool,
    key_prefix: str | None,
    options: dict[str, Any],
) -> RedisRepository:
    """The shared repository for a server (built from ``url``, else ``host``/``port``).

    ``key_prefix`` and ``cluster`` may also come from the URL's query
    (``?key_prefix=app&cluster=true``); the arguments win.

    Raises:
        ConfigurationError: a malformed URL or prefix, an unknown option, or a ``db``
            other than 0 with a cluster.
    """
    _check_options(options)
    built: dict[str, Any] = {"decode_responses": True, "retry": _no_retries(), **options}
    if url is not None:
        clean, ours, address = _split_url(url)
        if "cluster" in ours:
            cluster = cluster or _flag(ours["cluster"], "cluster")
        if key_prefix is None:
            key_prefix = ours.get("key_prefix")
        location = safe_url(url)
        secret = _url_password(url) or password
        if cluster and _url_db(clean) not in (None, 0):
            raise ConfigurationError(
                f"Redis Cluster has only database 0; drop it from {safe_url(url)!r}"
            )
        key: Hashable = ("url", clean, cluster, _options_key(options))
        factory: type[Any] = RedisCluster if cluster else redis.Redis

        def build() -> Any:
            return factory.from_url(clean, **built)

    else:
        if not isinstance(host, str) or not host:
            raise ConfigurationError(f"host must be a non-empty string, got {host!r}")
        if cluster and db != 0:
            raise ConfigurationError("Redis Cluster has only database 0; drop db=")
        address = _address(host, port)
        scheme = "rediss" if ssl else "redis"
        location = f"{scheme}://{address}" if cluster else f"{scheme}://{address}/{db}"
        secret = password
        key = ("host", host, port, db, password, bool(ssl), cluster, _options_key(options))
        params = {"host": host, "port": port, "password": password, "ssl": ssl, **built}
        if not cluster:
            params["db"] = db

        def build() -> Any:
            return (RedisCluster if cluster else redis.Redis)(**params)

    if cluster:
        location = f"{location} (cluster)"
    prefix = check_prefix(DEFAULT_PREFIX if key_prefix is None else key_prefix)
    with _registry_lock:
        connection = _connections.get(key)
        if connection is None:
            connection = RedisConnection(
                location=location, address=address, cluster=cluster, build=build, secret=secret
            )
            if not cluster:
                # Building a standalone client opens no connection, and surfaces a
                # malformed URL here rather than on first use. (RedisCluster connects
                # when built, so it is built on first use.)
                try:
                    connection.client()
                except ValueError as exc:
                    raise ConfigurationError(
                        f"bad Redis URL {location!r}: {connection.scrub(str(exc))}"
                    ) from None
            _connections[key] = connection
        repository = _repositories.get((key, prefix))
        if repository is None:
            repository = _repositories[(key, prefix)] = RedisRepository(connection, prefix)
        return repository


def repository_for_client(client: Any, key_prefix: str | None) -> RedisRepository:
    """The shared repository for a caller-owned ``redis.Redis`` or ``RedisCluster``.

    Raises:
        ConfigurationError: ``client`` is not a redis-py client.
    """
    if not isinstance(client, redis.Redis | RedisCluster):
        raise ConfigurationError(
            "client must be a redis.Redis or redis.cluster.RedisCluster, got "
            f"{type(client).__name__} (redis.asyncio clients are not supported: the async "
            "methods run the sync client in a worker thread)"
        )
    prefix = check_prefix(DEFAULT_PREFIX if key_prefix is None else key_prefix)
    with _registry_lock:
        by_prefix = _caller_clients.get(client)
        if by_prefix is None:
            by_prefix = _caller_clients[client] = weakref.WeakValueDictionary()
        repository = by_prefix.get(prefix)
        if repository is None:
            location, address, secret = _describe_client(client)
            connection = RedisConnection(
                location=location,
                address=address,
                cluster=isinstance(client, RedisCluster),
                client=client,
                secret=secret,
            )
            repository = RedisRepository(connection, prefix)
            by_prefix[prefix] = repository
        return repository


def _describe_client(client: Any) -> tuple[str, str, str | None]:
    if isinstance(client, RedisCluster):
        # redis-py leaves these two unannotated.
        node = client.get_default_node()  # type: ignore[no-untyped-call]
        address = _address(node.host, node.port) if node is not None else "cluster"
        kwargs: dict[str, Any] = client.get_connection_kwargs()  # type: ignore[no-untyped-call]
        secret = kwargs.get("password")
        return f"redis://{address} (cluster, caller's client)", address, secret
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        address = str(kwargs["path"])
        location = f"unix://{address}"
    else:
        address = _address(str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379)))
        location = f"redis://{address}/{kwargs.get('db', 0)}"
    return f"{location} (caller's client)", address, kwargs.get("password")


def _after_fork_in_child() -> None:
    # A pinned connection's socket is shared with the parent: a child must never use it.
    # (Dropping it closes the child's copy only; redis-py leaves the parent's alone.)
    for connection in list(_connections.values()):
        connection.drop_pins()


os.register_at_fork(after_in_child=_after_fork_in_child)


def dispose_clients() -> None:
    """Close every client pyai built (e.g. at shutdown or before forking).

    Session objects stay usable: their client reconnects on next use. Clients passed in
    with ``client=`` are not touched.
    """
    with _registry_lock:
        connections = list(_connections.values())
    for connection in connections:
        connection.close()
