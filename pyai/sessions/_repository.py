"""The repository contract: what every storage backend implements, documented once.

A repository stores many sessions. Facades (:class:`~pyai.sessions.Session`) and the
``Agent`` depend only on this Protocol; SQL (SQLite, PostgreSQL), Redis and memory
implement it, and ``tests/contract`` checks every implementation against it.

Invariants every implementation keeps:

* **Ordering.** A session's messages are ordered by ``seq`` alone, never by time.
  ``seq`` is 1-based and strictly increasing; ``append`` assigns ``last_seq + 1 ..
  last_seq + n`` (contiguous) where ``last_seq`` is the highest position the session
  ever held, so positions are never reused after ``pop`` or ``clear``.
* **Atomicity.** Every write method is one transaction (SQL) or one atomic server-side
  step (Redis): it happens whole or not at all, and is durable when it returns.
* **Concurrency.** Any number of threads and processes may call any method on the same
  session at once; no message is lost or duplicated, and every reader sees the same order.
  Implementations are thread-safe.
* **Missing sessions.** Reading a session that does not exist gives the empty result
  (``[]``, ``0``, ``{}``, ``None``); ``pop``/``clear``/``unset`` on it write nothing.
  ``append``, ``set_metadata`` and ``import_session`` create it.
* **Expiry.** A write with ``ctx.ttl`` sets the session's expiry to ``ctx.now + ttl``
  (sliding: every write refreshes it); ``ttl=None`` removes any expiry. A session whose
  expiry has passed reads as missing, and the next write starts it afresh (its old
  messages and metadata are gone first). Whether positions then continue (SQL, memory)
  or restart at 1 (Redis, whose keys expire whole) is not part of the contract.
  ``prune_expired`` deletes what the backend keeps of expired sessions and returns how
  many it removed (on Redis, which expires keys itself: the index entries it dropped).
* **Validation** happens before a repository is called: it receives
  :class:`MessageRecord` objects and JSON text and stores them verbatim.

Errors: implementations raise only :mod:`pyai.sessions.errors` types
(:class:`~pyai.sessions.errors.BackendError` for driver failures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from ._message import Message, MessageRecord

__all__ = [
    "ImportMode",
    "SessionInfo",
    "SessionRepository",
    "SessionSnapshot",
    "StoredMessage",
    "WriteContext",
]

ImportMode = Literal["error", "replace", "append"]


class WriteContext(NamedTuple):
    """What every write carries: the clock reading, the expiry policy and the owner.

    A named tuple (immutable, and the cheapest object Python builds: one per write).

    Attributes:
        now: the write's timestamp (timezone-aware UTC); used for ``created_at``,
            ``updated_at`` and expiry.
        ttl: seconds until the session expires after this write, or ``None``.
        user_id: owner to record when the write creates the session.
    """

    now: datetime
    ttl: float | None = None
    user_id: str | None = None

    @property
    def expires_at(self) -> datetime | None:
        """``now + ttl``, or ``None`` without a ttl."""
        return None if self.ttl is None else self.now + timedelta(seconds=self.ttl)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session's bookkeeping, without its messages."""

    session_id: str
    user_id: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    message_count: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message record with its store-assigned position and time (for import)."""

    seq: int
    created_at: datetime
    record: MessageRecord


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """A consistent read of one whole session (for export)."""

    info: SessionInfo
    messages: list[Message]
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class SessionRepository(Protocol):
    """Storage for many sessions. See the module docstring for the invariants."""

    def append(self, session_id: str, records: Sequence[MessageRecord], ctx: WriteContext) -> int:
        """Append ``records`` in order, atomically.

        Returns:
            The ``seq`` given to the first record; the rest follow contiguously.
        """
        ...

    def read(
        self, session_id: str, *, now: datetime, limit: int | None = None, after: int | None = None
    ) -> list[Message]:
        """Messages in ``seq`` order.

        With ``after``: those with ``seq > after``, the first ``limit`` of them.
        Without: the last ``limit`` (all when ``limit`` is ``None``), oldest first.
        Reads only the rows it returns.
        """
        ...

    def pop(
        self, session_id: str, ctx: WriteContext, *, expect_seq: int | None = None
    ) -> Message | None:
        """Remove and return the message with the highest ``seq``, or ``None``.

        With ``expect_seq``, remove it only if its ``seq`` is that (otherwise ``None``
        and nothing changes): callers check a message before they delete it.
        """
        ...

    def count(self, session_id: str, *, now: datetime) -> int:
        """Number of messages in the session."""
        ...

    def clear(self, session_id: str, ctx: WriteContext) -> None:
        """Remove every message; metadata and ``last_seq`` stay."""
        ...

    def delete(self, session_id: str, *, now: datetime) -> bool:
        """Remove the session entirely. Returns whether it existed (unexpired)."""
        ...

    def set_metadata(self, session_id: str, key: str, value_json: str, ctx: WriteContext) -> None:
        """Store ``value_json`` (JSON text) under ``key``."""
        ...

    def unset_metadata(self, session_id: str, key: str, ctx: WriteContext) -> bool:
        """Remove ``key``. Returns whether it was there."""
        ...

    def get_metadata(self, session_id: str, *, now: datetime) -> dict[str, Any]:
        """All metadata of the session, values decoded from JSON."""
        ...

    def info(self, session_id: str, *, now: datetime) -> SessionInfo | None:
        """The session's bookkeeping, or ``None`` if it does not exist."""
        ...

    def snapshot(self, session_id: str, *, now: datetime) -> SessionSnapshot | None:
        """Info, messages and metadata read consistently, or ``None``."""
        ...

    def import_session(
        self,
        session_id: str,
        messages: Sequence[StoredMessage],
        metadata: dict[str, str],
        mode: ImportMode,
        ctx: WriteContext,
    ) -> int:
        """Write an imported session atomically.

        ``mode="error"`` raises :class:`~pyai.sessions.errors.SessionExistsError` if the
        session has messages; ``"replace"`` drops its messages and metadata first;
        ``"append"`` keeps them. With ``error``/``replace`` the given positions are kept;
        with ``append`` the messages are renumbered after ``last_seq``. ``metadata`` maps
        keys to JSON text and is merged in.

        Returns:
            The number of messages written.
        """
        ...

    def prune_expired(self, *, now: datetime) -> int:
        """Delete every expired session. Returns how many were deleted."""
        ...

    def list_sessions(
        self,
        *,
        now: datetime,
        prefix: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        before: tuple[datetime, str] | None = None,
    ) -> list[SessionInfo]:
        """Live sessions, newest activity first.

        Ordered by ``(updated_at, session_id)`` descending; ``before`` is the key of the
        last item of the previous page (keyset paging). Reads an index, never every
        session: the cost of a page does not grow with the number of sessions.
        """
        ...

    def session_ids(
        self, *, now: datetime, prefix: str | None = None, after: str | None = None, limit: int
    ) -> list[str]:
        """Ids of live sessions in id order, the first ``limit`` after ``after``.

        Stable under concurrent writes (unlike activity order), so a streaming export
        that pages with it visits every session that exists throughout exactly once.
        """
        ...

    def close(self) -> None:
        """Release what the repository owns (pools, clients). Idempotent."""
        ...
