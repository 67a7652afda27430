"""The store: listing, paging, deleting, pruning, streaming export/import."""

from __future__ import annotations

import time
import uuid

import pytest

from pyai.sessions import SessionStore
from pyai.sessions.errors import SessionExistsError, ValidationError

from ..conftest import Backend


@pytest.fixture
def store(backend: Backend) -> SessionStore:
    return SessionStore(backend.repository)


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"


def test_list_sessions_newest_activity_first_with_counts(store: SessionStore) -> None:
    p = _prefix()
    for name in ("a", "b", "c"):
        store.session(p + name, user_id="alice").add_message("user", name)
        time.sleep(0.01)
    store.session(p + "a").add_message("user", "again")  # a becomes the newest
    page = store.list_sessions(prefix=p)
    assert [i.session_id for i in page.items] == [p + "a", p + "c", p + "b"]
    assert [i.message_count for i in page.items] == [2, 1, 1]
    assert page.next_cursor is None
    first = page.items[0]
    assert first.user_id == "alice" and first.created_at <= first.updated_at


def test_list_sessions_pages_with_a_cursor(store: SessionStore) -> None:
    p = _prefix()
    ids = [f"{p}{i:02d}" for i in range(7)]
    for sid in ids:
        store.session(sid).set("k", 1)
    seen, cursor, pages = [], None, 0
    while True:
        page = store.list_sessions(prefix=p, limit=3, cursor=cursor)
        seen += [i.session_id for i in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3 and sorted(seen) == ids and len(set(seen)) == 7


def test_list_sessions_by_owner(store: SessionStore) -> None:
    p = _prefix()
    owner = f"owner-{uuid.uuid4().hex}"
    store.session(p + "mine1", user_id=owner).add_message("user", "x")
    store.session(p + "theirs", user_id="someone-else").add_message("user", "x")
    store.session(p + "mine2", user_id=owner).add_message("user", "x")
    mine = store.list_sessions(user_id=owner)
    assert [i.session_id for i in mine.items] == [p + "mine2", p + "mine1"]
    assert all(i.user_id == owner for i in mine.items)


def test_list_excludes_expired_and_deleted(store: SessionStore) -> None:
    p = _prefix()
    store.session(p + "short", ttl=0.3).add_message("user", "x")
    store.session(p + "long").add_message("user", "x")
    store.session(p + "gone").add_message("user", "x")
    assert store.delete_session(p + "gone") is True
    assert store.delete_session(p + "gone") is False
    time.sleep(0.5)
    assert [i.session_id for i in store.list_sessions(prefix=p).items] == [p + "long"]
    store.prune_expired()
    assert [i.session_id for i in store.list_sessions(prefix=p).items] == [p + "long"]


def test_prefix_is_literal(store: SessionStore) -> None:
    p = _prefix()
    for sid in (p + "%x", p + "_x", p + "*x", p + "ax"):
        store.session(sid).add_message("user", "x")
    assert [i.session_id for i in store.list_sessions(prefix=p + "%").items] == [p + "%x"]
    assert [i.session_id for i in store.list_sessions(prefix=p + "*").items] == [p + "*x"]
    assert len(store.list_sessions(prefix=p).items) == 4


@pytest.mark.parametrize(
    "kwargs", [{"limit": 0}, {"limit": -1}, {"limit": "5"}, {"cursor": "not-a-cursor"}]
)
def test_bad_list_arguments(store: SessionStore, kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        store.list_sessions(**kwargs)


def test_export_all_import_all_round_trip(backend: Backend, store: SessionStore) -> None:
    p = _prefix()
    for i in range(5):
        s = store.session(f"{p}{i}", user_id=f"user{i}")
        s.add_messages(
            [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
        )
        s.set("n", i)
    docs = list(store.export_all(prefix=p))
    assert [d["session_id"] for d in docs] == [f"{p}{i}" for i in range(5)]
    assert all(len(d["messages"]) == 2 for d in docs)
    for i in range(5):
        store.delete_session(f"{p}{i}")
    assert store.import_all(docs) == 5
    again = list(store.export_all(prefix=p))
    for before, after in zip(docs, again, strict=True):
        assert after["messages"] == before["messages"]
        assert after["metadata"] == before["metadata"]
        assert after["user_id"] == before["user_id"]
    with pytest.raises(SessionExistsError):
        store.import_all(docs[:1])
    assert store.import_all(docs[:1], mode="replace") == 1


def test_store_sessions_use_the_store_ttl(backend: Backend) -> None:
    store = SessionStore(backend.repository, ttl=0.3)
    s = store.session()
    s.add_message("user", "x")
    time.sleep(0.5)
    assert s.count() == 0


def test_async_store(store: SessionStore) -> None:
    import asyncio

    p = _prefix()
    store.session(p + "x").add_message("user", "x")

    async def main() -> None:
        page = await store.alist_sessions(prefix=p)
        assert [i.session_id for i in page.items] == [p + "x"]
        docs = [d async for d in store.aexport_all(prefix=p)]
        assert len(docs) == 1
        assert await store.adelete_session(p + "x") is True
        assert await store.aimport_all(docs) == 1
        assert isinstance(await store.aprune_expired(), int)

    asyncio.run(main())
