"""The versioned export document: one whole session as JSON-safe data.

Version history:

* **1**: ``format``, ``version``, ``session_id``, ``user_id``, ``created_at``,
  ``updated_at``, ``expires_at``, ``ttl``, ``metadata`` and ``messages`` (each with
  ``seq`` and ``created_at``).

Older versions stay readable; a newer version fails fast with a clear message.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from ._message import Message, StrictStrOrNone
from .errors import ImportFormatError

__all__ = ["FORMAT", "FORMAT_VERSION", "ExportedMessage", "SessionDocument", "parse_document"]

FORMAT = "pyai.session"
FORMAT_VERSION = 1


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone (exports write UTC with +00:00)")
    return value.astimezone(timezone.utc)


class ExportedMessage(Message):
    """A message as it appears in a document: position and time are required."""

    seq: int = Field(ge=1)
    created_at: datetime


class SessionDocument(BaseModel):
    """Version 1 of the export document."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["pyai.session"] = "pyai.session"
    version: Literal[1] = 1
    session_id: StrictStr
    user_id: StrictStrOrNone = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None
    ttl: float | None = Field(default=None, gt=0)
    metadata: dict[str, Any] = Field(default_factory=dict)
    messages: list[ExportedMessage] = Field(default_factory=list)

    _utc_fields = field_validator("created_at", "updated_at", "expires_at")(_utc)

    @model_validator(mode="after")
    def _positions_increase(self) -> SessionDocument:
        previous = 0
        for message in self.messages:
            if message.seq <= previous:
                raise ValueError(
                    f"message positions must be strictly increasing (seq {message.seq} "
                    f"follows {previous})"
                )
            previous = message.seq
        return self


def parse_document(data: Any) -> SessionDocument:
    """Validate an export document of any supported version.

    Raises:
        ImportFormatError: not a pyai session document, an unsupported version, or
            a field that does not validate (the message names it).
    """
    if isinstance(data, SessionDocument):
        return data
    if not isinstance(data, dict):
        raise ImportFormatError(f"an export document is a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise ImportFormatError(f"not a pyai session document (format is {data.get('format')!r})")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ImportFormatError(f"document version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ImportFormatError(
            f"document version {version} was written by a newer pyai; this one reads "
            f"versions up to {FORMAT_VERSION}: upgrade pyai"
        )
    if version < 1:
        raise ImportFormatError(f"unknown document version {version}")
    try:
        return SessionDocument.model_validate(data)
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or 'document'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise ImportFormatError(f"invalid export document: {problems}") from None
