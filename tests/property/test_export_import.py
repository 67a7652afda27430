"""Export documents: export -> import -> export is the identity, and malformed documents are
rejected before anything is written, on every backend."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyai.sessions import InMemorySession, Session
from pyai.sessions.errors import ValidationError

from ..conftest import Backend
from .strategies import (
    exactly_equal,
    json_values,
    message_dicts,
    metadata_keys,
    texts,
    utc_datetimes,
)
from .test_roundtrip import max_float

PER_BACKEND = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

#: What an import carries over; the session's own created_at/updated_at are the import's.
CARRIED = ("messages", "metadata", "user_id", "ttl", "expires_at")


def _through_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as written to a file and read back."""
    loaded: dict[str, Any] = json.loads(json.dumps(doc))
    return loaded


def _assert_carried(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in CARRIED:
        assert exactly_equal(got[key], expected[key]), key


@PER_BACKEND
@given(data=st.data())
def test_export_import_export_is_identity(backend: Backend, data: st.DataObject) -> None:
    floats = max_float(backend)
    user_id = data.draw(st.none() | texts(min_size=1, max_size=40), label="user_id")
    source = backend.session(user_id=user_id)
    batches = data.draw(
        st.lists(st.lists(message_dicts(max_float=floats), min_size=1, max_size=3), max_size=3),
        label="batches",
    )
    for batch in batches:
        source.add_messages(batch)
        if data.draw(st.booleans(), label="pop"):
            source.pop_message()
    metadata = data.draw(
        st.dictionaries(metadata_keys(), json_values(max_float=floats), max_size=3),
        label="metadata",
    )
    for key, value in metadata.items():
        source.set(key, value)

    exported = source.export()
    assert _through_json(exported) == exported  # JSON-safe as it is
    target = backend.session()
    mode = data.draw(st.sampled_from(["error", "replace", "append"]), label="mode")
    assert target.import_data(_through_json(exported), mode=mode) == len(exported["messages"])
    again = target.export()
    if mode == "append":
        # Appended messages are renumbered after the target's (empty) history.
        for position, message in enumerate(exported["messages"], start=1):
            message["seq"] = position
    _assert_carried(again, exported)
    # Importing its own export over it changes nothing.
    target.import_data(_through_json(again), mode="replace")
    _assert_carried(target.export(), exported)


@st.composite
def documents(draw: st.DrawFn, *, floats: float | None = None) -> dict[str, Any]:
    """A valid version-1 document, written by hand: any positions, any timestamps."""
    items = draw(st.lists(message_dicts(max_float=floats), max_size=4))
    seqs = sorted(draw(st.sets(st.integers(1, 10**6), min_size=len(items), max_size=len(items))))
    messages = [
        {
            "role": "user",
            "content": None,
            "name": None,
            "tool_calls": None,
            "tool_call_id": None,
            "metadata": {},
            **item,
            "seq": seq,
            "created_at": draw(utc_datetimes()).isoformat(),
        }
        for item, seq in zip(items, seqs, strict=True)
    ]
    return {
        "format": "pyai.session",
        "version": 1,
        "session_id": draw(texts(min_size=1, max_size=40)),
        "user_id": draw(st.none() | texts(min_size=1, max_size=40)),
        "created_at": draw(utc_datetimes()).isoformat(),
        "updated_at": draw(utc_datetimes()).isoformat(),
        "expires_at": None,
        "ttl": None,
        "metadata": draw(
            st.dictionaries(metadata_keys(), json_values(max_float=floats), max_size=3)
        ),
        "messages": messages,
    }


@PER_BACKEND
@given(data=st.data())
def test_any_valid_document_imports_and_exports_back(backend: Backend, data: st.DataObject) -> None:
    doc = data.draw(documents(floats=max_float(backend)), label="document")
    target = backend.session()
    assert target.import_data(copy.deepcopy(doc)) == len(doc["messages"])
    exported = target.export()
    _assert_carried(exported, doc)
    if doc["messages"]:
        # Positions continue after the highest imported one.
        assert target.add_message("user", "next").seq == doc["messages"][-1]["seq"] + 1


# -- malformed documents ------------------------------------------------------------------

KNOWN_KEYS = {
    "format",
    "version",
    "session_id",
    "user_id",
    "created_at",
    "updated_at",
    "expires_at",
    "ttl",
    "metadata",
    "messages",
}
MESSAGE_KEYS = {
    "role",
    "content",
    "name",
    "tool_calls",
    "tool_call_id",
    "metadata",
    "seq",
    "created_at",
}
BAD_TIMESTAMPS = [
    "",
    "yesterday",
    "12:00",
    "2024-01-01T00:00:00",  # no time zone
    "2024-13-01T00:00:00+00:00",
    "2024-02-30T00:00:00+00:00",
    [],
    {},
]
with_nul = texts(max_size=10).map(lambda s: s + "\x00")
not_objects = st.one_of(st.lists(st.integers(), max_size=2), texts(), st.integers(), st.none())
whitespace = st.text(st.sampled_from(" \t\n\r\x0b\x0c"), min_size=1, max_size=5)

Mutation = Callable[[dict[str, Any], st.DataObject], Any]


def _message(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    if not doc["messages"]:
        doc["messages"].append(
            {"role": "user", "content": "x", "seq": 1, "created_at": "2024-01-01T00:00:00+00:00"}
        )
    index = data.draw(st.integers(0, len(doc["messages"]) - 1), label="message")
    message: dict[str, Any] = doc["messages"][index]
    return message


def _set(key: str, values: st.SearchStrategy[Any]) -> Mutation:
    def mutate(doc: dict[str, Any], data: st.DataObject) -> Any:
        doc[key] = data.draw(values, label=key)
        return doc

    mutate.__name__ = f"bad_{key}"
    return mutate


def _drop(key: str) -> Mutation:
    def mutate(doc: dict[str, Any], data: st.DataObject) -> Any:
        del doc[key]
        return doc

    mutate.__name__ = f"no_{key}"
    return mutate


def _set_in_message(key: str, values: st.SearchStrategy[Any]) -> Mutation:
    def mutate(doc: dict[str, Any], data: st.DataObject) -> Any:
        _message(doc, data)[key] = data.draw(values, label=f"message {key}")
        return doc

    mutate.__name__ = f"bad_message_{key}"
    return mutate


def _drop_in_message(doc: dict[str, Any], data: st.DataObject) -> Any:
    del _message(doc, data)[data.draw(st.sampled_from(["role", "seq", "created_at"]))]
    return doc


def _not_an_object(doc: dict[str, Any], data: st.DataObject) -> Any:
    return data.draw(not_objects)


def _message_not_an_object(doc: dict[str, Any], data: st.DataObject) -> Any:
    _message(doc, data)
    doc["messages"][0] = data.draw(not_objects | st.booleans())
    return doc


def _unknown_key(doc: dict[str, Any], data: st.DataObject) -> Any:
    doc[data.draw(texts(min_size=1).filter(lambda k: k not in KNOWN_KEYS))] = data.draw(
        json_values()
    )
    return doc


def _unknown_message_key(doc: dict[str, Any], data: st.DataObject) -> Any:
    message = _message(doc, data)
    message[data.draw(texts(min_size=1).filter(lambda k: k not in MESSAGE_KEYS))] = 1
    return doc


def _positions_not_increasing(doc: dict[str, Any], data: st.DataObject) -> Any:
    _message(doc, data)
    first = doc["messages"][0]
    doc["messages"].append({**first, "seq": data.draw(st.integers(1, first["seq"]))})
    return doc


def _bad_metadata_entry(doc: dict[str, Any], data: st.DataObject) -> Any:
    key, value = data.draw(
        st.one_of(
            st.tuples(st.just(""), json_values()),
            st.tuples(texts(min_size=256, max_size=300), json_values()),
            st.tuples(with_nul, json_values()),
            st.tuples(
                metadata_keys(), st.sampled_from([float("nan"), float("inf"), -float("inf")])
            ),
            st.tuples(metadata_keys(), with_nul),
            st.tuples(metadata_keys(), st.sampled_from([(1, 2), {1, 2}, b"bytes", object()])),
        ),
        label="metadata entry",
    )
    doc["metadata"][key] = value
    return doc


MUTATIONS: list[Mutation] = [
    _not_an_object,
    _set("format", texts().filter(lambda s: s != "pyai.session") | st.integers() | st.none()),
    _drop("format"),
    _set(
        "version",
        st.one_of(
            st.integers(min_value=2),
            st.integers(max_value=0),
            st.booleans(),
            texts(),
            st.none(),
            st.floats(),
        ),
    ),
    _drop("version"),
    _set(
        "session_id",
        st.one_of(
            st.just(""),
            st.integers(),
            st.none(),
            st.lists(st.integers(), max_size=1),
            texts(min_size=256, max_size=300),
            with_nul,
        ),
    ),
    _drop("session_id"),
    _set("user_id", st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=1))),
    _set("created_at", st.sampled_from(BAD_TIMESTAMPS)),
    _set("updated_at", st.sampled_from(BAD_TIMESTAMPS)),
    _set("expires_at", st.sampled_from(BAD_TIMESTAMPS)),
    _set(
        "ttl",
        st.one_of(
            st.floats(max_value=0),
            st.just(float("nan")),
            st.integers(max_value=0),
            st.just("soon"),
            st.lists(st.integers(), max_size=1),
        ),
    ),
    _set(
        "metadata",
        st.one_of(st.lists(st.integers(), max_size=2), texts(), st.integers(), st.none()),
    ),
    _bad_metadata_entry,
    _set("messages", st.one_of(texts(), st.integers(), st.dictionaries(texts(), st.integers()))),
    _unknown_key,
    _message_not_an_object,
    _drop_in_message,
    _unknown_message_key,
    _positions_not_increasing,
    _set_in_message(
        "seq", st.one_of(st.integers(max_value=0), st.just("first"), st.none(), st.just(1.5))
    ),
    _set_in_message(
        "role",
        st.one_of(
            st.just(""), whitespace, texts(min_size=65, max_size=80), st.integers(), st.none()
        ),
    ),
    _set_in_message(
        "content",
        st.one_of(
            st.integers(),
            st.floats(),
            st.booleans(),
            st.dictionaries(texts(), st.integers()),
            with_nul,
            st.lists(st.sampled_from([float("nan"), float("inf")]), min_size=1, max_size=2),
        ),
    ),
    _set_in_message("name", st.one_of(st.integers(), st.booleans(), with_nul)),
    _set_in_message("tool_call_id", st.one_of(st.integers(), st.booleans(), with_nul)),
    _set_in_message(
        "tool_calls", st.one_of(texts(), st.integers(), st.lists(st.integers(), min_size=1))
    ),
    _set_in_message(
        "metadata",
        st.one_of(
            texts(),
            st.integers(),
            st.lists(st.integers(), min_size=1),
            st.none(),
            st.just({"k": float("nan")}),
        ),
    ),
    _set_in_message("created_at", st.sampled_from([*BAD_TIMESTAMPS, None])),
]


def _state(backend: Backend, session: Session) -> tuple[Any, dict[str, Any]]:
    now = datetime.now(timezone.utc)
    return backend.repository.info(session.session_id, now=now), session.export()


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_malformed_documents_are_rejected_and_nothing_written(
    backend: Backend, data: st.DataObject
) -> None:
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    bad = mutation(data.draw(documents(floats=max_float(backend)), label="valid document"), data)
    target = backend.session()
    if data.draw(st.booleans(), label="target has data"):
        target.add_message("user", "already here")
        target.set("kept", True)
    before = _state(backend, target)
    mode = data.draw(st.sampled_from(["error", "replace", "append"]), label="mode")
    with pytest.raises(ValidationError) as info:
        target.import_data(bad, mode=mode)
    assert str(info.value)
    assert _state(backend, target) == before


# -- known gaps ---------------------------------------------------------------------------


def _document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "pyai.session",
        "version": 1,
        "session_id": "imported",
        "messages": [],
    }
    doc.update(changes)
    return doc


def _message_at(seq: int, created_at: str = "2024-01-01T00:00:00+00:00") -> dict[str, Any]:
    return {"role": "user", "content": "x", "seq": seq, "created_at": created_at}


def _rejected_and_nothing_written(backend: Backend, doc: dict[str, Any]) -> None:
    target = backend.session()
    before = _state(backend, target)
    try:
        target.import_data(doc)
    except ValidationError:
        pass
    except Exception as exc:
        pytest.fail(
            f"{type(exc).__module__}.{type(exc).__name__} instead of ValidationError: {exc}"
        )
    else:
        pytest.fail("the document was imported")
    finally:
        after = _state(backend, target)
    assert after == before, "a rejected import left something behind"


@pytest.mark.parametrize("seq", [2**63, 2**70], ids=["2**63", "2**70"])
def test_positions_no_backend_can_store_are_a_validation_error(backend: Backend, seq: int) -> None:
    _rejected_and_nothing_written(backend, _document(messages=[_message_at(seq)]))


@pytest.mark.parametrize("seq", [2**53 + 1, 2**62 + 1], ids=["2**53+1", "2**62+1"])
def test_imported_positions_come_back_exactly_or_are_rejected(
    backend: Backend, seq: int, request: pytest.FixtureRequest
) -> None:
    target = backend.session()
    try:
        target.import_data(_document(messages=[_message_at(seq)]))
    except ValidationError:
        assert target.count() == 0
        return
    assert [m["seq"] for m in target.export()["messages"]] == [seq]
    assert [m.seq for m in target.get_messages()] == [seq]


@pytest.mark.parametrize(
    "user_id", ["", "u" * 256, "a\x00b"], ids=["empty", "256-characters", "nul"]
)
def test_malformed_user_id_in_a_document_is_a_validation_error(
    backend: Backend, user_id: str
) -> None:
    _rejected_and_nothing_written(backend, _document(user_id=user_id))


def test_a_ttl_too_large_for_a_date_is_a_validation_error(backend: Backend) -> None:
    _rejected_and_nothing_written(backend, _document(ttl=1e300))


@pytest.mark.parametrize(
    "created_at",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"],
    ids=["before-year-1-in-utc", "after-year-9999-in-utc"],
)
def test_timestamps_out_of_range_in_utc_are_a_validation_error(created_at: str) -> None:
    session = InMemorySession(store="property-timestamps")
    try:
        with pytest.raises(ValidationError):
            session.import_data(_document(messages=[_message_at(1, created_at)]))
        with pytest.raises(ValidationError):
            session.import_data(_document(created_at=created_at))
        assert session.count() == 0
    finally:
        session.delete()
