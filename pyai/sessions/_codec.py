"""What happens to values between the facade and the repository: limits and encryption.

Writes go through :meth:`Codec.seal_record` / :meth:`Codec.seal_value` (size limits,
then encryption when a key is set); reads through :meth:`Codec.open_message` /
:meth:`Codec.open_value`. An encrypted value is stored as a JSON envelope,
``{"$pyai": "enc1", "ct": "<Fernet token>"}``, in place of its JSON text: message
``content``, ``tool_calls`` and ``metadata``, and session metadata values. Ids, roles,
names, positions and timestamps stay readable for indexing.

Reading an envelope without the key that wrote it raises
:class:`~pyai.sessions.errors.DecryptionError`; nothing is skipped or hidden.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._message import Message, MessageRecord, stored_message
from ._repository import SessionSnapshot
from .errors import ConfigurationError, DecryptionError, ValidationError

__all__ = ["DEFAULT_LIMITS", "Codec", "Limits", "generate_key"]

ENVELOPE_KEY = "$pyai"
_ENVELOPE_VERSION = "enc1"
_MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Size limits checked before anything is written.

    Attributes:
        max_message_bytes: UTF-8 size of a message's content, tool calls and metadata
            (as JSON) together. Default 8 MiB.
        max_batch: messages in one ``add_messages`` call. Default 10,000.
        max_value_bytes: UTF-8 size of one session metadata value (as JSON).
            Default 1 MiB.
    """

    max_message_bytes: int = 8 * _MiB
    max_batch: int = 10_000
    max_value_bytes: int = 1 * _MiB

    def __post_init__(self) -> None:
        for name in ("max_message_bytes", "max_batch", "max_value_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = Limits()


def generate_key() -> str:
    """A new random encryption key (a URL-safe base64 string; keep it secret).

    Raises:
        ConfigurationError: the ``crypto`` extra is not installed.
    """
    return str(_fernet_module().Fernet.generate_key().decode("ascii"))


def _fernet_module() -> Any:
    try:
        import cryptography.fernet as fernet
    except ModuleNotFoundError:
        raise ConfigurationError(
            "encryption needs the cryptography package: pip install 'pyai[crypto]'"
        ) from None
    return fernet


def _utf8_size(limit: int, *texts: str | None) -> int:
    """The UTF-8 size of ``texts`` together, or a lower bound when that is within ``limit``.

    A character is at most 4 UTF-8 bytes: short text needs no encoding to be judged.
    """
    chars = 0
    for text in texts:
        if text is not None:
            chars += len(text)
    if chars * 4 <= limit:
        return chars
    return sum(len(text.encode("utf-8")) for text in texts if text is not None)


class Codec:
    """Limits and (optional) encryption for one session or store.

    Args:
        limits: size limits.
        encryption_key: a key from :func:`generate_key`, or a list of keys for rotation
            (the first encrypts, all decrypt), or None.

    Raises:
        ConfigurationError: a key is malformed (the key itself is never shown), or the
            ``crypto`` extra is missing.
    """

    def __init__(
        self, limits: Limits | None = None, encryption_key: str | Sequence[str] | None = None
    ) -> None:
        self.limits = limits or DEFAULT_LIMITS
        self._cipher: Any = None
        self._invalid_token: type[Exception] = Exception
        if encryption_key is not None:
            fernet = _fernet_module()
            keys = (
                [encryption_key]
                if isinstance(encryption_key, str | bytes)
                else list(encryption_key)
            )
            if not keys:
                raise ConfigurationError("encryption_key is an empty list")
            try:
                self._cipher = fernet.MultiFernet([fernet.Fernet(k) for k in keys])
            except (ValueError, TypeError):
                raise ConfigurationError(
                    "encryption_key is not a valid key; make one with pyai.sessions.generate_key()"
                ) from None
            self._invalid_token = fernet.InvalidToken

    def __repr__(self) -> str:
        return f"Codec(encrypted={self._cipher is not None})"

    # -- writing ---------------------------------------------------------------------

    def _seal(self, text: str) -> str:
        token = self._cipher.encrypt(text.encode("utf-8")).decode("ascii")
        return f'{{"{ENVELOPE_KEY}":"{_ENVELOPE_VERSION}","ct":"{token}"}}'

    def check_batch(self, size: int) -> None:
        """Raise if a batch is larger than the limit."""
        if size > self.limits.max_batch:
            raise ValidationError(
                f"{size} messages in one batch; the limit is {self.limits.max_batch} "
                "(Limits.max_batch): split the batch"
            )

    def seal_record(self, record: MessageRecord, metadata: dict[str, Any]) -> MessageRecord:
        """Check a record's size (and ``metadata``'s reserved key), then encrypt it if a
        key is set."""
        limit = self.limits.max_message_bytes
        size = _utf8_size(limit, record.content, record.tool_calls, record.metadata)
        if size > limit:
            raise ValidationError(
                f"message is {size} bytes as JSON; the limit is {limit} (Limits.max_message_bytes)"
            )
        if ENVELOPE_KEY in metadata:
            raise ValidationError(f"the metadata key {ENVELOPE_KEY!r} is reserved")
        if self._cipher is None:
            return record
        return record._replace(
            content=self._seal(record.content),
            tool_calls=None if record.tool_calls is None else self._seal(record.tool_calls),
            metadata=None if record.metadata is None else self._seal(record.metadata),
        )

    def seal_value(self, value: Any, value_json: str, where: str) -> str:
        """Check a metadata value's size (and reserved keys), then encrypt if a key is set."""
        limit = self.limits.max_value_bytes
        size = _utf8_size(limit, value_json)
        if size > limit:
            raise ValidationError(
                f"{where} is {size} bytes as JSON; the limit is {limit} (Limits.max_value_bytes)"
            )
        if isinstance(value, dict) and ENVELOPE_KEY in value:
            raise ValidationError(f"{where}: the key {ENVELOPE_KEY!r} is reserved")
        return value_json if self._cipher is None else self._seal(value_json)

    # -- reading ---------------------------------------------------------------------

    def _open(self, envelope: dict[str, Any], where: str) -> Any:
        if self._cipher is None:
            raise DecryptionError(
                f"{where} is encrypted; open the session with the encryption_key that wrote it"
            )
        try:
            text = self._cipher.decrypt(str(envelope.get("ct", "")).encode("ascii"))
        except (self._invalid_token, UnicodeError):
            raise DecryptionError(
                f"{where} was encrypted with a key that was not given (or was altered); "
                "nothing was changed"
            ) from None
        return json.loads(text)

    def open_message(self, message: Message, session_id: str) -> Message:
        """The message with encrypted fields decrypted.

        Raises:
            DecryptionError: a field is encrypted and no given key opens it.
        """
        values = message.__dict__
        content, tool_calls, metadata = values["content"], values["tool_calls"], values["metadata"]
        sealed_content = type(content) is dict
        sealed_calls = type(tool_calls) is dict
        sealed_meta = ENVELOPE_KEY in metadata
        if not (sealed_content or sealed_calls or sealed_meta):
            return message
        where = f"message {values['seq']} of session {session_id!r}"
        return stored_message(
            {
                **values,
                "content": self._open(content, where) if sealed_content else content,
                "tool_calls": self._open(tool_calls, where) if sealed_calls else tool_calls,
                "metadata": self._open(metadata, where) if sealed_meta else metadata,
            }
        )

    def open_messages(self, messages: list[Message], session_id: str) -> list[Message]:
        """:meth:`open_message` for each (``messages`` itself when none is encrypted)."""
        for message in messages:  # the common case first, without a call per message
            values = message.__dict__
            if (
                type(values["content"]) is dict
                or type(values["tool_calls"]) is dict
                or ENVELOPE_KEY in values["metadata"]
            ):
                return [self.open_message(m, session_id) for m in messages]
        return messages

    def open_value(self, value: Any, where: str) -> Any:
        """A metadata value, decrypted if it was encrypted."""
        if isinstance(value, dict) and ENVELOPE_KEY in value:
            return self._open(value, where)
        return value

    def open_metadata(self, metadata: dict[str, Any], session_id: str) -> dict[str, Any]:
        """Session metadata with every value decrypted."""
        return {
            k: self.open_value(v, f"metadata {k!r} of session {session_id!r}")
            for k, v in metadata.items()
        }

    def open_snapshot(self, snap: SessionSnapshot | None) -> SessionSnapshot | None:
        """A snapshot with messages and metadata decrypted."""
        if snap is None:
            return None
        sid = snap.info.session_id
        return SessionSnapshot(
            snap.info,
            self.open_messages(snap.messages, sid),
            self.open_metadata(snap.metadata, sid),
        )
