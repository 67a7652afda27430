"""The store: operations across the sessions of one database or server."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ._codec import Codec, Limits
from ._export import build_document, check_import_mode
from ._message import check_id
from ._repository import SessionInfo, SessionRepository
from ._session import Session
from .errors import SessionClosedError, ValidationError

__all__ = ["SessionPage", "SessionStore"]

_EXPORT_PAGE = 200


@dataclass(frozen=True)
class SessionPage:
    """One page of :meth:`SessionStore.list_sessions`.

    Attributes:
        items: the sessions, newest activity first.
        next_cursor: pass as ``cursor=`` for the next page; ``None`` on the last page.
    """

    items: list[SessionInfo]
    next_cursor: str | None


def _encode_cursor(info: SessionInfo) -> str:
    raw = json.dumps([info.updated_at.isoformat(), info.session_id], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, session_id = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(session_id, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise ValidationError(
            "invalid cursor; pass the next_cursor of a previous page unchanged"
        ) from exc
    return moment.astimezone(timezone.utc), session_id


class SessionStore:
    """Operations across sessions: listing, deleting, pruning, streaming export/import.

    Args:
        repository: the repository holding the sessions.
        ttl: default ttl for sessions opened with :meth:`session`.
        location: how the store describes itself (a URL with the password hidden).
        release: called by :meth:`close` to release what the store owns.
        encryption_key: key(s) for the sessions' encrypted values (see
            docs/encryption.md).
        limits: size limits for writes.
    """

    def __init__(
        self,
        repository: SessionRepository,
        *,
        ttl: float | timedelta | None = None,
        location: str = "",
        release: Callable[[], None] | None = None,
        encryption_key: str | Sequence[str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._codec = Codec(limits, encryption_key)
        self._session_options: dict[str, Any] = {
            "encryption_key": encryption_key,
            "limits": limits,
        }
        self._repository = repository
        self._ttl = ttl
        self._location = location
        self._release = release
        self._closed = False

    def __repr__(self) -> str:
        return f"SessionStore({self._location!r})"

    @property
    def location(self) -> str:
        """Where the store is (a URL with any password hidden)."""
        return self._location

    @property
    def repository(self) -> SessionRepository:
        """The repository the store works on."""
        return self._repository

    def _now(self) -> datetime:
        if self._closed:
            raise SessionClosedError(f"{self!r} is closed")
        return datetime.now(timezone.utc)

    def session(
        self,
        session_id: str | None = None,
        *,
        ttl: float | timedelta | None = None,
        user_id: str | None = None,
    ) -> Session:
        """A session of this store (cheap: no I/O until it is used).

        Args:
            session_id: the id; generated when omitted.
            ttl: overrides the store's default ttl.
            user_id: the owner, recorded when the session is created.
        """
        self._now()
        return Session(
            self._repository,
            session_id,
            ttl=self._ttl if ttl is None else ttl,
            user_id=user_id,
            **self._session_options,
        )

    def list_sessions(
        self,
        prefix: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> SessionPage:
        """Live sessions, newest activity first, one page at a time.

        Args:
            prefix: only ids that start with this text.
            user_id: only sessions of this owner.
            limit: page size (1 to 10,000).
            cursor: ``next_cursor`` of the previous page.

        Returns:
            A :class:`SessionPage`. Each page is one indexed read; its cost does not
            grow with the number of sessions.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise ValidationError(f"limit must be an integer from 1 to 10000, got {limit!r}")
        if prefix is not None and not isinstance(prefix, str):
            raise ValidationError("prefix must be a string")
        if user_id is not None:
            check_id(user_id, "user_id")
        before = None if cursor is None else _decode_cursor(cursor)
        items = self._repository.list_sessions(
            now=self._now(), prefix=prefix or None, user_id=user_id, limit=limit + 1, before=before
        )
        more = len(items) > limit
        items = items[:limit]
        return SessionPage(items, _encode_cursor(items[-1]) if more else None)

    def iter_sessions(
        self, prefix: str | None = None, user_id: str | None = None
    ) -> Iterator[SessionInfo]:
        """Every live session, newest activity first, read page by page."""
        cursor = None
        while True:
            page = self.list_sessions(prefix, user_id, 1000, cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def info(self, session_id: str) -> SessionInfo | None:
        """A session's bookkeeping (owner, times, message count), or None if it does not exist."""
        check_id(session_id)
        return self._repository.info(session_id, now=self._now())

    def delete_session(self, session_id: str) -> bool:
        """Delete a session entirely. Returns whether it existed."""
        check_id(session_id)
        return self._repository.delete(session_id, now=self._now())

    def prune_expired(self) -> int:
        """Delete every expired session (SQL, memory; Redis expires keys itself).

        Returns:
            How many sessions were deleted.
        """
        return self._repository.prune_expired(now=self._now())

    def session_ids(self, prefix: str | None = None) -> Iterator[str]:
        """Ids of live sessions in id order, read page by page."""
        after = None
        while True:
            ids = self._repository.session_ids(
                now=self._now(), prefix=prefix or None, after=after, limit=_EXPORT_PAGE
            )
            yield from ids
            if len(ids) < _EXPORT_PAGE:
                return
            after = ids[-1]

    def export_session(self, session_id: str) -> dict[str, Any] | None:
        """The export document of one session, or None if it does not exist."""
        check_id(session_id)
        snapshot = self._codec.open_snapshot(self._repository.snapshot(session_id, now=self._now()))
        return None if snapshot is None else build_document(session_id, snapshot, None)

    def export_all(self, prefix: str | None = None) -> Iterator[dict[str, Any]]:
        """Every session as an export document, streamed one session at a time.

        Memory stays flat however many sessions there are. Sessions are visited in id
        order; each document is a consistent snapshot of its session.
        """
        for session_id in self.session_ids(prefix):
            document = self.export_session(session_id)
            if document is not None:  # deleted since it was listed
                yield document

    def import_all(self, documents: Iterable[Any], mode: str = "error") -> int:
        """Import documents, each session atomically, in order.

        Args:
            documents: export documents (e.g. from :meth:`export_all`).
            mode: as for :meth:`Session.import_data`, applied to each session.

        Returns:
            The number of sessions imported.
        """
        mode_ = check_import_mode(mode)
        count = 0
        for document in documents:
            session_id = document.get("session_id") if isinstance(document, dict) else None
            if not isinstance(session_id, str):
                raise ValidationError(f"document {count + 1} has no session_id")
            self.session(session_id).import_data(document, mode_)
            count += 1
        return count

    # -- async twins -------------------------------------------------------------------

    async def alist_sessions(
        self,
        prefix: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> SessionPage:
        """Async twin of :meth:`list_sessions`."""
        return await asyncio.to_thread(self.list_sessions, prefix, user_id, limit, cursor)

    async def adelete_session(self, session_id: str) -> bool:
        """Async twin of :meth:`delete_session`."""
        return await asyncio.to_thread(self.delete_session, session_id)

    async def aprune_expired(self) -> int:
        """Async twin of :meth:`prune_expired`."""
        return await asyncio.to_thread(self.prune_expired)

    async def aexport_all(self, prefix: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Async twin of :meth:`export_all` (an async iterator)."""
        iterator = self.export_all(prefix)
        done = object()
        while True:
            document = await asyncio.to_thread(next, iterator, done)
            if document is done:
                return
            yield document  # type: ignore[misc]

    async def aimport_all(self, documents: Iterable[Any], mode: str = "error") -> int:
        """Async twin of :meth:`import_all`."""
        return await asyncio.to_thread(self.import_all, documents, mode)

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Release what the store owns. Idempotent."""
        if not self._closed:
            self._closed = True
            if self._release is not None:
                self._release()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
