"""Hostile ids are stored literally and stay isolated, on every backend."""

from __future__ import annotations

import uuid

import pytest

from ..conftest import Backend

HOSTILE_IDS = [
    "'; DROP TABLE messages; --",
    'quote"double',
    "back\\slash",
    "percent%s%(sid)s:sid?",
    "*",
    "user:*",
    "{tag}",
    "a{b}c",
    "[abc]",
    "日本語のセッション 🚀",
    " leading and trailing ",
    "line\nbreak\ttab",
    "x" * 255,
    "UPPER",
    "upper",
]


@pytest.mark.parametrize("session_id", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
def test_hostile_ids_store_literally(backend: Backend, session_id: str) -> None:
    s = backend.session(session_id)
    s.delete()
    s.add_message("user", f"for {session_id}")
    s.set(session_id, session_id)
    again = backend.session(session_id)
    assert again.session_id == session_id
    assert [m.content for m in again.get_messages()] == [f"for {session_id}"]
    assert again.metadata() == {session_id: session_id}
    s.delete()


def test_no_cross_session_reads_between_similar_ids(backend: Backend) -> None:
    ids = ["user:*", "user:1", "user:?", "user:[1]", "{user}:1", "user", "USER:1", "%", "_"]
    for sid in ids:
        backend.session(sid).delete()
    for sid in ids:
        backend.session(sid).add_message("user", sid)
        backend.session(sid).set("owner", sid)
    for sid in ids:
        s = backend.session(sid)
        assert [m.content for m in s.get_messages()] == [sid]
        assert s.metadata() == {"owner": sid}
        assert s.count() == 1
    backend.session("user:*").delete()
    assert backend.session("user:1").count() == 1
    for sid in ids:
        backend.session(sid).delete()


def test_hostile_metadata_keys_stay_apart(backend: Backend) -> None:
    s = backend.session()
    keys = [k for k in HOSTILE_IDS if k] + ["user:1", "user:?", "%", "_", "k", "K"]
    for i, key in enumerate(keys):
        s.set(key, i)
    assert s.metadata() == {key: i for i, key in enumerate(keys)}
    assert s.get("*") == keys.index("*") and s.get("user:*") == keys.index("user:*")
    # Removing a key that looks like a pattern removes that key only.
    for pattern in ("*", "user:*", "%", "_", "[abc]", "{tag}"):
        assert s.unset(pattern) is True
    left = {key: i for i, key in enumerate(keys)}
    for pattern in ("*", "user:*", "%", "_", "[abc]", "{tag}"):
        del left[pattern]
    assert s.metadata() == left


NEIGHBOURS = [
    "user:1",
    "user:*",
    "user:?",
    "user:[1]",
    "user:1*",
    "{user:1}",
    "user:{1}",
    "user:1 ",
    "USER:1",
    "user:",
    "user:10",
    "user\\:1",
    "user%1",
    "user_1",
    "user%7B1",
]


@pytest.mark.parametrize("target", ["user:1", "user:*", "{user:1}", "user%1"])
def test_writes_to_one_session_leave_its_neighbours_untouched(
    backend: Backend, target: str
) -> None:
    run = uuid.uuid4().hex[:8]
    ids = [f"{run}:{sid}" for sid in NEIGHBOURS]
    target_id = f"{run}:{target}"
    for sid in ids:
        s = backend.session(sid, user_id=f"owner-{sid}")
        s.add_messages([{"role": "user", "content": sid}, {"role": "assistant", "content": "ok"}])
        s.set("owner", sid)
    before = {sid: backend.session(sid).export() for sid in ids if sid != target_id}

    s = backend.session(target_id)
    s.add_message("user", "more")
    s.add_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    s.pop_message()
    s.set("owner", "changed")
    s.set("*", 1)
    s.unset("*")
    s.clear()
    other = backend.session(f"{run}:source")
    other.add_message("user", "imported")
    s.import_data(other.export(), mode="replace")
    s.import_data(other.export(), mode="append")
    s.delete()

    after = {sid: backend.session(sid).export() for sid in before}
    assert after == before


HOSTILE_OWNERS = ["o", "o%", "o_", "o*", "o?", "o[o]", "{o}", "o\\", "O"]


def test_owner_and_prefix_selection_is_literal(backend: Backend) -> None:
    from pyai.sessions import SessionStore

    store = SessionStore(backend.repository)
    run = f"{uuid.uuid4().hex[:8]}:"
    for i, owner in enumerate(HOSTILE_OWNERS):
        store.session(f"{run}{owner}", user_id=f"{run}{owner}").add_message("user", str(i))
    for owner in HOSTILE_OWNERS:
        page = store.list_sessions(user_id=f"{run}{owner}")
        assert [(i.session_id, i.user_id) for i in page.items] == [(f"{run}{owner}",) * 2]
    for owner in ("o%", "o_", "o*", "o?", "o[", "{", "o\\"):
        expected = sorted(f"{run}{o}" for o in HOSTILE_OWNERS if o.startswith(owner))
        listed = store.list_sessions(prefix=f"{run}{owner}").items
        assert sorted(i.session_id for i in listed) == expected, owner
        exported = [doc["session_id"] for doc in store.export_all(prefix=f"{run}{owner}")]
        assert sorted(exported) == expected, owner
