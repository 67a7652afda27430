"""How messages and times are written into Redis values (no I/O here).

A message is one member of the session's sorted set::

    <seq> NUL <created_at> NUL <role> NUL <content> NUL <name> NUL <tool_call_id>
          NUL <tool_calls> NUL <metadata>

* ``seq`` (decimal) is put in front by the script that assigns it; it makes every member
  unique, so two equal messages are two members.
* ``created_at`` is ISO 8601 in UTC with microseconds (``2026-11-25T19:11:42.123456+00:00``,
  exact for ``datetime``): ``datetime.fromisoformat`` reads it back five times faster
  than a datetime can be built from an epoch count, which matters on the tail-read path.
  (Development builds before this one wrote microseconds since the epoch; both are
  read.)
* ``content``, ``tool_calls`` and ``metadata`` are the JSON text of
  :class:`~pyai.sessions._message.MessageRecord`; ``tool_calls`` and ``metadata`` are
  empty when absent (JSON text is never empty).
* ``name`` and ``tool_call_id`` are any text, including ``""``: present ones are written
  with a leading ``=``, absent ones as nothing.

NUL is a safe separator: validation rejects NUL in every text field, and JSON writes
control characters escaped. Splitting on it is several times cheaper than parsing a JSON
envelope, which matters on the tail-read path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from .._message import Message, MessageRecord, decode_message

__all__ = ["decode_members", "encode_body", "from_micros", "iso_from_micros", "text", "to_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_SEP = "\x00"
_from_iso = datetime.fromisoformat


def to_micros(moment: datetime) -> int:
    """``moment`` (timezone-aware) as whole microseconds since the epoch."""
    return (moment - _EPOCH) // _MICROSECOND


@lru_cache(maxsize=1024)
def from_micros(micros: int) -> datetime:
    """Inverse of :func:`to_micros` (UTC). Cached: a batch shares one timestamp."""
    return _EPOCH + timedelta(microseconds=micros)


@lru_cache(maxsize=256)
def _iso_second(seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).isoformat()[:19]  # YYYY-MM-DDTHH:MM:SS


def iso_from_micros(micros: int) -> str:
    """A member's ``created_at`` from microseconds since the epoch (see the module).

    ``datetime.isoformat`` costs a microsecond per call; the date and time of day only
    change once a second, so they are cached and the fraction appended.
    """
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_iso_second(seconds)}.{fraction:06d}+00:00"


def text(value: str | bytes) -> str:
    """A reply value as text (clients may or may not decode replies)."""
    return value.decode() if type(value) is bytes else value  # type: ignore[return-value]


def encode_body(created_at: str, record: MessageRecord) -> str:
    """Everything of a member but its ``seq`` (which the script puts in front)."""
    return _SEP.join(
        (
            created_at,
            record.role,
            record.content,
            "" if record.name is None else "=" + record.name,
            "" if record.tool_call_id is None else "=" + record.tool_call_id,
            record.tool_calls or "",
            record.metadata or "",
        )
    )


def decode_members(members: Sequence[str | bytes]) -> list[Message]:
    """:class:`Message` objects from members of the sorted set.

    Raises:
        ValueError: a member was not written by pyai.
    """
    messages = []
    for member in members:
        seq, created_at, role, content, name, tool_call_id, tool_calls, metadata = (
            member if type(member) is str else text(member)
        ).split(_SEP)
        messages.append(
            decode_message(
                int(seq),
                from_micros(int(created_at)) if created_at.isdigit() else _from_iso(created_at),
                role,
                content,
                name[1:] if name else None,
                tool_call_id[1:] if tool_call_id else None,
                tool_calls or None,
                metadata or None,
            )
        )
    return messages
