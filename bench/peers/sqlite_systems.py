"""The systems measured on a SQLite file.

Every system gets its own database file in the run's temporary directory. Durability is
the same for all of them: SQLite's default ``synchronous=FULL`` (pyai and the raw driver
set it explicitly), so a write that returned has been fsynced. pyai, the raw driver and
both OpenAI sessions run in WAL mode; LangChain's history keeps SQLite's default rollback
journal, which is what its users get.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Any

from bench.peers.systems import TURN, Handle, System, langchain_message

# -- raw sqlite3: the floor ---------------------------------------------------------------
# The same work as pyai, on pyai's schema, without a framework: take the write lock,
# create-or-bump the session row to learn the positions, insert, commit.

_HEAD = (
    "INSERT INTO sessions (session_id, created_at, updated_at, last_seq, message_count) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET "
    "last_seq = last_seq + excluded.last_seq, "
    "message_count = message_count + excluded.message_count, "
    "updated_at = excluded.updated_at RETURNING last_seq"
)
_INSERT = "INSERT INTO messages (session_id, seq, role, content, created_at) VALUES (?, ?, ?, ?, ?)"
_TAIL = (
    "SELECT seq, created_at, role, content FROM messages WHERE session_id = ? "
    "ORDER BY seq DESC LIMIT ?"
)
_ALL = "SELECT seq, created_at, role, content FROM messages WHERE session_id = ? ORDER BY seq"


def _now() -> str:
    # pyai's storage form: fixed-width UTC text.
    return datetime.now(timezone.utc).isoformat(" ", "microseconds")[:26]


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _raw_append(conn: sqlite3.Connection, sid: str, items: list[dict[str, str]]) -> int:
    now, n = _now(), len(items)
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE")
    try:
        (last,) = cur.execute(_HEAD, (sid, now, now, n, n)).fetchone()
        first = last - n + 1
        cur.executemany(
            _INSERT,
            [
                (sid, first + i, m["role"], json.dumps(m["content"]), now)
                for i, m in enumerate(items)
            ],
        )
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    return int(first)


def _raw_rows(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [(s, c, r, json.loads(x)) for s, c, r, x in rows]


class RawSqlHandle(Handle):
    """The floor on pyai's schema; subclasses give the driver's SQL and append."""

    tail_sql: str
    all_sql: str

    def __init__(self, conn: Any, sid: str) -> None:
        self.conn, self.sid = conn, sid

    def _append(self, items: list[dict[str, str]]) -> Any:
        raise NotImplementedError

    def add_one(self, text: str) -> Any:
        return self._append([{"role": "user", "content": text}])

    def add_batch(self, items: list[dict[str, str]]) -> Any:
        return self._append(items)

    def tail(self, n: int) -> list[Any]:
        rows = self.conn.execute(self.tail_sql, (self.sid, n)).fetchall()
        rows.reverse()
        return _raw_rows(rows)

    def read_all(self) -> list[Any]:
        return _raw_rows(self.conn.execute(self.all_sql, (self.sid,)).fetchall())

    def contents(self) -> list[str]:
        return [row[3] for row in self.read_all()]


class RawSqliteHandle(RawSqlHandle):
    tail_sql, all_sql = _TAIL, _ALL

    def _append(self, items: list[dict[str, str]]) -> int:
        return _raw_append(self.conn, self.sid, items)


class RawSqlite(System):
    """stdlib ``sqlite3`` on pyai's schema; one connection per process (like a pool)."""

    name = "raw sqlite3"
    kind = "raw"

    def __init__(self, path: str) -> None:
        super().__init__(path=path)
        self.path = path
        self.conn = _connect(path)
        self.conn.execute("PRAGMA busy_timeout=30000")

    def open(self, session_id: str) -> RawSqliteHandle:
        return RawSqliteHandle(self.conn, session_id)

    def fill(self, session_id: str, n: int) -> None:
        from bench.peers.systems import batch

        for start in range(0, n, 1000):
            _raw_append(self.conn, session_id, batch(min(1000, n - start), str(start)))

    def user(self, session_id: str) -> int:
        _raw_append(self.conn, session_id, TURN)
        return len(_raw_rows(self.conn.execute(_ALL, (session_id,)).fetchall()))

    def close(self) -> None:
        self.conn.close()

    @staticmethod
    def create_schema(path: str) -> None:
        from pyai.sessions._sql import migrate
        from pyai.sessions._sql.engines import sqlite_url

        migrate.upgrade(sqlite_url(path))


# -- pyai ---------------------------------------------------------------------------------


class PyaiHandle(Handle):
    """A pyai Session (any backend: the API is the same)."""

    def __init__(self, session: Any) -> None:
        self.s = session

    def add_one(self, text: str) -> Any:
        return self.s.add_message("user", text)

    def add_batch(self, items: list[dict[str, str]]) -> Any:
        return self.s.add_messages(items)

    def tail(self, n: int) -> Any:
        return self.s.get_messages(limit=n)

    def read_all(self) -> Any:
        return self.s.get_messages()

    def contents(self) -> list[Any]:
        return [m.content for m in self.s.get_messages()]

    def close(self) -> None:
        self.s.close()


def pyai_fill(session: Any, n: int) -> None:
    from bench.peers.systems import batch

    for start in range(0, n, 1000):
        session.add_messages(batch(min(1000, n - start), str(start)))


class PyaiSystem(System):
    """pyai through one of its session classes; subclasses say which (``_make``)."""

    name = "pyai"
    kind = "pyai"

    def _make(self, session_id: str) -> Any:
        raise NotImplementedError

    def open(self, session_id: str) -> PyaiHandle:
        return PyaiHandle(self._make(session_id))

    def fill(self, session_id: str, n: int) -> None:
        pyai_fill(self._make(session_id), n)

    def user(self, session_id: str) -> int:
        with self._make(session_id) as s:
            s.add_messages(TURN)
            return len(s.get_messages())

    def close(self) -> None:
        from pyai.sessions import dispose_engines

        dispose_engines()


class PyaiSqlite(PyaiSystem):
    """``pyai.sessions.SQLiteSession(path, session_id)``."""

    def __init__(self, path: str) -> None:
        super().__init__(path=path)
        self.path = path

    def _make(self, session_id: str) -> Any:
        from pyai.sessions import SQLiteSession

        return SQLiteSession(self.path, session_id)


# -- OpenAI Agents SDK --------------------------------------------------------------------


class OpenAIHandle(Handle):
    """An OpenAI Agents SDK session (async API)."""

    def __init__(self, session: Any) -> None:
        self.s = session

    async def add_one(self, text: str) -> None:
        await self.s.add_items([{"role": "user", "content": text}])

    async def add_batch(self, items: list[dict[str, str]]) -> None:
        await self.s.add_items(list(items))

    async def tail(self, n: int) -> Any:
        return await self.s.get_items(limit=n)

    async def read_all(self) -> Any:
        return await self.s.get_items()

    async def contents(self) -> list[Any]:
        return [item["content"] for item in await self.s.get_items()]

    async def close(self) -> None:
        result = self.s.close()
        if result is not None:
            await result


async def openai_fill(session: Any, n: int) -> None:
    from bench.peers.systems import batch

    for start in range(0, n, 1000):
        await session.add_items(batch(min(1000, n - start), str(start)))


class OpenAISqlite(System):
    """``agents.SQLiteSession(session_id, db_path)``: stdlib sqlite3 in worker threads."""

    name = "OpenAI SQLiteSession"
    kind = "peer"
    asynchronous = True

    def __init__(self, path: str) -> None:
        super().__init__(path=path)
        self.path = path

    def _make(self, session_id: str) -> Any:
        from agents import SQLiteSession

        return SQLiteSession(session_id, self.path)

    def open(self, session_id: str) -> OpenAIHandle:
        return OpenAIHandle(self._make(session_id))

    def fill(self, session_id: str, n: int) -> None:
        from bench.peers.timing import run

        s = self._make(session_id)
        run(openai_fill(s, n))
        s.close()

    async def user(self, session_id: str) -> int:
        s = self._make(session_id)
        try:
            await s.add_items(list(TURN))
            return len(await s.get_items())
        finally:
            s.close()


class OpenAISqlAlchemy(System):
    """``SQLAlchemySession.from_url(session_id, url=...)``: SQLAlchemy asyncio.

    On SQLite the driver is aiosqlite; on PostgreSQL asyncpg (the SDK's documented URL).
    ``from_url`` builds an engine per object; the SDK leaves disposing it to the caller,
    which every handle here does when it closes.
    """

    name = "OpenAI SQLAlchemySession"
    kind = "peer"
    asynchronous = True

    def __init__(self, url: str) -> None:
        super().__init__(url=url)
        self.url = url

    def _make(self, session_id: str) -> Any:
        from agents.extensions.memory import SQLAlchemySession

        return SQLAlchemySession.from_url(session_id, url=self.url, create_tables=True)

    def open(self, session_id: str) -> Handle:
        return _SqlAlchemyHandle(self._make(session_id))

    def fill(self, session_id: str, n: int) -> None:
        from bench.peers.timing import run

        s = self._make(session_id)
        run(openai_fill(s, n))
        run(s.engine.dispose())

    async def user(self, session_id: str) -> int:
        s = self._make(session_id)
        try:
            await s.add_items(list(TURN))
            return len(await s.get_items())
        finally:
            await s.engine.dispose()


class _SqlAlchemyHandle(OpenAIHandle):
    async def close(self) -> None:
        await self.s.engine.dispose()


# -- LangChain ----------------------------------------------------------------------------


class LangChainHandle(Handle):
    """A LangChain ``BaseChatMessageHistory``: no tail read, the whole history is loaded."""

    def __init__(self, history: Any) -> None:
        self.h = history

    def add_one(self, text: str) -> None:
        from langchain_core.messages import HumanMessage

        self.h.add_message(HumanMessage(content=text))

    def add_batch(self, items: list[dict[str, str]]) -> None:
        self.h.add_messages([langchain_message(m) for m in items])

    def tail(self, n: int) -> Any:
        return self.h.messages[-n:]

    def read_all(self) -> Any:
        return self.h.messages

    def contents(self) -> list[Any]:
        return [m.content for m in self.h.messages]

    def close(self) -> None:
        engine = getattr(self.h, "engine", None)
        if engine is not None:
            engine.dispose()


def langchain_rows(n: int) -> list[str]:
    """``n`` messages serialised exactly as LangChain's histories store them."""
    from langchain_core.messages import message_to_dict

    from bench.peers.systems import batch

    out: list[str] = []
    for start in range(0, n, 1000):
        out += [
            json.dumps(message_to_dict(langchain_message(m)))
            for m in batch(min(1000, n - start), str(start))
        ]
    return out


class LangChainSql(System):
    """``SQLChatMessageHistory(session_id, connection=url)`` (langchain-community).

    The history's ``add_messages`` adds ORM objects one by one; the fill writes the same
    rows with one ``executemany`` so that building a 100,000-message history stays quick.
    """

    name = "LangChain SQLChatMessageHistory"
    kind = "peer"

    def __init__(self, url: str) -> None:
        super().__init__(url=url)
        self.url = url

    def _make(self, session_id: str) -> Any:
        from langchain_community.chat_message_histories import SQLChatMessageHistory

        return SQLChatMessageHistory(session_id=session_id, connection=self.url)

    def open(self, session_id: str) -> LangChainHandle:
        return LangChainHandle(self._make(session_id))

    def fill(self, session_id: str, n: int) -> None:
        h = self._make(session_id)
        rows = [{"sid": session_id, "m": m} for m in langchain_rows(n)]
        from sqlalchemy import text

        with h.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO message_store (session_id, message) VALUES (:sid, :m)"), rows
            )
        h.engine.dispose()

    def user(self, session_id: str) -> int:
        h = self._make(session_id)
        try:
            h.add_messages([langchain_message(m) for m in TURN])
            return len(h.messages)
        finally:
            h.engine.dispose()


def systems(workdir: str) -> list[System]:
    """Every system on SQLite, each on its own file under ``workdir``."""
    raw_path = f"{workdir}/raw.db"
    RawSqlite.create_schema(raw_path)
    return [
        RawSqlite(raw_path),
        PyaiSqlite(f"{workdir}/pyai.db"),
        OpenAISqlite(f"{workdir}/openai.db"),
        OpenAISqlAlchemy(f"sqlite+aiosqlite:///{workdir}/openai-sqlalchemy.db"),
        LangChainSql(f"sqlite:///{workdir}/langchain.db"),
    ]
