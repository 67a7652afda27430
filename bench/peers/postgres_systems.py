"""The systems measured on PostgreSQL (one database created for the run, dropped after).

A committed transaction is durable for every system (the server's
``synchronous_commit``). pyai and the raw floor share pyai's schema (migrated by pyai);
each peer creates its own tables the way its documentation says.

Histories of 10,000 and 100,000 messages are written with ``COPY`` in each library's own
row format, timestamps one millisecond apart, as if appended over time: the OpenAI
session orders by ``created_at``, and rows sharing one timestamp (one bulk transaction)
would make its tail read sort a whole batch that real appends never produce.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.peers.sqlite_systems import (
    LangChainHandle,
    OpenAISqlAlchemy,
    PyaiSystem,
    RawSqlHandle,
    _raw_rows,
    langchain_rows,
)
from bench.peers.systems import TURN, System, batch, langchain_message
from bench.peers.timing import run

# -- raw psycopg 3: the floor -------------------------------------------------------------
# pyai's schema; the fastest form the driver allows: one autocommit statement per append
# (create-or-bump the session row, insert the messages at the positions it returns).

_HEAD = (
    "INSERT INTO sessions (session_id, created_at, updated_at, last_seq, message_count) "
    "VALUES (%(sid)s, %(now)s, %(now)s, %(n)s, %(n)s) ON CONFLICT (session_id) DO UPDATE "
    "SET last_seq = sessions.last_seq + excluded.last_seq, "
    "message_count = sessions.message_count + excluded.message_count, "
    "updated_at = excluded.updated_at RETURNING last_seq"
)
_APPEND_ONE = (
    f"WITH head AS ({_HEAD}) INSERT INTO messages (session_id, seq, role, content, created_at) "
    "SELECT %(sid)s, head.last_seq, %(role)s, CAST(%(content)s AS JSONB), %(now)s FROM head"
)
_APPEND_MANY = (
    f"WITH head AS ({_HEAD}) INSERT INTO messages (session_id, seq, role, content, created_at) "
    "SELECT %(sid)s, head.last_seq - %(n)s + v.ord, v.role, CAST(v.content AS JSONB), %(now)s "
    "FROM head, unnest(CAST(%(roles)s AS TEXT[]), CAST(%(contents)s AS TEXT[])) "
    "WITH ORDINALITY AS v(role, content, ord)"
)
_TAIL = (
    "SELECT seq, created_at, role, CAST(content AS TEXT) FROM messages "
    "WHERE session_id = %s ORDER BY seq DESC LIMIT %s"
)
_ALL = (
    "SELECT seq, created_at, role, CAST(content AS TEXT) FROM messages "
    "WHERE session_id = %s ORDER BY seq"
)


def _raw_append(conn: Any, sid: str, items: list[dict[str, str]]) -> None:
    now = datetime.now(timezone.utc)
    if len(items) == 1:
        params = {"sid": sid, "now": now, "n": 1, "role": items[0]["role"]}
        params["content"] = json.dumps(items[0]["content"])
        conn.execute(_APPEND_ONE, params)
        return
    conn.execute(
        _APPEND_MANY,
        {
            "sid": sid,
            "now": now,
            "n": len(items),
            "roles": [m["role"] for m in items],
            "contents": [json.dumps(m["content"]) for m in items],
        },
    )


class RawPostgresHandle(RawSqlHandle):
    tail_sql, all_sql = _TAIL, _ALL

    def _append(self, items: list[dict[str, str]]) -> None:
        _raw_append(self.conn, self.sid, items)


class RawPostgres(System):
    """psycopg 3 on pyai's schema; one autocommit connection per process (like a pool)."""

    name = "raw psycopg"
    kind = "raw"

    def __init__(self, url: str) -> None:
        import psycopg

        super().__init__(url=url)
        self.conn = psycopg.connect(url, autocommit=True)

    def open(self, session_id: str) -> RawPostgresHandle:
        return RawPostgresHandle(self.conn, session_id)

    def fill(self, session_id: str, n: int) -> None:
        for start in range(0, n, 1000):
            _raw_append(self.conn, session_id, batch(min(1000, n - start), str(start)))

    def user(self, session_id: str) -> int:
        _raw_append(self.conn, session_id, TURN)
        return len(_raw_rows(self.conn.execute(_ALL, (session_id,)).fetchall()))

    def close(self) -> None:
        self.conn.close()


# -- pyai ---------------------------------------------------------------------------------


class PyaiPostgres(PyaiSystem):
    """``pyai.sessions.PostgresSession(url, session_id)``."""

    def __init__(self, url: str) -> None:
        super().__init__(url=url)
        self.url = url

    def _make(self, session_id: str) -> Any:
        from pyai.sessions import PostgresSession

        return PostgresSession(self.url, session_id)


# -- peers --------------------------------------------------------------------------------


def _copy(url: str, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(f"ANALYZE {table}")


def _spread(n: int) -> list[datetime]:
    start = datetime.now(timezone.utc) - timedelta(milliseconds=n)
    return [start + timedelta(milliseconds=i) for i in range(n)]


class OpenAISqlAlchemyPostgres(OpenAISqlAlchemy):
    __doc__ = OpenAISqlAlchemy.__doc__

    def __init__(self, url: str, dsn: str) -> None:
        super().__init__(url=url)
        self.config["dsn"] = dsn
        self.dsn = dsn

    def fill(self, session_id: str, n: int) -> None:
        import psycopg

        s = self._make(session_id)
        run(s.get_items())  # creates the tables
        run(s.engine.dispose())
        with psycopg.connect(self.dsn) as conn:
            conn.execute("INSERT INTO agent_sessions (session_id) VALUES (%s)", (session_id,))
        rows = [
            (session_id, json.dumps(m, separators=(",", ":")), ts.replace(tzinfo=None))
            for m, ts in zip(_all_batches(n), _spread(n), strict=True)
        ]
        _copy(self.dsn, "agent_messages", "session_id, message_data, created_at", rows)


def _all_batches(n: int) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for start in range(0, n, 1000):
        out += batch(min(1000, n - start), str(start))
    return out


class LangChainSqlPostgres(System):
    """``SQLChatMessageHistory(session_id, connection=url)`` on psycopg 3."""

    name = "LangChain SQLChatMessageHistory"
    kind = "peer"

    def __init__(self, url: str, dsn: str) -> None:
        super().__init__(url=url, dsn=dsn)
        self.url, self.dsn = url, dsn

    def _make(self, session_id: str) -> Any:
        from langchain_community.chat_message_histories import SQLChatMessageHistory

        return SQLChatMessageHistory(session_id=session_id, connection=self.url)

    def open(self, session_id: str) -> LangChainHandle:
        return LangChainHandle(self._make(session_id))

    def fill(self, session_id: str, n: int) -> None:
        self._make(session_id).engine.dispose()  # creates the table
        rows = [(session_id, m) for m in langchain_rows(n)]
        _copy(self.dsn, "message_store", "session_id, message", rows)

    def user(self, session_id: str) -> int:
        h = self._make(session_id)
        try:
            h.add_messages([langchain_message(m) for m in TURN])
            return len(h.messages)
        finally:
            h.engine.dispose()


_LC_TABLE = "lc_chat_history"


class LangChainPostgresHandle(LangChainHandle):
    def tail(self, n: int) -> Any:
        return self.h.get_messages()[-n:]

    def read_all(self) -> Any:
        return self.h.get_messages()

    def contents(self) -> list[Any]:
        return [m.content for m in self.h.get_messages()]

    def close(self) -> None:
        self.h._connection.close()


class LangChainPostgres(System):
    """``langchain_postgres.PostgresChatMessageHistory`` on a psycopg 3 connection.

    It takes a connection, not a URL: a handle connects with ``psycopg.connect(url)``
    as its documentation shows, and closes it. Session ids must be UUIDs.
    """

    name = "langchain-postgres PostgresChatMessageHistory"
    kind = "peer"
    uuid_ids = True

    def __init__(self, dsn: str) -> None:
        import psycopg
        from langchain_postgres import PostgresChatMessageHistory

        super().__init__(dsn=dsn)
        self.dsn = dsn
        with psycopg.connect(dsn) as conn:
            PostgresChatMessageHistory.create_tables(conn, _LC_TABLE)

    def _make(self, session_id: str) -> Any:
        import psycopg
        from langchain_postgres import PostgresChatMessageHistory

        conn = psycopg.connect(self.dsn)
        return PostgresChatMessageHistory(_LC_TABLE, session_id, sync_connection=conn)

    def open(self, session_id: str) -> LangChainPostgresHandle:
        return LangChainPostgresHandle(self._make(session_id))

    def fill(self, session_id: str, n: int) -> None:
        rows = [
            (uuid.UUID(session_id), m, ts)
            for m, ts in zip(langchain_rows(n), _spread(n), strict=True)
        ]
        _copy(self.dsn, _LC_TABLE, "session_id, message, created_at", rows)

    def user(self, session_id: str) -> int:
        h = self._make(session_id)
        try:
            h.add_messages([langchain_message(m) for m in TURN])
            return len(h.get_messages())
        finally:
            h._connection.close()


def create_database(server: str) -> tuple[str, str]:
    """Create a database of our own on ``server``; returns (name, its URL)."""
    import psycopg

    name = f"pyai_peers_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = server.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def systems(dsn: str) -> list[System]:
    """Every system on the PostgreSQL database at ``dsn`` (``postgresql://...``)."""
    from pyai.sessions._sql import migrate
    from pyai.sessions._sql.engines import normalize_url

    migrate.upgrade(normalize_url(dsn))
    rest = dsn.split("://", 1)[1]
    return [
        RawPostgres(dsn),
        PyaiPostgres(dsn),
        OpenAISqlAlchemyPostgres(f"postgresql+asyncpg://{rest}", dsn),
        LangChainSqlPostgres(f"postgresql+psycopg://{rest}", dsn),
        LangChainPostgres(dsn),
    ]
