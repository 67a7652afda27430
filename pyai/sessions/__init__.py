"""Durable sessions for AI agents: one API on SQLite, PostgreSQL, Redis and memory.

from pyai.sessions import SQLiteSession
with SQLiteSession("conversations.db", "user-123") as session:
    session.add_message("user", "Hello")
    session.get_messages(limit=20)
"""

from __future__ import annotations

from ._backends import InMemorySession, PostgresSession, SQLiteSession, open_session
from ._message import Message
from ._repository import SessionInfo, SessionRepository
from ._session import Session, SessionEvent
from ._sql.engines import dispose_engines
from .errors import SessionError

__all__ = [
    "InMemorySession",
    "Message",
    "PostgresSession",
    "SQLiteSession",
    "Session",
    "SessionError",
    "SessionEvent",
    "SessionInfo",
    "SessionRepository",
    "dispose_engines",
    "open_session",
]
