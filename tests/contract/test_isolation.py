"""Hostile ids are stored literally and stay isolated, on every backend."""

from __future__ import annotations

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
