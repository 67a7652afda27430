"""Messages: append, read, paging, pop, count, clear, delete: on every backend."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pyai.sessions import Message, SessionEvent

from ..conftest import Backend


def test_empty_session_reads_empty(backend: Backend) -> None:
    s = backend.session()
    assert s.get_messages() == []
    assert s.get_messages(limit=5) == []
    assert s.get_messages(after=0, limit=5) == []
    assert s.count() == 0
    assert s.pop_message() is None
    assert s.metadata() == {}


def test_add_message_returns_stored_message(backend: Backend) -> None:
    s = backend.session()
    before = datetime.now(timezone.utc)
    m = s.add_message("user", "Hello")
    assert (m.role, m.content, m.seq) == ("user", "Hello", 1)
    assert m.created_at is not None and m.created_at.tzinfo is not None
    assert before <= m.created_at <= datetime.now(timezone.utc)
    assert str(m) == "user: Hello"
    assert s.get_messages() == [m]


def test_every_field_round_trips(backend: Backend) -> None:
    s = backend.session()
    given = [
        Message(role="system", content=""),
        Message(role="user", content="héllo wörld ✓ 日本語 🚀 \u200b \n\t \\ ' \" "),
        Message(
            role="user",
            content=[
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:,x"}},
            ],
            name="alice",
            metadata={"nested": {"a": [1, 2.5, None, True, "x"]}, "empty": {}, "big": 2**62},
        ),
        Message(
            role="assistant",
            content=None,
            tool_calls=[
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"q": 1}'},
                }
            ],
        ),
        Message(role="tool", content="42", tool_call_id="call_1", name="f"),
        Message(role="my-custom-role", content="x" * 200_000),
    ]
    stored = s.add_messages(given)
    read = s.get_messages()
    assert read == stored
    for original, back in zip(given, read, strict=True):
        assert back.model_dump(exclude={"seq", "created_at"}) == original.model_dump(
            exclude={"seq", "created_at"}
        )
    assert [m.seq for m in read] == [1, 2, 3, 4, 5, 6]


def test_add_messages_accepts_dicts_in_chat_format(backend: Backend) -> None:
    s = backend.session()
    stored = s.add_messages(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello", "name": "bot"},
        ]
    )
    assert [m.to_dict() for m in s.get_messages()] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "name": "bot"},
    ]
    assert [m.seq for m in stored] == [1, 2]
    assert s.add_messages([]) == []
    assert s.count() == 2


def test_order_is_by_position_even_with_equal_timestamps(backend: Backend) -> None:
    s = backend.session()
    s.add_messages([{"role": "user", "content": str(i)} for i in range(50)])
    s.add_message("user", "50")
    read = s.get_messages()
    assert [m.content for m in read] == [str(i) for i in range(51)]
    assert len({m.created_at for m in read[:50]}) == 1


def test_limit_returns_last_n_oldest_first(backend: Backend) -> None:
    s = backend.session()
    s.add_messages([{"role": "user", "content": str(i)} for i in range(10)])
    assert [m.content for m in s.get_messages(limit=3)] == ["7", "8", "9"]
    assert [m.content for m in s.get_messages(limit=100)] == [str(i) for i in range(10)]
    assert s.get_messages(limit=0) == []


def test_after_pages_through_history(backend: Backend) -> None:
    s = backend.session()
    s.add_messages([{"role": "user", "content": str(i)} for i in range(10)])
    pages, cursor = [], 0
    while True:
        page = s.get_messages(after=cursor, limit=4)
        if not page:
            break
        pages.append([m.content for m in page])
        cursor = page[-1].seq or 0
    assert pages == [["0", "1", "2", "3"], ["4", "5", "6", "7"], ["8", "9"]]
    assert [m.seq for m in s.get_messages(after=8)] == [9, 10]


def test_pop_removes_last_and_positions_are_never_reused(backend: Backend) -> None:
    s = backend.session()
    s.add_messages([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    popped = s.pop_message()
    assert popped is not None and (popped.content, popped.seq) == ("b", 2)
    assert s.count() == 1
    assert s.add_message("user", "c").seq == 3
    s.clear()
    assert s.count() == 0 and s.get_messages() == []
    assert s.add_message("user", "d").seq == 4
    assert [m.seq for m in s.get_messages()] == [4]


def test_pop_until_empty(backend: Backend) -> None:
    s = backend.session()
    s.add_message("user", "only")
    assert s.pop_message() is not None
    assert s.pop_message() is None
    assert s.count() == 0


def test_clear_keeps_metadata_delete_removes_all(backend: Backend) -> None:
    s = backend.session()
    s.add_message("user", "hi")
    s.set("topic", "greetings")
    s.clear()
    assert s.get_messages() == [] and s.metadata() == {"topic": "greetings"}
    assert s.delete() is True
    assert s.get_messages() == [] and s.metadata() == {} and s.count() == 0
    assert s.delete() is False
    # A deleted session can be used again, from scratch.
    assert s.add_message("user", "again").seq >= 1
    assert s.count() == 1


def test_sessions_are_isolated(backend: Backend) -> None:
    a, b = backend.session(), backend.session()
    a.add_message("user", "for a")
    b.set("k", "b")
    assert b.get_messages() == [] and a.metadata() == {}
    assert a.count() == 1 and b.count() == 0
    b.delete()
    assert a.count() == 1


def test_two_handles_on_one_session_see_the_same_data(backend: Backend) -> None:
    first = backend.session("shared-" + backend.name)
    first.delete()
    second = backend.session("shared-" + backend.name)
    first.add_message("user", "one")
    second.add_message("assistant", "two")
    assert [m.content for m in first.get_messages()] == ["one", "two"]
    assert [m.seq for m in second.get_messages()] == [1, 2]


def test_events_fire_after_writes(backend: Backend) -> None:
    s = backend.session()
    seen: list[tuple[str, object]] = []
    s.on(SessionEvent.MESSAGE_ADDED, lambda m: seen.append(("added", m.content)))
    s.on(SessionEvent.MESSAGE_REMOVED, lambda m: seen.append(("removed", m.content)))
    s.on(SessionEvent.SESSION_CLEARED, lambda: seen.append(("cleared", None)))
    s.on(SessionEvent.METADATA_SET, lambda k, v: seen.append(("set", (k, v))))
    off = s.on(SessionEvent.SESSION_DELETED, lambda: seen.append(("deleted", None)))
    s.add_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    s.pop_message()
    s.set("k", [1])
    s.clear()
    s.delete()
    off()
    s.delete()
    assert seen == [
        ("added", "a"),
        ("added", "b"),
        ("removed", "b"),
        ("set", ("k", [1])),
        ("cleared", None),
        ("deleted", None),
    ]


def test_failing_callback_neither_blocks_nor_undoes_the_write(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    s = backend.session()
    calls: list[int] = []

    def broken(message: Message) -> None:
        raise RuntimeError("callback bug")

    s.on(SessionEvent.MESSAGE_ADDED, broken)
    s.on(SessionEvent.MESSAGE_ADDED, lambda m: calls.append(m.seq or 0))
    m = s.add_message("user", "kept")
    assert s.get_messages() == [m]
    assert calls == [1]
    assert "callback bug" in caplog.text


def test_closed_session_refuses_use_but_data_stays(backend: Backend) -> None:
    from pyai.sessions.errors import SessionClosedError

    with backend.session() as s:
        s.add_message("user", "durable")
        sid = s.session_id
    with pytest.raises(SessionClosedError):
        s.add_message("user", "late")
    with pytest.raises(SessionClosedError):
        s.get_messages()
    assert [m.content for m in backend.session(sid).get_messages()] == ["durable"]


def test_generated_session_ids_are_uuid_hex(backend: Backend) -> None:
    from pyai.sessions import Session

    a, b = Session(backend.repository), Session(backend.repository)
    assert a.session_id != b.session_id
    assert len(a.session_id) == 32 and int(a.session_id, 16) >= 0
