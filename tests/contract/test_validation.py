"""Bad input: a clear pyai error before anything is written, on every backend."""

from __future__ import annotations

import pytest

from pyai.sessions import Message, Session, SessionError
from pyai.sessions.errors import ValidationError

from ..conftest import Backend

BAD_MESSAGES = [
    pytest.param({"role": "", "content": "x"}, id="empty-role"),
    pytest.param({"role": "   ", "content": "x"}, id="blank-role"),
    pytest.param({"role": 3, "content": "x"}, id="int-role"),
    pytest.param({"role": "r" * 65, "content": "x"}, id="long-role"),
    pytest.param({"role": "user", "content": 5}, id="int-content"),
    pytest.param({"role": "user", "content": b"bytes"}, id="bytes-content"),
    pytest.param({"role": "user", "content": [object()]}, id="object-in-parts"),
    pytest.param({"role": "user", "content": [{"x": float("nan")}]}, id="nan-in-parts"),
    pytest.param({"role": "user", "content": "nul \x00 char"}, id="nul-content"),
    pytest.param({"role": "user", "content": "lone \ud800 surrogate"}, id="surrogate"),
    pytest.param({"role": "user", "content": "x", "metadata": {"k": {1, 2}}}, id="set-metadata"),
    pytest.param({"role": "user", "content": "x", "metadata": "not a dict"}, id="str-metadata"),
    pytest.param({"role": "user", "content": "x", "unknown_field": 1}, id="unknown-field"),
    pytest.param({"role": "user", "content": "x", "tool_calls": "nope"}, id="bad-tool-calls"),
    pytest.param({"content": "x"}, id="no-role"),
]


@pytest.mark.parametrize("bad", BAD_MESSAGES)
def test_bad_message_is_rejected_and_batch_writes_nothing(backend: Backend, bad: dict) -> None:
    s = backend.session()
    s.add_message("user", "existing")
    with pytest.raises(ValidationError) as info:
        s.add_messages([{"role": "user", "content": "good"}, bad])
    assert str(info.value)
    assert isinstance(info.value, SessionError)
    assert [m.content for m in s.get_messages()] == ["existing"]
    assert s.count() == 1
    # The next good write takes the next position: the failed batch used none.
    assert s.add_message("user", "next").seq == 2


@pytest.mark.parametrize("bad", BAD_MESSAGES)
def test_bad_add_message_writes_nothing(backend: Backend, bad: dict) -> None:
    s = backend.session()
    fields = dict(bad)
    role = fields.pop("role", None)
    content = fields.pop("content", None)
    with pytest.raises(ValidationError):
        s.add_message(role, content, **fields)  # type: ignore[arg-type]
    assert s.count() == 0 and s.get_messages() == []


def test_store_fields_are_assigned_by_the_store(backend: Backend) -> None:
    s = backend.session()
    with pytest.raises(ValidationError, match="assigned by the store"):
        s.add_message("user", "x", seq=9)
    # Messages read from another session can be appended as they are: they get new
    # positions and times here.
    other = backend.session()
    other.add_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    other.pop_message()
    s.add_message("user", "first")
    copied = s.add_messages([*other.get_messages(), {"role": "user", "content": "c", "seq": 40}])
    assert [(m.content, m.seq) for m in copied] == [("a", 2), ("c", 3)]


def test_add_messages_rejects_a_single_message(backend: Backend) -> None:
    s = backend.session()
    with pytest.raises(ValidationError):
        s.add_messages({"role": "user", "content": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        s.add_messages(["just a string"])  # type: ignore[list-item]
    assert s.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "call"),
    [
        ({"limit": -1}, "get_messages"),
        ({"limit": "5"}, "get_messages"),
        ({"after": -2}, "get_messages"),
        ({"limit": True}, "get_messages"),
    ],
)
def test_bad_read_arguments(backend: Backend, kwargs: dict, call: str) -> None:
    with pytest.raises(ValidationError):
        getattr(backend.session(), call)(**kwargs)


@pytest.mark.parametrize(
    "session_id", ["", "x" * 256, "nul\x00id", 42], ids=["empty", "too-long", "nul", "int"]
)
def test_bad_session_ids_are_rejected(backend: Backend, session_id: object) -> None:
    with pytest.raises(ValidationError):
        Session(backend.repository, session_id)  # type: ignore[arg-type]


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), "60", True])
def test_bad_ttl_is_rejected(backend: Backend, ttl: object) -> None:
    with pytest.raises(ValidationError):
        backend.session(ttl=ttl)


def test_message_model_rejects_naive_created_at() -> None:
    from datetime import datetime

    with pytest.raises(Exception, match="timezone"):
        Message(role="user", content="x", created_at=datetime(2024, 1, 1))
