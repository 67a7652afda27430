"""The SQL repository: SQLite and PostgreSQL from the same code and, mostly, the same SQL.

Statements run on the pooled DB-API connection, not through SQLAlchemy Core: the
append path is dominated by per-call framework overhead otherwise (see
docs/benchmarks.md). SQLAlchemy still owns the schema (models, Alembic), the engine
and its pool, URL parsing and connection events.

Every write is one transaction that first locks the session's row (SQLite: ``BEGIN
IMMEDIATE`` takes the database write lock; PostgreSQL: the upsert or ``FOR UPDATE``
locks the row), so positions are assigned under the lock and can neither collide nor
leave gaps. Locks are always taken session row first, then its messages, which keeps
concurrent writers and ``prune_expired`` free of deadlocks. On PostgreSQL, appending
is a single statement in autocommit mode: one round trip.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from .._message import Message, MessageRecord, decode_json, decode_message
from .._repository import (
    ImportMode,
    SessionInfo,
    SessionSnapshot,
    StoredMessage,
    WriteContext,
)
from ..errors import (
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
    SessionError,
    SessionExistsError,
)
from . import migrate
from .engines import safe_url
from .types import sqlite_datetime

__all__ = ["SqlRepository"]


# -- statements --------------------------------------------------------------------------
# Written once with :name parameters; PostgreSQL gets them rewritten to %(name)s.

_LIVE = "(s.expires_at IS NULL OR s.expires_at > :now)"


_TO_PYFORMAT = re.compile(r"(?<![:\w]):(\w+)")


@dataclass(frozen=True)
class _Statements:
    begin_write: str | None
    begin_read: str
    upsert_session: str
    select_session: str
    touch_session: str
    insert_message: str
    read_all: str
    read_tail: str
    read_after: str
    read_after_all: str
    count: str
    info: str
    pop: str
    pop_expected: str
    clear: str
    clear_metadata: str
    restart_session: str
    delete_session: str
    set_metadata: str
    unset_metadata: str
    get_metadata: str
    prune: str
    append_head: str
    pyformat: bool

    def dialect_sql(self, sql: str) -> str:
        """A statement written with ``:name`` parameters, in this driver's style."""
        return _TO_PYFORMAT.sub(r"%(\1)s", sql) if self.pyformat else sql


def _statements(dialect: str) -> _Statements:
    pg = dialect == "postgresql"

    def j_in(param: str) -> str:
        return f"CAST({param} AS JSONB)" if pg else param

    def j_out(column: str) -> str:
        return f"CAST({column} AS TEXT)" if pg else column

    cols = (
        f"m.seq, m.created_at, m.role, {j_out('m.content')}, m.name, m.tool_call_id, "
        f"{j_out('m.tool_calls')}, {j_out('m.metadata')}"
    )
    returning_cols = cols.replace("m.", "")
    base = (
        f"SELECT {cols} FROM messages m JOIN sessions s ON s.session_id = m.session_id "
        f"WHERE m.session_id = :sid AND {_LIVE}"
    )
    lock = " FOR UPDATE" if pg else ""
    p = "%s" if pg else "?"
    raw = _Statements(
        begin_write=None if pg else "BEGIN IMMEDIATE",
        begin_read=(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY" if pg else "BEGIN"
        ),
        # A no-op update on conflict so RETURNING reports an existing row too (and, on
        # PostgreSQL, locks it).
        upsert_session=(
            "INSERT INTO sessions (session_id, user_id, created_at, updated_at, expires_at, "
            "last_seq, message_count) VALUES (:sid, :user_id, :now, :now, :expires_at, 0, 0) "
            "ON CONFLICT (session_id) DO UPDATE SET last_seq = sessions.last_seq "
            "RETURNING last_seq, message_count, "
            "(expires_at IS NOT NULL AND expires_at <= :now)"
        ),
        select_session=(
            "SELECT last_seq, message_count, (expires_at IS NOT NULL AND expires_at <= :now) "
            f"FROM sessions WHERE session_id = :sid{lock}"
        ),
        touch_session=(
            "UPDATE sessions SET updated_at = :now, expires_at = :expires_at, "
            "last_seq = :last_seq, message_count = :message_count, "
            "user_id = COALESCE(user_id, :user_id) WHERE session_id = :sid"
        ),
        # Positional parameters, in this column order (see SqlRepository._message_row).
        insert_message=(
            "INSERT INTO messages (session_id, seq, role, content, name, tool_call_id, "
            f"tool_calls, metadata, created_at) VALUES ({p}, {p}, {p}, {j_in(p)}, {p}, {p}, "
            f"{j_in(p)}, {j_in(p)}, {p})"
        ),
        read_all=f"{base} ORDER BY m.seq",
        read_tail=f"{base} ORDER BY m.seq DESC LIMIT :limit",
        read_after=f"{base} AND m.seq > :after ORDER BY m.seq LIMIT :limit",
        read_after_all=f"{base} AND m.seq > :after ORDER BY m.seq",
        count=f"SELECT message_count FROM sessions s WHERE session_id = :sid AND {_LIVE}",
        info=(
            "SELECT user_id, created_at, updated_at, expires_at, message_count, last_seq "
            f"FROM sessions s WHERE session_id = :sid AND {_LIVE}"
        ),
        pop=(
            "DELETE FROM messages WHERE session_id = :sid AND seq = "
            "(SELECT max(seq) FROM messages WHERE session_id = :sid) "
            f"RETURNING {returning_cols}"
        ),
        pop_expected=(
            "DELETE FROM messages WHERE session_id = :sid AND seq = :seq AND seq = "
            "(SELECT max(seq) FROM messages WHERE session_id = :sid) "
            f"RETURNING {returning_cols}"
        ),
        clear="DELETE FROM messages WHERE session_id = :sid",
        clear_metadata="DELETE FROM metadata_kv WHERE session_id = :sid",
        restart_session="UPDATE sessions SET created_at = :now WHERE session_id = :sid",
        # Messages and metadata go with the row (ON DELETE CASCADE). The expiry is
        # compared in Python: SQLite 3.40 returned NULL for an expression over the
        # deleted row when the delete cascaded.
        delete_session="DELETE FROM sessions WHERE session_id = :sid RETURNING expires_at",
        set_metadata=(
            f"INSERT INTO metadata_kv (session_id, key, value) VALUES (:sid, :key, "
            f"{j_in(':value')}) ON CONFLICT (session_id, key) DO UPDATE SET value = "
            "excluded.value"
        ),
        unset_metadata="DELETE FROM metadata_kv WHERE session_id = :sid AND key = :key",
        get_metadata=(
            f"SELECT kv.key, {j_out('kv.value')} FROM metadata_kv kv JOIN sessions s "
            f"ON s.session_id = kv.session_id WHERE kv.session_id = :sid AND {_LIVE}"
        ),
        prune="DELETE FROM sessions WHERE expires_at <= :now",
        # The common append: bump the counters of a live session (or create it) and
        # return the new last position. An expired session fails the WHERE, returns no
        # row, and goes the slow way (purge first) instead.
        pyformat=False,
        append_head=(
            "INSERT INTO sessions (session_id, user_id, created_at, updated_at, expires_at, "
            "last_seq, message_count) VALUES (:sid, :user_id, :now, :now, :expires_at, :n, :n) "
            "ON CONFLICT (session_id) DO UPDATE SET "
            "last_seq = sessions.last_seq + excluded.last_seq, "
            "message_count = sessions.message_count + excluded.message_count, "
            "updated_at = excluded.updated_at, expires_at = excluded.expires_at, "
            "user_id = COALESCE(sessions.user_id, excluded.user_id) "
            "WHERE sessions.expires_at IS NULL OR sessions.expires_at > excluded.updated_at "
            "RETURNING last_seq"
        ),
    )
    if not pg:
        return raw
    converted: dict[str, Any] = {
        name: _TO_PYFORMAT.sub(r"%(\1)s", value) if isinstance(value, str) else value
        for name, value in raw.__dict__.items()
    }
    converted["pyformat"] = True
    return _Statements(**converted)


# PostgreSQL appends in one statement: one round trip, atomic on its own. `head` bumps
# the session's counters (holding its row lock until commit, so concurrent appends
# serialize there) and the messages take the positions it returns. No row back means
# the session had expired: the caller then takes the slow path.
def _pg_append(records: str) -> str:
    return f"""
WITH head AS ({{head}}),
inserted AS (
    INSERT INTO messages (session_id, seq, role, content, name, tool_call_id, tool_calls,
                          metadata, created_at)
    {records}
)
SELECT last_seq - %(n)s + 1 FROM head
"""


_PG_APPEND_ONE = _pg_append(
    "SELECT %(sid)s, head.last_seq, %(role)s, CAST(%(content)s AS JSONB), %(name)s, "
    "%(tool_call_id)s, CAST(%(tool_calls)s AS JSONB), CAST(%(metadata)s AS JSONB), %(now)s "
    "FROM head"
)
_PG_APPEND_MANY = _pg_append(
    "SELECT %(sid)s, head.last_seq - %(n)s + v.ord, v.role, CAST(v.content AS JSONB), v.name, "
    "v.tool_call_id, CAST(v.tool_calls AS JSONB), CAST(v.metadata AS JSONB), %(now)s "
    "FROM head, unnest(CAST(%(role)s AS TEXT[]), CAST(%(content)s AS TEXT[]), "
    "CAST(%(name)s AS TEXT[]), CAST(%(tool_call_id)s AS TEXT[]), "
    "CAST(%(tool_calls)s AS TEXT[]), CAST(%(metadata)s AS TEXT[])) "
    "WITH ORDINALITY AS v(role, content, name, tool_call_id, tool_calls, metadata, ord)"
)


# -- dialect differences in values --------------------------------------------------------


def _sqlite_dt_out(value: str) -> datetime:
    # Stored as naive UTC text; parsing with the offset appended is ~8x faster than
    # datetime.replace(tzinfo=...) on the parsed value (this runs once per row read).
    return datetime.fromisoformat(value + "+00:00")


def _pg_dt_out(value: datetime) -> datetime:
    # pyai's engines set the session TimeZone to UTC, so this is usually a no-op.
    return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)


def _pg_dt_in(value: datetime) -> datetime:
    return value


class SqlRepository:
    """The repository contract on a SQLAlchemy engine (SQLite or PostgreSQL).

    Args:
        engine: the engine to use.
        owns_engine: whether :meth:`close` disposes the engine.
        auto_upgrade: bring the schema to the newest migration on first use, instead
            of raising :class:`~pyai.sessions.errors.SchemaError`.

    Raises:
        ConfigurationError: the engine is not SQLite or PostgreSQL with a driver that
            takes ``%(name)s`` parameters.
    """

    def __init__(self, engine: Engine, *, owns_engine: bool, auto_upgrade: bool) -> None:
        dialect = engine.dialect
        if dialect.name == "sqlite":
            self._dt_in: Any = sqlite_datetime
            self._dt_out: Any = _sqlite_dt_out
        elif dialect.name == "postgresql" and dialect.paramstyle == "pyformat":
            self._dt_in = _pg_dt_in
            self._dt_out = _pg_dt_out
        else:
            raise ConfigurationError(
                f"pyai's SQL store supports SQLite and PostgreSQL (psycopg); got "
                f"{dialect.name}+{dialect.driver}"
            )
        self._engine = engine
        self._sql = _statements(dialect.name)
        self._pg_append_one = _PG_APPEND_ONE.replace("{head}", self._sql.append_head)
        self._pg_append_many = _PG_APPEND_MANY.replace("{head}", self._sql.append_head)
        self._pg = dialect.name == "postgresql"
        self._owns_engine = owns_engine
        self.auto_upgrade = auto_upgrade
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        # A StaticPool hands the same connection to every thread; transactions must not
        # interleave on it.
        self._serial = threading.RLock() if isinstance(engine.pool, StaticPool) else None
        self._driver_error: type[BaseException] = dialect.loaded_dbapi.Error

    @property
    def engine(self) -> Engine:
        """The engine statements run on."""
        return self._engine

    def __repr__(self) -> str:
        return f"SqlRepository({safe_url(self._engine.url)!r})"

    # -- connections and errors ----------------------------------------------------------

    def _translate(self, exc: BaseException) -> SessionError:
        where = safe_url(self._engine.url)
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        name = type(exc).__name__
        if "locked" in detail and not self._pg:
            return BackendError(
                f"{where} stayed locked by another writer past the busy timeout: {detail}"
            )
        if name == "OperationalError" and self._pg:
            host = self._engine.url.host or "localhost"
            port = self._engine.url.port or 5432
            return BackendUnavailableError(f"PostgreSQL at {host}:{port} failed: {detail}")
        return BackendError(f"{where}: {name}: {detail}")

    @contextmanager
    def _single_statement(self) -> Iterator[Any]:
        """A connection for one statement, which is then its own transaction.

        On PostgreSQL that saves the BEGIN and COMMIT/ROLLBACK round trips; SQLite
        connections are always in this mode outside an explicit BEGIN.
        """
        with self._connection() as conn:
            if not self._pg:
                yield conn
                return
            conn.autocommit = True
            try:
                yield conn
            finally:
                conn.autocommit = False

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        self._ensure_schema()
        if self._serial is not None:
            self._serial.acquire()
        try:
            pooled = self._checkout()
            try:
                yield pooled.driver_connection
            except self._driver_error as exc:
                if self._engine.dialect.is_disconnect(exc, pooled.dbapi_connection, None):  # type: ignore[arg-type]
                    # Never hand a dead connection back to the pool.
                    pooled.invalidate(exc)
                raise self._translate(exc) from exc
            finally:
                pooled.close()
        finally:
            if self._serial is not None:
                self._serial.release()

    @contextmanager
    def _transaction(self, begin: str | None) -> Iterator[Any]:
        with self._connection() as conn:
            cur = conn.cursor()
            try:
                if begin is not None:
                    cur.execute(begin)
                yield cur
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                cur.close()

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            found = self._stored_revision()
            if found != migrate.SCHEMA_REVISION:
                if not self.auto_upgrade:
                    raise migrate.schema_error(self._engine.url, found)
                try:
                    migrate.upgrade(self._engine)
                except DBAPIError as exc:
                    raise self._translate(exc.orig or exc) from exc
            self._schema_ready = True

    def _checkout(self) -> Any:
        try:
            return self._engine.raw_connection()
        except DBAPIError as exc:
            raise self._translate(exc.orig or exc) from exc
        except self._driver_error as exc:
            # A failed connect reaches raw_connection() unwrapped.
            raise self._translate(exc) from exc

    def _stored_revision(self) -> str | None:
        pooled = self._checkout()
        try:
            cur = pooled.cursor()
            try:
                cur.execute("SELECT version_num FROM alembic_version")
                row = cur.fetchone()
                return None if row is None else str(row[0])
            except self._driver_error:
                return None
            finally:
                cur.close()
                pooled.rollback()
        finally:
            pooled.close()

    # -- shared write steps ---------------------------------------------------------------

    def _lock(
        self, cur: Any, sid: str, ctx: WriteContext, *, create: bool
    ) -> tuple[int, int] | None:
        """Lock the session row (creating it if asked); purge it first if it expired.

        Returns ``(last_seq, message_count)``, or None if it does not exist.
        """
        now = self._dt_in(ctx.now)
        if create:
            exp = ctx.expires_at
            cur.execute(
                self._sql.upsert_session,
                {
                    "sid": sid,
                    "user_id": ctx.user_id,
                    "now": now,
                    "expires_at": None if exp is None else self._dt_in(exp),
                },
            )
        else:
            cur.execute(self._sql.select_session, {"sid": sid, "now": now})
        row = cur.fetchone()
        if row is None:
            return None
        last_seq, count, expired = row
        if expired:
            # Expired but not yet pruned: it starts afresh; positions are not reused.
            cur.execute(self._sql.clear, {"sid": sid})
            cur.execute(self._sql.clear_metadata, {"sid": sid})
            cur.execute(self._sql.restart_session, {"sid": sid, "now": now})
            count = 0
        return int(last_seq), int(count)

    def _touch(self, cur: Any, sid: str, ctx: WriteContext, last_seq: int, count: int) -> None:
        exp = ctx.expires_at
        cur.execute(
            self._sql.touch_session,
            {
                "sid": sid,
                "now": self._dt_in(ctx.now),
                "expires_at": None if exp is None else self._dt_in(exp),
                "last_seq": last_seq,
                "message_count": count,
                "user_id": ctx.user_id,
            },
        )

    def _message_row(self, sid: str, seq: int, at: Any, r: MessageRecord) -> tuple[Any, ...]:
        """Parameters of ``insert_message`` (positional: cheapest for a batch)."""
        return (sid, seq, r.role, r.content, r.name, r.tool_call_id, r.tool_calls, r.metadata, at)

    def _decode(self, row: Sequence[Any]) -> Message:
        return self._decode_rows([row])[0]

    # -- the contract ----------------------------------------------------------------------

    def append(self, session_id: str, records: Sequence[MessageRecord], ctx: WriteContext) -> int:
        n = len(records)
        exp = ctx.expires_at
        if self._pg:
            first = self._append_pg(session_id, records, ctx)
            if first is not None:
                return first
        else:
            with self._transaction(self._sql.begin_write) as cur:
                cur.execute(
                    self._sql.append_head,
                    {
                        "sid": session_id,
                        "user_id": ctx.user_id,
                        "now": self._dt_in(ctx.now),
                        "expires_at": None if exp is None else self._dt_in(exp),
                        "n": n,
                    },
                )
                row = cur.fetchone()
                if row is not None:
                    first = int(row[0]) - n + 1
                    self._insert_messages(cur, session_id, first, ctx.now, records)
                    return first
        # The session expired without being pruned: purge it under the row lock, then
        # append as to a new session (positions still continue after the old ones).
        with self._transaction(self._sql.begin_write) as cur:
            head = self._lock(cur, session_id, ctx, create=True)
            assert head is not None
            last_seq, count = head
            self._insert_messages(cur, session_id, last_seq + 1, ctx.now, records)
            self._touch(cur, session_id, ctx, last_seq + n, count + n)
            return last_seq + 1

    def _insert_messages(
        self,
        cur: Any,
        session_id: str,
        first: int,
        now: datetime,
        records: Sequence[MessageRecord],
    ) -> None:
        at = self._dt_in(now)
        rows = [self._message_row(session_id, first + i, at, r) for i, r in enumerate(records)]
        if len(rows) == 1:
            cur.execute(self._sql.insert_message, rows[0])
        else:
            cur.executemany(self._sql.insert_message, rows)

    def _append_pg(
        self, session_id: str, records: Sequence[MessageRecord], ctx: WriteContext
    ) -> int | None:
        params: dict[str, Any] = {
            "sid": session_id,
            "user_id": ctx.user_id,
            "now": ctx.now,
            "expires_at": ctx.expires_at,
            "n": len(records),
        }
        if len(records) == 1:
            sql = self._pg_append_one
            params.update(records[0]._asdict())
        else:
            sql = self._pg_append_many
            for field in MessageRecord._fields:
                params[field] = [getattr(r, field) for r in records]
        with self._single_statement() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else int(row[0])

    def read(
        self, session_id: str, *, now: datetime, limit: int | None = None, after: int | None = None
    ) -> list[Message]:
        params: dict[str, Any] = {"sid": session_id, "now": self._dt_in(now)}
        if after is not None:
            params["after"] = after
            if limit is None:
                sql = self._sql.read_after_all
            else:
                sql, params["limit"] = self._sql.read_after, limit
        elif limit is not None:
            if limit == 0:
                return []
            sql, params["limit"] = self._sql.read_tail, limit
        else:
            sql = self._sql.read_all
        with self._single_statement() as conn:
            cur = conn.cursor()
            try:
                cur.execute(sql, params)
                rows = cur.fetchall()
            finally:
                cur.close()
        if after is None and limit is not None:
            rows.reverse()
        return self._decode_rows(rows)

    def _decode_rows(self, rows: Sequence[Sequence[Any]]) -> list[Message]:
        # The hot loop of every read. Messages appended together share one timestamp,
        # so each distinct created_at is converted once.
        dt_out = self._dt_out
        times: dict[Any, datetime] = {}
        out = []
        for seq, created_at, role, content, name, tool_call_id, tool_calls, metadata in rows:
            moment = times.get(created_at)
            if moment is None:
                moment = times[created_at] = dt_out(created_at)
            out.append(
                decode_message(seq, moment, role, content, name, tool_call_id, tool_calls, metadata)
            )
        return out

    def _read_one(self, sql: str, params: dict[str, Any]) -> Any:
        with self._single_statement() as conn:
            cur = conn.cursor()
            try:
                cur.execute(sql, params)
                return cur.fetchone()
            finally:
                cur.close()

    def count(self, session_id: str, *, now: datetime) -> int:
        row = self._read_one(self._sql.count, {"sid": session_id, "now": self._dt_in(now)})
        return 0 if row is None else int(row[0])

    def pop(
        self, session_id: str, ctx: WriteContext, *, expect_seq: int | None = None
    ) -> Message | None:
        with self._transaction(self._sql.begin_write) as cur:
            head = self._lock(cur, session_id, ctx, create=False)
            if head is None:
                return None
            last_seq, count = head
            if expect_seq is None:
                cur.execute(self._sql.pop, {"sid": session_id})
            else:
                cur.execute(self._sql.pop_expected, {"sid": session_id, "seq": expect_seq})
            row = cur.fetchone()
            if row is None:
                return None
            self._touch(cur, session_id, ctx, last_seq, count - 1)
            return self._decode(row)

    def clear(self, session_id: str, ctx: WriteContext) -> None:
        with self._transaction(self._sql.begin_write) as cur:
            head = self._lock(cur, session_id, ctx, create=False)
            if head is None:
                return
            cur.execute(self._sql.clear, {"sid": session_id})
            self._touch(cur, session_id, ctx, head[0], 0)

    def delete(self, session_id: str, *, now: datetime) -> bool:
        with self._transaction(self._sql.begin_write) as cur:
            cur.execute(self._sql.delete_session, {"sid": session_id})
            row = cur.fetchone()
            return bool(row is not None and (row[0] is None or self._dt_out(row[0]) > now))

    def set_metadata(self, session_id: str, key: str, value_json: str, ctx: WriteContext) -> None:
        with self._transaction(self._sql.begin_write) as cur:
            head = self._lock(cur, session_id, ctx, create=True)
            assert head is not None
            cur.execute(
                self._sql.set_metadata, {"sid": session_id, "key": key, "value": value_json}
            )
            self._touch(cur, session_id, ctx, *head)

    def unset_metadata(self, session_id: str, key: str, ctx: WriteContext) -> bool:
        with self._transaction(self._sql.begin_write) as cur:
            head = self._lock(cur, session_id, ctx, create=False)
            if head is None:
                return False
            cur.execute(self._sql.unset_metadata, {"sid": session_id, "key": key})
            removed: bool = cur.rowcount > 0
            self._touch(cur, session_id, ctx, *head)
            return removed

    def _metadata(self, cur: Any, session_id: str, now: Any) -> dict[str, Any]:
        cur.execute(self._sql.get_metadata, {"sid": session_id, "now": now})
        return {key: decode_json(value) for key, value in cur.fetchall()}

    def get_metadata(self, session_id: str, *, now: datetime) -> dict[str, Any]:
        with self._single_statement() as conn:
            cur = conn.cursor()
            try:
                return self._metadata(cur, session_id, self._dt_in(now))
            finally:
                cur.close()

    def _info(self, cur: Any, session_id: str, now: Any) -> SessionInfo | None:
        cur.execute(self._sql.info, {"sid": session_id, "now": now})
        row = cur.fetchone()
        if row is None:
            return None
        user_id, created_at, updated_at, expires_at, count, last_seq = row
        return SessionInfo(
            session_id=session_id,
            user_id=user_id,
            created_at=self._dt_out(created_at),
            updated_at=self._dt_out(updated_at),
            expires_at=None if expires_at is None else self._dt_out(expires_at),
            message_count=int(count),
            last_seq=int(last_seq),
        )

    def info(self, session_id: str, *, now: datetime) -> SessionInfo | None:
        with self._single_statement() as conn:
            cur = conn.cursor()
            try:
                return self._info(cur, session_id, self._dt_in(now))
            finally:
                cur.close()

    def snapshot(self, session_id: str, *, now: datetime) -> SessionSnapshot | None:
        params = {"sid": session_id, "now": self._dt_in(now)}
        # One read transaction, so messages, metadata and counts agree.
        with self._transaction(self._sql.begin_read) as cur:
            info = self._info(cur, session_id, params["now"])
            if info is None:
                return None
            cur.execute(self._sql.read_all, params)
            messages = self._decode_rows(cur.fetchall())
            return SessionSnapshot(info, messages, self._metadata(cur, session_id, params["now"]))

    def import_session(
        self,
        session_id: str,
        messages: Sequence[StoredMessage],
        metadata: dict[str, str],
        mode: ImportMode,
        ctx: WriteContext,
    ) -> int:
        with self._transaction(self._sql.begin_write) as cur:
            head = self._lock(cur, session_id, ctx, create=True)
            assert head is not None
            last_seq, count = head
            if mode == "error" and count:
                raise SessionExistsError(
                    f"session {session_id!r} already has {count} messages; "
                    "import with mode='replace' or mode='append'"
                )
            if mode == "replace":
                cur.execute(self._sql.clear, {"sid": session_id})
                cur.execute(self._sql.clear_metadata, {"sid": session_id})
                count = 0
            rows = [
                self._message_row(
                    session_id,
                    last_seq + 1 + i if mode == "append" else m.seq,
                    self._dt_in(m.created_at),
                    m.record,
                )
                for i, m in enumerate(messages)
            ]
            if rows:
                cur.executemany(self._sql.insert_message, rows)
                last_seq = max(last_seq, rows[-1][1])
            if metadata:
                cur.executemany(
                    self._sql.set_metadata,
                    [{"sid": session_id, "key": k, "value": v} for k, v in metadata.items()],
                )
            self._touch(cur, session_id, ctx, last_seq, count + len(rows))
            return len(rows)

    def prune_expired(self, *, now: datetime) -> int:
        with self._transaction(self._sql.begin_write) as cur:
            cur.execute(self._sql.prune, {"now": self._dt_in(now)})
            return int(cur.rowcount)

    def list_sessions(
        self,
        *,
        now: datetime,
        prefix: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        before: tuple[datetime, str] | None = None,
    ) -> list[SessionInfo]:
        where = [_LIVE]
        params: dict[str, Any] = {"now": self._dt_in(now), "limit": limit}
        if user_id is not None:
            where.append("user_id = :user_id")
            params["user_id"] = user_id
        if prefix:
            # substr, not LIKE (no escaping) and not a range (a linguistic collation
            # would not order by prefix).
            where.append("substr(session_id, 1, :prefix_len) = :prefix")
            params.update(prefix=prefix, prefix_len=len(prefix))
        if before is not None:
            where.append(
                "(updated_at < :before_at OR (updated_at = :before_at AND session_id < :before_id))"
            )
            params.update(before_at=self._dt_in(before[0]), before_id=before[1])
        sql = (
            "SELECT session_id, user_id, created_at, updated_at, expires_at, message_count, "
            f"last_seq FROM sessions s WHERE {' AND '.join(where)} "
            "ORDER BY updated_at DESC, session_id DESC LIMIT :limit"
        )
        with self._single_statement() as conn:
            cur = conn.cursor()
            try:
                cur.execute(self._sql.dialect_sql(sql), params)
                rows = cur.fetchall()
            finally:
                cur.close()
        return [
            SessionInfo(
                session_id=sid,
                user_id=uid,
                created_at=self._dt_out(created),
                updated_at=self._dt_out(updated),
                expires_at=None if expires is None else self._dt_out(expires),
                message_count=int(count),
                last_seq=int(last_seq),
            )
            for sid, uid, created, updated, expires, count, last_seq in rows
        ]

    def session_ids(
        self, *, now: datetime, prefix: str | None = None, after: str | None = None, limit: int
    ) -> list[str]:
        where = [_LIVE]
        params: dict[str, Any] = {"now": self._dt_in(now), "limit": limit}
        if prefix:
            where.append("substr(session_id, 1, :prefix_len) = :prefix")
            params.update(prefix=prefix, prefix_len=len(prefix))
        if after is not None:
            where.append("session_id > :after")
            params["after"] = after
        sql = (
            f"SELECT session_id FROM sessions s WHERE {' AND '.join(where)} "
            "ORDER BY session_id LIMIT :limit"
        )
        with self._single_statement() as conn:
            cur = conn.cursor()
            try:
                cur.execute(self._sql.dialect_sql(sql), params)
                return [row[0] for row in cur.fetchall()]
            finally:
                cur.close()

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()
