"""Durable sessions for AI agents: one API on SQLite, PostgreSQL, Redis and memory.

from pyai.sessions import SQLiteSession
with SQLiteSession("conversations.db", "user-123") as session:
    session.add_message("user", "Hello")
    session.get_messages(limit=20)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._backends import InMemorySession, PostgresSession, SQLiteSession, open_session, open_store
from ._codec import Limits, generate_key
from ._message import Message
from ._repository import SessionInfo, SessionRepository
from ._session import Session, SessionEvent
from ._sql.engines import dispose_engines
from ._store import SessionPage, SessionStore
from .errors import SessionError

if TYPE_CHECKING:
    from ._redis import RedisSession as RedisSession

__all__ = [
    "InMemorySession",
    "Limits",
    "Message",
    "PostgresSession",
    "SQLiteSession",
    "Session",
    "SessionError",
    "SessionEvent",
    "SessionInfo",
    "SessionPage",
    "SessionRepository",
    "SessionStore",
    "dispose_engines",
    "generate_key",
    "open_session",
    "open_store",
]


# RedisSession needs the optional `redis` extra, so it is imported on first access:
# `import pyai.sessions` stays free of redis-py. It is left out of __all__ so that a star
# import works without the extra.
def __getattr__(name: str) -> Any:
    if name == "RedisSession":
        from ._redis import RedisSession

        return RedisSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "RedisSession"])
