"""The session facade every backend shares: validation, events, TTL policy, export/import.

A :class:`Session` is a cheap handle: a session id plus a reference to a repository
(usually shared with many other handles). It validates input, turns it into storage
records, calls exactly one repository method per operation, and fires events after the
write is durable. The async twins run the same code in a worker thread
(:func:`asyncio.to_thread`) so they never block the event loop and can never drift from
the sync methods; events from an async call fire on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, TypeVar

from ._codec import Codec, Limits
from ._export import build_document, check_import_mode, document_records, parse_document
from ._message import (
    MAX_TTL,
    Message,
    MessageRecord,
    build_message,
    check_id,
    encode_json,
    encode_message,
    stored_message,
    text_record,
    to_message,
)
from ._repository import SessionRepository, WriteContext
from .errors import BackendError, SessionClosedError, ValidationError

__all__ = ["Session", "SessionEvent"]

log = logging.getLogger("pyai.sessions")

T = TypeVar("T")
_POP_ATTEMPTS = 20


class SessionEvent(str, Enum):
    """Events a session fires after a write is durable.

    Callback arguments: ``MESSAGE_ADDED`` and ``MESSAGE_REMOVED`` get the
    :class:`Message`; ``METADATA_SET`` gets ``(key, value)``; ``SESSION_CLEARED`` and
    ``SESSION_DELETED`` get nothing.
    """

    MESSAGE_ADDED = "message_added"
    MESSAGE_REMOVED = "message_removed"
    SESSION_CLEARED = "session_cleared"
    METADATA_SET = "metadata_set"
    SESSION_DELETED = "session_deleted"


_Fired = list[tuple[SessionEvent, tuple[Any, ...]]]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _check_ttl(ttl: object) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        ttl = ttl.total_seconds()
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise ValidationError(f"ttl must be a number of seconds or None, got {type(ttl).__name__}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValidationError(f"ttl must be a positive number of seconds, got {ttl!r}")
    if ttl > MAX_TTL:
        raise ValidationError(f"ttl is over the limit of {MAX_TTL} seconds (100 years)")
    return float(ttl)


def _check_limit(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{name} must be a non-negative integer or None, got {value!r}")
    return value


class Session:
    """A conversation: ordered messages plus key/value metadata, stored in a repository.

    Args:
        repository: where the session lives (shared by many session objects).
        session_id: the id; a uuid4 hex string is generated when omitted.
        ttl: seconds of inactivity after which the session expires (sliding), or None.
        user_id: the owner, recorded when this object's first write creates the session.
        encryption_key: encrypt message content, tool calls and metadata values with this
            key (from :func:`~pyai.sessions.generate_key`), or a list of keys for rotation:
            the first encrypts, all decrypt. Needs the ``crypto`` extra.
        limits: size limits (:class:`~pyai.sessions.Limits`); the defaults otherwise.

    Raises:
        ValidationError: an id or ttl is malformed.

    Thread safety: a session object may be shared by threads; every method is one atomic
    repository call. Writes are durable when a method returns.
    """

    def __init__(
        self,
        repository: SessionRepository,
        session_id: str | None = None,
        *,
        ttl: float | timedelta | None = None,
        user_id: str | None = None,
        encryption_key: str | Sequence[str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._codec = Codec(limits, encryption_key)
        self._session_id = uuid.uuid4().hex if session_id is None else check_id(session_id)
        self._ttl = _check_ttl(ttl)
        self._user_id = None if user_id is None else check_id(user_id, "user_id")
        self._repository = repository
        self._closed = False
        self._listeners: dict[SessionEvent, list[Callable[..., object]]] = {}
        self._listeners_lock = threading.Lock()

    # -- identity ---------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self._session_id

    @property
    def ttl(self) -> float | None:
        """Seconds of inactivity before expiry, or None."""
        return self._ttl

    @property
    def user_id(self) -> str | None:
        """The owner given to this object, if any."""
        return self._user_id

    @property
    def repository(self) -> SessionRepository:
        """The repository this session reads and writes."""
        return self._repository

    @property
    def location(self) -> str:
        """Where the session is stored (a URL with any password hidden), if known."""
        return ""

    def _describe_location(self) -> str:
        return f"url={self.location!r}" if self.location else ""

    def __repr__(self) -> str:
        where = self._describe_location()
        where = f", {where}" if where else ""
        return f"{type(self).__name__}(session_id={self._session_id!r}{where})"

    # -- plumbing ---------------------------------------------------------------------

    def _ctx(self) -> WriteContext:
        if self._closed:
            raise SessionClosedError(f"{self!r} is closed; create a new session object")
        return WriteContext(now=_utcnow(), ttl=self._ttl, user_id=self._user_id)

    def _now(self) -> datetime:
        if self._closed:
            raise SessionClosedError(f"{self!r} is closed; create a new session object")
        return _utcnow()

    def _fire(self, outcome: tuple[T, _Fired]) -> T:
        result, fired = outcome
        if not self._listeners:
            return result
        for event, args in fired:
            for callback in list(self._listeners.get(event, ())):
                try:
                    callback(*args)
                except Exception:
                    log.exception(
                        "callback %r for %s on session %r raised; the write stands",
                        callback,
                        event.name,
                        self._session_id,
                    )
        return result

    async def _run(self, func: Callable[..., tuple[T, _Fired]], *args: Any) -> T:
        return self._fire(await asyncio.to_thread(func, *args))

    def on(self, event: SessionEvent, callback: Callable[..., object]) -> Callable[[], None]:
        """Call ``callback`` after every durable write of kind ``event`` made through this object.

        Args:
            event: which kind of write.
            callback: called with the event's arguments (see :class:`SessionEvent`).
                An exception it raises is logged; it never undoes or blocks the write.

        Returns:
            A function that unsubscribes the callback.
        """
        if not isinstance(event, SessionEvent):
            raise ValidationError(f"event must be a SessionEvent, got {event!r}")
        if not callable(callback):
            raise ValidationError("callback must be callable")
        with self._listeners_lock:
            self._listeners.setdefault(event, []).append(callback)

        def unsubscribe() -> None:
            with self._listeners_lock:
                listeners = self._listeners.get(event, [])
                if callback in listeners:
                    listeners.remove(callback)

        return unsubscribe

    # -- messages ---------------------------------------------------------------------

    def _add(self, messages: list[Message]) -> tuple[list[Message], _Fired]:
        self._codec.check_batch(len(messages))
        records = [self._codec.seal_record(encode_message(m), m.metadata) for m in messages]
        return self._append([m.__dict__ for m in messages], records)

    def _append(
        self, values: list[dict[str, Any]], records: list[MessageRecord]
    ) -> tuple[list[Message], _Fired]:
        """Append validated ``records``; returns the stored messages (``values`` plus
        position and time) and their events."""
        ctx = self._ctx()
        if not records:
            return [], []
        first = self._repository.append(self._session_id, records, ctx)
        stored = [
            stored_message({**v, "seq": first + i, "created_at": ctx.now})
            for i, v in enumerate(values)
        ]
        return stored, [(SessionEvent.MESSAGE_ADDED, (m,)) for m in stored]

    def _add_one(
        self, role: object, content: object, fields: dict[str, Any]
    ) -> tuple[Message, _Fired]:
        record = None if fields else text_record(role, content)
        if record is None:
            stored, fired = self._add([build_message(role, content, fields)])
        else:  # a plain text message: no pydantic model to build first
            values: dict[str, Any] = {
                "role": role,
                "content": content,
                "name": None,
                "tool_calls": None,
                "tool_call_id": None,
                "metadata": {},
            }
            record = self._codec.seal_record(record, values["metadata"])
            stored, fired = self._append([values], [record])
        return stored[0], fired

    def add_message(self, role: str, content: Any = None, **fields: Any) -> Message:
        """Append one message; durable when it returns.

        Args:
            role: ``system``, ``user``, ``assistant``, ``tool``, ``developer`` or your own.
            content: text, a list of content parts, or None.
            **fields: ``name``, ``tool_calls``, ``tool_call_id``, ``metadata``.

        Returns:
            The stored message, with ``seq`` and ``created_at``.

        Raises:
            ValidationError: invalid role, unknown field, or content/metadata that is not
                JSON-serialisable. Nothing is written.
            BackendError: the store failed; nothing is written.
        """
        return self._fire(self._add_one(role, content, fields))

    async def aadd_message(self, role: str, content: Any = None, **fields: Any) -> Message:
        """Async twin of :meth:`add_message`."""
        return await self._run(self._add_one, role, content, fields)

    def _add_many(self, items: Iterable[Message | dict[str, Any]]) -> tuple[list[Message], _Fired]:
        if isinstance(items, str | bytes | dict | Message):
            raise ValidationError("add_messages takes an iterable of messages, not one message")
        return self._add([to_message(item) for item in items])

    def add_messages(self, items: Iterable[Message | dict[str, Any]]) -> list[Message]:
        """Append several messages, all or none, in order, at contiguous positions.

        Args:
            items: :class:`Message` objects or dicts in OpenAI chat format.

        Returns:
            The stored messages.

        Raises:
            ValidationError: any item is invalid; nothing is written.
            BackendError: the store failed; nothing is written.
        """
        return self._fire(self._add_many(items))

    async def aadd_messages(self, items: Iterable[Message | dict[str, Any]]) -> list[Message]:
        """Async twin of :meth:`add_messages`."""
        return await self._run(self._add_many, list(items))

    def _get(self, limit: int | None, after: int | None) -> tuple[list[Message], _Fired]:
        limit = _check_limit(limit, "limit")
        after = _check_limit(after, "after")
        now = self._now()
        messages = self._repository.read(self._session_id, now=now, limit=limit, after=after)
        return self._codec.open_messages(messages, self._session_id), []

    def get_messages(self, limit: int | None = None, *, after: int | None = None) -> list[Message]:
        """Messages in order.

        Args:
            limit: without ``after``, the last ``limit`` messages (oldest first); with
                ``after``, at most ``limit`` messages.
            after: a position; only messages with ``seq > after`` (cursor paging).

        Returns:
            The messages, ordered by ``seq``.
        """
        return self._fire(self._get(limit, after))

    async def aget_messages(
        self, limit: int | None = None, *, after: int | None = None
    ) -> list[Message]:
        """Async twin of :meth:`get_messages`."""
        return await self._run(self._get, limit, after)

    def _pop(self) -> tuple[Message | None, _Fired]:
        # Read, open (decrypt), then delete only that very message: a message this
        # object cannot decrypt is never removed (a pop must not drain what it cannot
        # return). If a writer appended in between, the pop is retried on the new last.
        for _ in range(_POP_ATTEMPTS):
            ctx = self._ctx()
            last = self._repository.read(self._session_id, now=ctx.now, limit=1)
            if not last:
                return None, []
            message = self._codec.open_message(last[0], self._session_id)
            assert message.seq is not None
            if self._repository.pop(self._session_id, ctx, expect_seq=message.seq) is not None:
                return message, [(SessionEvent.MESSAGE_REMOVED, (message,))]
        raise BackendError(
            f"pop_message on session {self._session_id!r} lost {_POP_ATTEMPTS} races with "
            "concurrent writers; try again"
        )

    def pop_message(self) -> Message | None:
        """Remove and return the last message, or None if there is none.

        Its position is not reused: the next message continues after it.
        """
        return self._fire(self._pop())

    async def apop_message(self) -> Message | None:
        """Async twin of :meth:`pop_message`."""
        return await self._run(self._pop)

    def _count(self) -> tuple[int, _Fired]:
        return self._repository.count(self._session_id, now=self._now()), []

    def count(self) -> int:
        """Number of messages in the session."""
        return self._fire(self._count())

    async def acount(self) -> int:
        """Async twin of :meth:`count`."""
        return await self._run(self._count)

    def _clear(self) -> tuple[None, _Fired]:
        self._repository.clear(self._session_id, self._ctx())
        return None, [(SessionEvent.SESSION_CLEARED, ())]

    def clear(self) -> None:
        """Remove every message; metadata stays and positions are not reused."""
        self._fire(self._clear())

    async def aclear(self) -> None:
        """Async twin of :meth:`clear`."""
        await self._run(self._clear)

    def _delete(self) -> tuple[bool, _Fired]:
        existed = self._repository.delete(self._session_id, now=self._now())
        return existed, [(SessionEvent.SESSION_DELETED, ())]

    def delete(self) -> bool:
        """Remove the session entirely: messages and metadata.

        Returns:
            Whether the session existed.
        """
        return self._fire(self._delete())

    async def adelete(self) -> bool:
        """Async twin of :meth:`delete`."""
        return await self._run(self._delete)

    # -- metadata ---------------------------------------------------------------------

    def _set(self, key: str, value: Any) -> tuple[None, _Fired]:
        check_id(key, "metadata key")
        where = f"metadata value for {key!r}"
        value_json = self._codec.seal_value(value, encode_json(value, where), where)
        self._repository.set_metadata(self._session_id, key, value_json, self._ctx())
        return None, [(SessionEvent.METADATA_SET, (key, value))]

    def set(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` under ``key``.

        Raises:
            ValidationError: the key is not a non-empty string or the value is not
                JSON-serialisable; nothing is written.
        """
        self._fire(self._set(key, value))

    async def aset(self, key: str, value: Any) -> None:
        """Async twin of :meth:`set`."""
        await self._run(self._set, key, value)

    def _metadata(self) -> tuple[dict[str, Any], _Fired]:
        metadata = self._repository.get_metadata(self._session_id, now=self._now())
        return self._codec.open_metadata(metadata, self._session_id), []

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        check_id(key, "metadata key")
        return self._fire(self._metadata()).get(key, default)

    async def aget(self, key: str, default: Any = None) -> Any:
        """Async twin of :meth:`get`."""
        check_id(key, "metadata key")
        return (await self._run(self._metadata)).get(key, default)

    def _unset(self, key: str) -> tuple[bool, _Fired]:
        check_id(key, "metadata key")
        return self._repository.unset_metadata(self._session_id, key, self._ctx()), []

    def unset(self, key: str) -> bool:
        """Remove ``key`` from the metadata. Returns whether it was there."""
        return self._fire(self._unset(key))

    async def aunset(self, key: str) -> bool:
        """Async twin of :meth:`unset`."""
        return await self._run(self._unset, key)

    def metadata(self) -> dict[str, Any]:
        """All metadata as a new dict."""
        return self._fire(self._metadata())

    async def ametadata(self) -> dict[str, Any]:
        """Async twin of :meth:`metadata`."""
        return await self._run(self._metadata)

    # -- export / import --------------------------------------------------------------

    def _export(self) -> tuple[dict[str, Any], _Fired]:
        snap = self._repository.snapshot(self._session_id, now=self._now())
        return build_document(self._session_id, self._codec.open_snapshot(snap), self._ttl), []

    def export(self) -> dict[str, Any]:
        """The whole session as a versioned, JSON-safe document.

        Returns:
            ``{"format": "pyai.session", "version": 1, "session_id", "user_id",
            "created_at", "updated_at", "expires_at", "ttl", "metadata", "messages"}``;
            each message carries ``seq`` and ``created_at`` (ISO 8601, UTC).
        """
        return self._fire(self._export())

    async def aexport(self) -> dict[str, Any]:
        """Async twin of :meth:`export`."""
        return await self._run(self._export)

    def _import(self, data: Any, mode: str) -> tuple[int, _Fired]:
        mode_ = check_import_mode(mode)
        doc = parse_document(data)
        messages, metadata = document_records(doc, self._codec)
        ctx = self._ctx()
        ctx = WriteContext(
            now=ctx.now,
            ttl=self._ttl if self._ttl is not None else doc.ttl,
            user_id=self._user_id or doc.user_id,
        )
        written = self._repository.import_session(self._session_id, messages, metadata, mode_, ctx)
        return written, []

    def import_data(self, data: Any, mode: str = "error") -> int:
        """Write an exported document into this session, atomically.

        Args:
            data: a document from :meth:`export` (any supported version).
            mode: ``"error"`` (refuse if this session has messages), ``"replace"``
                (drop this session's messages and metadata first) or ``"append"``
                (add after the existing messages, renumbered).

        Returns:
            The number of messages imported.

        Raises:
            ImportFormatError: the document is malformed or of a newer version.
            SessionExistsError: ``mode="error"`` and the session has messages.
        """
        return self._fire(self._import(data, mode))

    async def aimport_data(self, data: Any, mode: str = "error") -> int:
        """Async twin of :meth:`import_data`."""
        return await self._run(self._import, data, mode)

    # -- lifetime ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def _release(self) -> None:
        """Release what this object owns; shared engines and clients are not owned."""

    def close(self) -> None:
        """Release what this object holds. Writes are already durable. Idempotent."""
        if not self._closed:
            self._closed = True
            self._release()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await asyncio.to_thread(self.close)

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
