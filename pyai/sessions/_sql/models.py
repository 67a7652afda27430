"""The schema: one SQLAlchemy model set for SQLite and PostgreSQL, owned by Alembic.

* ``sessions``: one row per session; ``last_seq`` is the highest position ever given
  (so positions are never reused) and ``message_count`` the live count, both kept in
  the same transaction as the messages they describe.
* ``messages``: primary key ``(session_id, seq)``; ``seq`` is the only ordering key.
  There is deliberately no surrogate id and no index on ``seq`` alone: with one, the
  PostgreSQL planner was seen walking it backwards through other sessions' rows for a
  tail read.
* ``metadata_kv``: one row per ``(session_id, key)``.

Timestamps are timezone-aware UTC on both dialects (TIMESTAMPTZ on PostgreSQL; on
SQLite, which has no time zones, fixed-width UTC text that sorts correctly); JSON
columns are JSONB on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import JSONText, UTCDateTime

__all__ = ["Base", "MessageRow", "MetadataRow", "SessionRow", "metadata"]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base bound to the pyai metadata."""

    metadata = metadata


class SessionRow(Base):
    """A session's bookkeeping row."""

    __tablename__ = "sessions"

    session_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    message_count: Mapped[int] = mapped_column(BigInteger, server_default="0")

    __table_args__ = (
        # A user's sessions, newest activity first (store.list_sessions(user_id=...));
        # session_id breaks ties, so keyset paging reads the index and nothing else.
        Index(None, "user_id", "updated_at", "session_id"),
        # Every session, newest activity first (store.list_sessions()).
        Index(None, "updated_at", "session_id"),
        # prune_expired: only rows that can expire are in the range scanned.
        Index(None, "expires_at"),
    )


class MessageRow(Base):
    """One message at position ``seq`` of a session."""

    __tablename__ = "messages"

    session_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(64))
    content: Mapped[Any] = mapped_column(JSONText())
    name: Mapped[str | None] = mapped_column(Text)
    tool_call_id: Mapped[str | None] = mapped_column(Text)
    tool_calls: Mapped[Any | None] = mapped_column(JSONText())
    metadata_: Mapped[Any | None] = mapped_column("metadata", JSONText())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MetadataRow(Base):
    """One metadata key of a session."""

    __tablename__ = "metadata_kv"

    session_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONText())
