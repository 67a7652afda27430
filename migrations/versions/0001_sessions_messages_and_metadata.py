"""sessions, messages and metadata

Revision ID: 0001
Revises:
Create Date: 2026-11-25

The first schema. Plain SQLAlchemy types only (no pyai imports), so this file reads
the same in ten years: TIMESTAMPTZ and JSONB on PostgreSQL, DATETIME and TEXT
(holding JSON) on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    # TEXT, not JSON, on SQLite: a JSON column has NUMERIC affinity there and would turn
    # the JSON text "3" into the integer 3.
    return sa.Text().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("message_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"])
    op.create_index(
        op.f("ix_sessions_updated_at_session_id"), "sessions", ["updated_at", "session_id"]
    )
    op.create_index(
        op.f("ix_sessions_user_id_updated_at_session_id"),
        "sessions",
        ["user_id", "updated_at", "session_id"],
    )
    op.create_table(
        "messages",
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("content", _json(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("tool_call_id", sa.Text(), nullable=True),
        sa.Column("tool_calls", _json(), nullable=True),
        sa.Column("metadata", _json(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.session_id"],
            name=op.f("fk_messages_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "seq", name=op.f("pk_messages")),
    )
    op.create_table(
        "metadata_kv",
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.session_id"],
            name=op.f("fk_metadata_kv_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "key", name=op.f("pk_metadata_kv")),
    )


def downgrade() -> None:
    op.drop_table("metadata_kv")
    op.drop_table("messages")
    op.drop_index(op.f("ix_sessions_user_id_updated_at_session_id"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_updated_at_session_id"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
    op.drop_table("sessions")
