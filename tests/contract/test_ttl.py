"""TTL: sliding expiry; an expired session reads as empty everywhere."""

from __future__ import annotations

import time
from datetime import timedelta

from ..conftest import Backend

# Long enough that a loaded machine still reads before expiry, short enough to wait out.
SHORT = 0.8


def test_expired_session_reads_as_empty(backend: Backend) -> None:
    s = backend.session(ttl=SHORT)
    s.add_message("user", "soon gone")
    s.set("k", "v")
    assert s.count() == 1
    time.sleep(SHORT + 0.4)
    assert s.get_messages() == [] and s.get_messages(limit=5) == []
    assert s.get_messages(after=0) == []
    assert s.count() == 0 and s.metadata() == {} and s.get("k") is None
    assert s.pop_message() is None
    assert s.export()["messages"] == []


def test_writes_slide_the_expiry(backend: Backend) -> None:
    s = backend.session(ttl=1.5)
    s.add_message("user", "1")
    time.sleep(0.9)
    s.set("touch", True)
    time.sleep(0.9)
    # 1.8s after the first write but 0.9s after the last: still alive.
    assert [m.content for m in s.get_messages()] == ["1"]
    assert s.metadata() == {"touch": True}


def test_writing_to_an_expired_session_starts_afresh(backend: Backend) -> None:
    s = backend.session(ttl=SHORT)
    s.add_messages([{"role": "user", "content": "old"}, {"role": "user", "content": "old2"}])
    s.set("old", 1)
    time.sleep(SHORT + 0.4)
    m = s.add_message("user", "new")
    assert [x.content for x in s.get_messages()] == ["new"]
    assert s.count() == 1 and s.metadata() == {}
    assert s.get_messages() == [m]


def test_no_ttl_never_expires_and_ttl_none_clears_expiry(backend: Backend) -> None:
    sid = backend.session().session_id
    backend.session(sid, ttl=SHORT).add_message("user", "a")
    backend.session(sid).add_message("user", "b")  # a write without ttl removes the expiry
    time.sleep(SHORT + 0.4)
    assert [m.content for m in backend.session(sid).get_messages()] == ["a", "b"]


def test_ttl_accepts_timedelta(backend: Backend) -> None:
    s = backend.session(ttl=timedelta(minutes=5))
    assert s.ttl == 300.0
    s.add_message("user", "x")
    assert s.count() == 1


def test_prune_expired_deletes_only_expired(backend: Backend) -> None:
    from datetime import datetime, timezone

    dying = backend.session(ttl=SHORT)
    dying.add_message("user", "x")
    living = backend.session(ttl=60)
    living.add_message("user", "y")
    forever = backend.session()
    forever.add_message("user", "z")
    time.sleep(SHORT + 0.4)
    # Redis expires keys itself; SQL and memory delete them here (the SQL count is
    # checked in tests/backends/test_sql.py).
    backend.repository.prune_expired(now=datetime.now(timezone.utc))
    assert dying.count() == 0
    assert backend.repository.info(dying.session_id, now=datetime.now(timezone.utc)) is None
    assert living.count() == 1 and forever.count() == 1
