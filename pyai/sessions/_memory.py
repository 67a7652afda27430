"""In-memory repository: the reference implementation of the contract.

It keeps records in their storage form (JSON text), exactly as the other backends do,
so callers get fresh objects back and validation behaves identically. One lock guards
everything: every method is atomic and thread-safe within the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._message import Message, MessageRecord, decode_json, decode_message
from ._repository import (
    ImportMode,
    SessionInfo,
    SessionSnapshot,
    StoredMessage,
    WriteContext,
)
from .errors import SessionExistsError

__all__ = ["MemoryRepository"]


@dataclass
class _Entry:
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    user_id: str | None
    last_seq: int = 0
    messages: list[StoredMessage] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def info(self, session_id: str) -> SessionInfo:
        return SessionInfo(
            session_id=session_id,
            user_id=self.user_id,
            created_at=self.created_at,
            updated_at=self.updated_at,
            expires_at=self.expires_at,
            message_count=len(self.messages),
            last_seq=self.last_seq,
        )


def _decode(stored: StoredMessage) -> Message:
    return decode_message(stored.seq, stored.created_at, *stored.record)


class MemoryRepository:
    """Sessions held in a dict in this process; nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, _Entry] = {}

    def _live(self, session_id: str, now: datetime) -> _Entry | None:
        entry = self._sessions.get(session_id)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= now:
            return None
        return entry

    def _for_write(self, session_id: str, ctx: WriteContext, *, create: bool) -> _Entry | None:
        entry = self._sessions.get(session_id)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= ctx.now:
            # An expired session starts afresh: contents go, the position counter stays.
            entry = _Entry(ctx.now, ctx.now, None, ctx.user_id, last_seq=entry.last_seq)
            self._sessions[session_id] = entry
        if entry is None:
            if not create:
                return None
            entry = _Entry(ctx.now, ctx.now, None, ctx.user_id)
            self._sessions[session_id] = entry
        entry.updated_at = ctx.now
        entry.expires_at = ctx.expires_at
        if entry.user_id is None and ctx.user_id is not None:
            entry.user_id = ctx.user_id
        return entry

    def append(self, session_id: str, records: Sequence[MessageRecord], ctx: WriteContext) -> int:
        with self._lock:
            entry = self._for_write(session_id, ctx, create=True)
            assert entry is not None
            first = entry.last_seq + 1
            entry.messages.extend(
                StoredMessage(first + i, ctx.now, record) for i, record in enumerate(records)
            )
            entry.last_seq += len(records)
            return first

    def read(
        self, session_id: str, *, now: datetime, limit: int | None = None, after: int | None = None
    ) -> list[Message]:
        with self._lock:
            entry = self._live(session_id, now)
            if entry is None:
                return []
            rows = entry.messages
            if after is not None:
                rows = [m for m in rows if m.seq > after]
                if limit is not None:
                    rows = rows[:limit]
            elif limit is not None:
                rows = rows[-limit:] if limit else []
            return [_decode(m) for m in rows]

    def pop(
        self, session_id: str, ctx: WriteContext, *, expect_seq: int | None = None
    ) -> Message | None:
        with self._lock:
            live = self._live(session_id, ctx.now)
            if live is None or not live.messages:
                return None
            if expect_seq is not None and live.messages[-1].seq != expect_seq:
                return None
            entry = self._for_write(session_id, ctx, create=False)
            assert entry is not None
            return _decode(entry.messages.pop())

    def count(self, session_id: str, *, now: datetime) -> int:
        with self._lock:
            entry = self._live(session_id, now)
            return 0 if entry is None else len(entry.messages)

    def clear(self, session_id: str, ctx: WriteContext) -> None:
        with self._lock:
            entry = self._for_write(session_id, ctx, create=False)
            if entry is not None:
                entry.messages.clear()

    def delete(self, session_id: str, *, now: datetime) -> bool:
        with self._lock:
            existed = self._live(session_id, now) is not None
            self._sessions.pop(session_id, None)
            return existed

    def set_metadata(self, session_id: str, key: str, value_json: str, ctx: WriteContext) -> None:
        with self._lock:
            entry = self._for_write(session_id, ctx, create=True)
            assert entry is not None
            entry.metadata[key] = value_json

    def unset_metadata(self, session_id: str, key: str, ctx: WriteContext) -> bool:
        with self._lock:
            entry = self._for_write(session_id, ctx, create=False)
            return entry is not None and entry.metadata.pop(key, None) is not None

    def get_metadata(self, session_id: str, *, now: datetime) -> dict[str, Any]:
        with self._lock:
            entry = self._live(session_id, now)
            if entry is None:
                return {}
            return {k: decode_json(v) for k, v in entry.metadata.items()}

    def info(self, session_id: str, *, now: datetime) -> SessionInfo | None:
        with self._lock:
            entry = self._live(session_id, now)
            return None if entry is None else entry.info(session_id)

    def snapshot(self, session_id: str, *, now: datetime) -> SessionSnapshot | None:
        with self._lock:
            entry = self._live(session_id, now)
            if entry is None:
                return None
            return SessionSnapshot(
                info=entry.info(session_id),
                messages=[_decode(m) for m in entry.messages],
                metadata={k: decode_json(v) for k, v in entry.metadata.items()},
            )

    def import_session(
        self,
        session_id: str,
        messages: Sequence[StoredMessage],
        metadata: dict[str, str],
        mode: ImportMode,
        ctx: WriteContext,
    ) -> int:
        with self._lock:
            live = self._live(session_id, ctx.now)
            if mode == "error" and live is not None and live.messages:
                raise SessionExistsError(
                    f"session {session_id!r} already has {len(live.messages)} messages; "
                    "import with mode='replace' or mode='append'"
                )
            entry = self._for_write(session_id, ctx, create=True)
            assert entry is not None
            if mode == "append":
                first = entry.last_seq + 1
                entry.messages.extend(
                    StoredMessage(first + i, m.created_at, m.record) for i, m in enumerate(messages)
                )
            else:
                if mode == "replace":
                    entry.metadata.clear()
                entry.messages = list(messages)
            if entry.messages:
                entry.last_seq = max(entry.last_seq, entry.messages[-1].seq)
            entry.metadata.update(metadata)
            return len(messages)

    def prune_expired(self, *, now: datetime) -> int:
        with self._lock:
            dead = [
                sid
                for sid, e in self._sessions.items()
                if e.expires_at is not None and e.expires_at <= now
            ]
            for sid in dead:
                del self._sessions[sid]
            return len(dead)

    def _live_items(self, now: datetime, prefix: str | None) -> list[tuple[str, _Entry]]:
        return [
            (sid, e)
            for sid, e in self._sessions.items()
            if (e.expires_at is None or e.expires_at > now)
            and (prefix is None or sid.startswith(prefix))
        ]

    def list_sessions(
        self,
        *,
        now: datetime,
        prefix: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        before: tuple[datetime, str] | None = None,
    ) -> list[SessionInfo]:
        with self._lock:
            items = [
                e.info(sid)
                for sid, e in self._live_items(now, prefix)
                if (user_id is None or e.user_id == user_id)
                and (before is None or (e.updated_at, sid) < before)
            ]
        items.sort(key=lambda i: (i.updated_at, i.session_id), reverse=True)
        return items[:limit]

    def session_ids(
        self, *, now: datetime, prefix: str | None = None, after: str | None = None, limit: int
    ) -> list[str]:
        with self._lock:
            ids = sorted(
                sid for sid, _ in self._live_items(now, prefix) if after is None or sid > after
            )
        return ids[:limit]

    def close(self) -> None:
        """Nothing to release; the data stays reachable through other session objects."""
