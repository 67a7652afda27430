"""Encryption at rest and size limits, on every backend."""

from __future__ import annotations

import pytest

from pyai.sessions import Limits, Session, generate_key
from pyai.sessions.errors import ConfigurationError, DecryptionError, ValidationError

from ..conftest import Backend

SECRET = "my card number is 4111 1111 1111 1111"


def test_encrypted_round_trip(backend: Backend) -> None:
    key = generate_key()
    s = backend.session(encryption_key=key)
    stored = s.add_messages(
        [
            {"role": "user", "content": SECRET, "metadata": {"ip": "10.0.0.1"}},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "user", "content": [{"type": "text", "text": SECRET}]},
        ]
    )
    s.set("address", {"street": "1 Main St"})
    assert s.get_messages() == stored
    assert s.get_messages(limit=1) == stored[-1:]
    assert s.metadata() == {"address": {"street": "1 Main St"}}
    doc = s.export()
    assert doc["messages"][0]["content"] == SECRET
    copy = backend.session(encryption_key=key)
    copy.import_data(doc)
    assert [m.content for m in copy.get_messages()] == [m.content for m in stored]
    popped = s.pop_message()
    assert popped is not None and popped.content == stored[-1].content


def test_no_plaintext_reaches_the_repository(backend: Backend) -> None:
    key = generate_key()
    s = backend.session(encryption_key=key)
    s.add_message("user", SECRET, metadata={"note": SECRET})
    s.set("k", SECRET)
    # Read what the repository holds, without the key's codec.
    raw = backend.repository.read(s.session_id, now=_now())
    assert SECRET not in repr(raw[0].content) and SECRET not in repr(raw[0].metadata)
    assert raw[0].role == "user" and raw[0].seq == 1  # ids, roles, positions stay readable
    assert SECRET not in repr(backend.repository.get_metadata(s.session_id, now=_now()))


def test_missing_or_wrong_key_raises_and_changes_nothing(backend: Backend) -> None:
    s = backend.session(encryption_key=generate_key())
    s.add_messages([{"role": "user", "content": "one"}, {"role": "user", "content": "two"}])
    s.set("k", "v")
    for other in (
        backend.session(s.session_id),
        backend.session(s.session_id, encryption_key=generate_key()),
    ):
        with pytest.raises(DecryptionError):
            other.get_messages()
        with pytest.raises(DecryptionError):
            other.get_messages(limit=1)
        with pytest.raises(DecryptionError):
            other.metadata()
        with pytest.raises(DecryptionError):
            other.export()
        # A pop that cannot return the message must not remove it.
        with pytest.raises(DecryptionError):
            other.pop_message()
        assert other.count() == 2
    assert [m.content for m in s.get_messages()] == ["one", "two"]


def test_key_rotation(backend: Backend) -> None:
    old, new = generate_key(), generate_key()
    s = backend.session(encryption_key=old)
    s.add_message("user", "written under the old key")
    rotated = backend.session(s.session_id, encryption_key=[new, old])
    rotated.add_message("user", "written under the new key")
    assert [m.content for m in rotated.get_messages()] == [
        "written under the old key",
        "written under the new key",
    ]
    only_new = backend.session(s.session_id, encryption_key=new)
    assert [m.content for m in only_new.get_messages(limit=1)] == ["written under the new key"]
    with pytest.raises(DecryptionError):
        only_new.get_messages()
    # Re-encrypt: read with both keys, write back with the new one.
    doc = rotated.export()
    only_new.import_data(doc, mode="replace")
    assert [m.content for m in only_new.get_messages()] == [
        "written under the old key",
        "written under the new key",
    ]


@pytest.mark.parametrize("key", ["not-a-key", "", [], ["also not"]])
def test_malformed_keys_are_configuration_errors(backend: Backend, key: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        Session(backend.repository, "x", encryption_key=key)  # type: ignore[arg-type]
    if isinstance(key, str) and key:
        assert key not in str(info.value)


def test_size_limits(backend: Backend) -> None:
    s = backend.session(limits=Limits(max_message_bytes=1000, max_batch=3, max_value_bytes=100))
    s.add_message("user", "x" * 900)
    with pytest.raises(ValidationError, match="max_message_bytes"):
        s.add_message("user", "x" * 1001)
    with pytest.raises(ValidationError, match="max_message_bytes"):
        s.add_message("user", "é" * 501)  # 1002 bytes in UTF-8
    with pytest.raises(ValidationError, match="max_message_bytes"):
        # Content and metadata each short in characters, 1,170 bytes together.
        s.add_message("user", "😀" * 240, metadata={"m": "😀" * 50})
    with pytest.raises(ValidationError, match="max_batch"):
        s.add_messages([{"role": "user", "content": "x"}] * 4)
    with pytest.raises(ValidationError, match="max_value_bytes"):
        s.set("k", "v" * 200)
    assert s.count() == 1 and s.metadata() == {}
    with pytest.raises(ValidationError):
        Limits(max_batch=0)


def test_default_limits_allow_large_messages(backend: Backend) -> None:
    s = backend.session()
    s.add_message("tool", "y" * (2 * 1024 * 1024))
    assert len(s.get_messages()[0].content or "") == 2 * 1024 * 1024


def test_reserved_metadata_key(backend: Backend) -> None:
    s = backend.session()
    with pytest.raises(ValidationError, match="reserved"):
        s.add_message("user", "x", metadata={"$pyai": "enc1"})
    with pytest.raises(ValidationError, match="reserved"):
        s.set("k", {"$pyai": "enc1", "ct": "x"})
    assert s.count() == 0


def _now():  # type: ignore[no-untyped-def]
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
