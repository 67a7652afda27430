"""Whatever validates comes back exactly as given, on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyai.sessions import InMemorySession, Message
from pyai.sessions.errors import ValidationError

from ..conftest import Backend
from .strategies import exactly_equal, json_values, message_dicts, metadata_keys

# The backend fixture is built once per test and shared by its examples; every example
# works in a session of its own.
PER_BACKEND = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

FIELD_DEFAULTS: dict[str, Any] = {
    "content": None,
    "name": None,
    "tool_calls": None,
    "tool_call_id": None,
    "metadata": {},
}


def max_float(backend: Backend) -> float | None:
    # Every float round-trips on every backend (large ones on PostgreSQL too: they are
    # written positionally, see test_large_floats_round_trip_exactly).
    return None


def _check_fields(given: dict[str, Any], message: Message) -> None:
    assert message.role == given["role"]
    for field, default in FIELD_DEFAULTS.items():
        expected = given.get(field, default)
        assert exactly_equal(getattr(message, field), expected), (field, expected)


@PER_BACKEND
@given(data=st.data())
def test_messages_round_trip_exactly(backend: Backend, data: st.DataObject) -> None:
    items = data.draw(
        st.lists(message_dicts(max_float=max_float(backend)), min_size=1, max_size=4),
        label="messages",
    )
    for item in items:
        Message.model_validate(item)  # each one validates
    session = backend.session()
    first = dict(items[0])
    role, content = first.pop("role"), first.pop("content")
    stored = [session.add_message(role, content, **first), *session.add_messages(items[1:])]

    read = session.get_messages()
    assert [m.seq for m in read] == list(range(1, len(items) + 1))
    for given_item, returned, back in zip(items, stored, read, strict=True):
        _check_fields(given_item, back)
        assert back == returned
        assert back.created_at is not None and back.created_at.utcoffset() is not None
    # Partial reads return the same messages.
    assert session.get_messages(limit=1) == read[-1:]
    assert session.get_messages(after=1, limit=len(items)) == read[1:]
    assert session.count() == len(items)


@PER_BACKEND
@given(data=st.data())
def test_session_metadata_round_trips_exactly(backend: Backend, data: st.DataObject) -> None:
    entries = data.draw(
        st.dictionaries(
            metadata_keys(), json_values(max_float=max_float(backend)), min_size=1, max_size=5
        ),
        label="metadata",
    )
    session = backend.session()
    for key, value in entries.items():
        session.set(key, value)
    assert exactly_equal(session.metadata(), entries)
    for key, value in entries.items():
        assert exactly_equal(session.get(key), value)


LARGE_FLOATS = [1e16, 1.2345e20, 1e300, -1.7976931348623157e308]


@pytest.mark.parametrize("value", LARGE_FLOATS, ids=repr)
def test_large_floats_round_trip_exactly(
    backend: Backend, value: float, request: pytest.FixtureRequest
) -> None:
    session = backend.session()
    session.add_message("user", [value], metadata={"v": value})
    session.set("v", value)
    back = session.get_messages()[0]
    assert exactly_equal(back.content, [value])
    assert exactly_equal(back.metadata, {"v": value})
    assert exactly_equal(session.get("v"), value)


def _nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return outer


@pytest.mark.parametrize(
    "content",
    [
        pytest.param([10**5000], id="int-beyond-str-digits-limit"),
        pytest.param(_nested(5000), id="nested-5000-deep"),
    ],
)
def test_unstorable_json_is_a_validation_error(content: list[Any]) -> None:
    session = InMemorySession(store="property-unstorable")
    try:
        with pytest.raises(ValidationError):
            session.add_message("user", content)
        assert session.count() == 0
    finally:
        session.delete()
