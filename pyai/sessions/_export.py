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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from ._codec import Codec
from ._message import (
    MAX_SEQ,
    MAX_TTL,
    Message,
    StrictStrOrNone,
    check_id,
    encode_json,
    encode_message,
)
from ._repository import ImportMode, SessionSnapshot, StoredMessage
from .errors import ImportFormatError, ValidationError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "IMPORT_MODES",
    "ExportedMessage",
    "SessionDocument",
    "build_document",
    "check_import_mode",
    "document_records",
    "parse_document",
]

IMPORT_MODES: tuple[ImportMode, ...] = ("error", "replace", "append")

FORMAT = "pyai.session"
FORMAT_VERSION = 1


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone (exports write UTC with +00:00)")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("timestamp is out of range in UTC") from None


def _iso_text(value: Any) -> Any:
    # Documents carry ISO 8601 text; a number would be read as an epoch time.
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("timestamps are ISO 8601 text, e.g. 2026-01-02T03:04:05+00:00")
    return value


def _owner(value: str | None) -> str | None:
    if value is not None:
        try:
            check_id(value, "user_id")
        except ValidationError as exc:
            raise ValueError(str(exc)) from None
    return value


class ExportedMessage(Message):
    """A message as it appears in a document: position and time are required."""

    seq: StrictInt = Field(ge=1, le=MAX_SEQ)
    created_at: datetime

    _iso = field_validator("created_at", mode="before")(_iso_text)


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
    ttl: StrictFloat | StrictInt | None = Field(default=None, gt=0, le=MAX_TTL)
    metadata: dict[str, Any] = Field(default_factory=dict)
    messages: list[ExportedMessage] = Field(default_factory=list)

    _iso = field_validator("created_at", "updated_at", "expires_at", mode="before")(_iso_text)
    _utc_fields = field_validator("created_at", "updated_at", "expires_at")(_utc)
    _owner_id = field_validator("user_id")(_owner)

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


def _export_message(message: Message) -> dict[str, Any]:
    out = message.model_dump(exclude={"created_at"})
    assert message.created_at is not None
    out["created_at"] = message.created_at.isoformat()
    return out


def build_document(
    session_id: str, snapshot: SessionSnapshot | None, ttl: float | None
) -> dict[str, Any]:
    """The export document (current version) for a session read by ``snapshot``.

    A missing session gives a document with no messages and no metadata.
    """
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "session_id": session_id,
        "user_id": None,
        "created_at": None,
        "updated_at": None,
        "expires_at": None,
        "ttl": ttl,
        "metadata": {},
        "messages": [],
    }
    if snapshot is not None:
        info = snapshot.info
        doc.update(
            user_id=info.user_id,
            created_at=info.created_at.isoformat(),
            updated_at=info.updated_at.isoformat(),
            expires_at=None if info.expires_at is None else info.expires_at.isoformat(),
            metadata=snapshot.metadata,
            messages=[_export_message(m) for m in snapshot.messages],
        )
    return doc


def document_records(
    doc: SessionDocument, codec: Codec
) -> tuple[list[StoredMessage], dict[str, str]]:
    """The storage form of a validated document: messages and metadata JSON text,
    checked against the limits and encrypted as ``codec`` says.

    Raises:
        ValidationError: a value cannot be stored exactly (e.g. a NUL character) or is
            over a limit.
    """
    codec.check_batch(len(doc.messages))
    messages = [
        StoredMessage(m.seq, m.created_at, codec.seal_record(encode_message(m), m.metadata))
        for m in doc.messages
    ]
    check_id(doc.session_id)
    metadata = {
        check_id(k, "metadata key"): codec.seal_value(
            v, encode_json(v, f"metadata value for {k!r}"), f"metadata value for {k!r}"
        )
        for k, v in doc.metadata.items()
    }
    return messages, metadata


def check_import_mode(mode: object) -> ImportMode:
    """Validate an import mode."""
    for known in IMPORT_MODES:
        if mode == known:
            return known
    raise ValidationError(f"mode must be one of {IMPORT_MODES}, got {mode!r}")
