"""The message model and its storage encoding, shared by every backend.

Backends never see a :class:`Message` on the way in: the facade validates it and turns
it into a :class:`MessageRecord` (JSON text for the structured fields), so every backend
stores exactly the same bytes and rejects exactly the same input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator
from pydantic import ValidationError as PydanticValidationError

from .errors import ValidationError

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_ROLE_LENGTH",
    "MAX_SEQ",
    "MAX_TTL",
    "Message",
    "MessageRecord",
    "StrictStrOrNone",
    "build_message",
    "check_id",
    "decode_json",
    "decode_message",
    "encode_json",
    "encode_message",
    "stored_message",
    "text_record",
    "to_message",
]

MAX_ROLE_LENGTH = 64
#: Highest position a message can have: exact in every backend (Redis scripts use
#: doubles) and in JavaScript clients.
MAX_SEQ = 2**53 - 1
#: Longest ttl accepted, in seconds (100 years): expiry dates stay representable.
MAX_TTL = 100 * 365 * 24 * 3600
MAX_ID_LENGTH = 255

StrictStrOrNone = StrictStr | None

_JSON_SEPARATORS = (",", ":")
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=_JSON_SEPARATORS).encode
_loads = json.JSONDecoder().decode


class Message(BaseModel):
    """One message of a conversation.

    ``seq`` (1-based position, strictly increasing, never reused) and ``created_at``
    (timezone-aware UTC) are assigned by the store; every other field comes back
    exactly as given.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: StrictStr
    content: StrictStr | list[Any] | None = None
    name: StrictStr | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: StrictStr | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)] | None = None
    created_at: datetime | None = None

    @field_validator("role")
    @classmethod
    def _role_is_a_word(cls, role: str) -> str:
        if not role.strip():
            raise ValueError("role must be a non-empty string such as 'user' or 'assistant'")
        if len(role) > MAX_ROLE_LENGTH:
            raise ValueError(f"role is longer than {MAX_ROLE_LENGTH} characters")
        return role

    @field_validator("created_at")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:
            raise ValueError("created_at is out of range in UTC") from None

    def __str__(self) -> str:
        if isinstance(self.content, str) or self.content is None:
            text = self.content or ""
        else:
            text = " ".join(
                str(part.get("text", "")) if isinstance(part, dict) else str(part)
                for part in self.content
            )
        return f"{self.role}: {text}"

    def to_dict(self) -> dict[str, Any]:
        """The message in OpenAI chat-completions format.

        Returns:
            ``{"role", "content"}`` plus ``name``, ``tool_calls`` and ``tool_call_id``
            when set. Store fields (``seq``, ``created_at``, ``metadata``) are left out.
        """
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        if self.tool_calls is not None:
            out["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        return out


class MessageRecord(NamedTuple):
    """A validated message in storage form: JSON text for the structured fields."""

    role: str
    content: str
    name: str | None
    tool_call_id: str | None
    tool_calls: str | None
    metadata: str | None


def _check_text(value: str, where: str) -> None:
    if "\x00" in value:
        raise ValidationError(f"{where} contains a NUL character, which no backend can store")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{where} is not valid Unicode text ({exc.reason})") from None


#: Deepest nesting of lists and dicts accepted in a JSON value.
MAX_JSON_DEPTH = 200
# Python refuses to print ints of more than 4300 digits (sys.int_info); stay below.
_MAX_INT_BITS = 13_000
# PostgreSQL's JSONB prints numbers of 1e16 and more without a fraction, so such a float
# would read back as an int; they are written in positional form with ".0" instead.
_BIG_FLOAT = 1e16


def _check_json(value: Any, where: str, depth: int = 0) -> bool:
    """Reject what JSON cannot represent exactly; True if a float needs exact encoding."""
    # json.dumps would silently turn tuples into lists and int keys into strings, so a
    # value would not come back equal.
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise ValidationError(f"{where} is an integer too large to store (over 3900 digits)")
        return False
    if isinstance(value, str):
        _check_text(value, where)
        return False
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where} is {value!r}, which is not valid JSON")
        return abs(value) >= _BIG_FLOAT
    if depth >= MAX_JSON_DEPTH:
        raise ValidationError(f"{where} is nested more than {MAX_JSON_DEPTH} levels deep")
    big = False
    if isinstance(value, list):
        for i, item in enumerate(value):
            big = _check_json(item, f"{where}[{i}]", depth + 1) or big
        return big
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(
                    f"{where} has a non-string key {key!r}; JSON keys are strings"
                )
            _check_text(key, f"{where} key")
            big = _check_json(item, f"{where}[{key!r}]", depth + 1) or big
        return big
    raise ValidationError(
        f"{where} holds a {type(value).__name__}, which is not JSON-serialisable "
        "(use str, int, float, bool, None, list or dict)"
    )


def _dumps_exact(value: Any) -> str:
    # Rare path (a float >= 1e16 somewhere): the same compact JSON, with big floats
    # written out positionally ("10000000000000000.0") so every backend reads a float.
    if isinstance(value, float):
        return format(value, ".1f") if abs(value) >= _BIG_FLOAT else repr(value)
    if isinstance(value, list):
        return "[" + ",".join(_dumps_exact(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_dumps(k) + ":" + _dumps_exact(v) for k, v in value.items()) + "}"
    return _dumps(value)


def encode_json(value: Any, where: str) -> str:
    """Validate ``value`` as exact JSON and return its compact text.

    Raises:
        ValidationError: the value would not come back equal from JSON, or is nested
            more than :data:`MAX_JSON_DEPTH` levels deep.
    """
    return _dumps_exact(value) if _check_json(value, where) else _dumps(value)


def decode_json(text: str | None) -> Any:
    """Inverse of :func:`encode_json` (``None`` stays ``None``)."""
    return None if text is None else _loads(text)


def check_id(value: object, what: str = "session_id") -> str:
    """Validate a session id, user id or metadata key; returns it unchanged.

    Ids are stored literally: any text up to 255 characters except NUL.

    Raises:
        ValidationError: not a non-empty string of at most 255 characters.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{what} must be a non-empty string, got {type(value).__name__}")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(
            f"{what} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    _check_text(value, what)
    return value


def to_message(item: Message | dict[str, Any]) -> Message:
    """Accept a :class:`Message` or a dict in OpenAI chat format."""
    if isinstance(item, Message):
        return item
    if not isinstance(item, dict):
        raise ValidationError(f"expected a Message or a dict, got {type(item).__name__}")
    try:
        return Message.model_validate(item)
    except PydanticValidationError as exc:
        raise ValidationError(_describe(exc)) from None


def _describe(exc: PydanticValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(x) for x in err["loc"]) or "message"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid message: " + "; ".join(parts)


def build_message(role: object, content: object, fields: dict[str, Any]) -> Message:
    """Build a Message from ``add_message`` arguments, translating pydantic errors."""
    for store_field in ("seq", "created_at"):
        if store_field in fields:
            raise ValidationError(f"{store_field} is assigned by the store; do not pass it")
    try:
        return Message.model_validate({"role": role, "content": content, **fields})
    except PydanticValidationError as exc:
        raise ValidationError(_describe(exc)) from None


def text_record(role: object, content: object) -> MessageRecord | None:
    """The record of a plain text message, ``add_message("user", "hi")``, without pydantic.

    Exactly what ``encode_message(build_message(role, content, {}))`` returns (a property
    test holds it to that), at a fraction of the cost: this is every chat turn's path.

    Returns:
        The record, or None when the arguments need the general path (anything but a
        ``str`` role that is a word and ``str`` content), which also words the errors.

    Raises:
        ValidationError: role or content holds NUL or is not valid Unicode.
    """
    if (
        type(role) is not str
        or type(content) is not str
        or len(role) > MAX_ROLE_LENGTH
        or not role.strip()
    ):
        return None
    _check_text(role, "role")
    _check_text(content, "content")
    return MessageRecord(role, _dumps(content), None, None, None, None)


def encode_message(message: Message) -> MessageRecord:
    """Validate that a message stores exactly and return its storage form.

    Raises:
        ValidationError: a field holds text or JSON that cannot come back equal.
    """
    _check_text(message.role, "role")
    if message.name is not None:
        _check_text(message.name, "name")
    if message.tool_call_id is not None:
        _check_text(message.tool_call_id, "tool_call_id")
    content = message.content
    if isinstance(content, str):
        _check_text(content, "content")
        content_json = _dumps(content)
    else:
        content_json = encode_json(content, "content")
    return MessageRecord(
        role=message.role,
        content=content_json,
        name=message.name,
        tool_call_id=message.tool_call_id,
        tool_calls=None
        if message.tool_calls is None
        else encode_json(message.tool_calls, "tool_calls"),
        metadata=encode_json(message.metadata, "metadata") if message.metadata else None,
    )


class _AllFields(frozenset[str]):
    """Every field of Message, shared by all stored messages.

    One shared object instead of a new set per message: reads of long histories spent
    a large share of their time in the garbage collector tracking those sets. Copies
    are ordinary sets, because pydantic's ``model_copy(update=...)`` updates the copy.
    """

    def __copy__(self) -> set[str]:
        return set(self)

    def __deepcopy__(self, _memo: dict[int, Any]) -> set[str]:
        return set(self)


_ALL_FIELDS = _AllFields(Message.model_fields)
_new_message = Message.__new__


def _slot_setter(name: str) -> Callable[[Message, Any], None]:
    # The descriptor's own setter: a third cheaper than object.__setattr__, which looks
    # the descriptor up on every call.
    for klass in Message.__mro__:
        if name in vars(klass):
            setter: Callable[[Message, Any], None] = vars(klass)[name].__set__
            return setter
    raise AttributeError(name)  # pragma: no cover - pydantic always defines these


_set_dict = _slot_setter("__dict__")
_set_fields_set = _slot_setter("__pydantic_fields_set__")
_set_extra = _slot_setter("__pydantic_extra__")
_set_private = _slot_setter("__pydantic_private__")


def stored_message(values: dict[str, Any]) -> Message:
    """A Message from values that are already valid (read back from a store).

    Skips validation; equivalent to ``Message.model_construct(**values)`` with every
    field given, at a fraction of its cost (this is the hot path of every read).
    """
    message = _new_message(Message)
    _set_dict(message, values)
    _set_fields_set(message, _ALL_FIELDS)
    _set_extra(message, None)
    _set_private(message, None)
    return message


def decode_message(
    seq: int,
    created_at: datetime,
    role: str,
    content: str,
    name: str | None,
    tool_call_id: str | None,
    tool_calls: str | None,
    metadata: str | None,
) -> Message:
    """Build a Message from stored values without re-validating them."""
    return stored_message(
        {
            "role": role,
            # Most content is a plain string: JSON text with no escapes is its own slice.
            "content": content[1:-1]
            if content[:1] == '"' and "\\" not in content
            else _loads(content),
            "name": name,
            "tool_calls": None if tool_calls is None else _loads(tool_calls),
            "tool_call_id": tool_call_id,
            "metadata": {} if metadata is None else _loads(metadata),
            "seq": seq,
            "created_at": created_at,
        }
    )
