"""Redis keys: one session's keys hold only its data, whatever characters its id holds.

These tests look at the keys themselves (SCAN over a key prefix of their own, which
holds no glob characters): every key of a session shares one hash slot, ids that differ
only by glob, hash-tag or escape characters never share a key, and operations on one
session leave every key of the others untouched (not even read).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from pyai.sessions import RedisSession, Session, SessionStore
from pyai.sessions._redis import RedisRepository, dispose_clients

pytestmark = pytest.mark.redis

GLOB_AND_TAG_IDS = [
    "*",
    "?",
    "[",
    "]",
    "[a-z]",
    "{",
    "}",
    "{}",
    "}{",
    "{a}",
    "a{b}c",
    "{{a}}",
    "\\",
    "\\*",
    "a*",
    "a?",
    "a",
    "%",
    "%7B",
    "%7D",
    "%25",
    "%257B",
    ":",
    "a:{b}:c",
    "🔑{x}",
]


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield raw
    finally:
        raw.close()


@pytest.fixture
def prefix(client: Any) -> Iterator[str]:
    name = f"pyai-iso-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        dispose_clients()
        keys = list(client.scan_iter(match=f"{name}:*", count=1000))
        if keys:
            client.unlink(*keys)


def _keys_under(client: Any, prefix: str) -> set[str]:
    return set(client.scan_iter(match=f"{prefix}:*", count=1000))


def _session(redis_url: str, prefix: str, session_id: str) -> Session:
    return RedisSession(session_id, url=redis_url, key_prefix=prefix)


def _repository(session: Session) -> RedisRepository:
    repository = session.repository
    assert isinstance(repository, RedisRepository)
    return repository


def _populate(session: Session) -> None:
    session.add_messages(
        [{"role": "user", "content": session.session_id}, {"role": "assistant", "content": "ok"}]
    )
    session.set("owner", session.session_id)


def _session_keys(redis_url: str, prefix: str, ids: list[str]) -> dict[str, set[str]]:
    return {sid: set(_repository(_session(redis_url, prefix, sid)).keys(sid)) for sid in ids}


def test_each_session_has_keys_of_its_own_in_one_slot(
    redis_url: str, prefix: str, client: Any
) -> None:
    for sid in GLOB_AND_TAG_IDS:
        _populate(_session(redis_url, prefix, sid))
    by_session = _session_keys(redis_url, prefix, GLOB_AND_TAG_IDS)
    present = _keys_under(client, prefix)
    index = present - set().union(*by_session.values())
    # Besides the sessions' own keys there is only the prefix's session index.
    assert all(key.startswith(f"{prefix}:index:") for key in index), sorted(index)
    seen: set[str] = set()
    for sid, keys in by_session.items():
        assert keys <= present, f"keys of {sid!r} missing: {keys - present}"
        assert not keys & seen, f"{sid!r} shares a key with another session"
        seen |= keys
        # One hash slot (no CROSSSLOT in a cluster), tagged by the id, not by the prefix.
        assert len({key_slot(k.encode()) for k in keys}) == 1, sid
        for key in keys:
            tag = key.split("{", 1)[1].split("}", 1)[0]
            assert tag, f"empty hash tag in {key!r}"
    for sid in GLOB_AND_TAG_IDS:
        session = _session(redis_url, prefix, sid)
        assert [m.content for m in session.get_messages()] == [sid, "ok"]
        assert session.metadata() == {"owner": sid}
        assert session.count() == 2


def _key_state(client: Any, keys: set[str]) -> dict[str, tuple[Any, int]]:
    return {key: (client.dump(key), client.pttl(key)) for key in sorted(keys)}


@pytest.mark.parametrize("target", ["*", "{"])
def test_operations_on_one_session_touch_no_key_of_another(
    redis_url: str, prefix: str, client: Any, target: str
) -> None:
    for sid in GLOB_AND_TAG_IDS:
        _populate(_session(redis_url, prefix, sid))
    source = _session(redis_url, prefix, "import source")
    _populate(source)
    others = [sid for sid in GLOB_AND_TAG_IDS if sid != target]
    other_keys = set().union(*_session_keys(redis_url, prefix, others).values())
    before = _key_state(client, other_keys)
    # OBJECT IDLETIME counts whole seconds since a key was last read or written.
    time.sleep(1.2)

    s = _session(redis_url, prefix, target)
    s.get_messages()
    s.get_messages(limit=1)
    s.get_messages(after=0, limit=5)
    s.count()
    s.metadata()
    s.add_message("user", "more")
    s.add_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    s.pop_message()
    s.set("owner", "changed")
    s.unset("owner")
    s.export()
    s.clear()
    s.import_data(source.export(), mode="replace")
    RedisSession(target, url=redis_url, key_prefix=prefix, ttl=60).add_message("user", "ttl")
    s.delete()

    # No key of another session was read or written (OBJECT and PTTL do not count as
    # access; DUMP does, so it comes last) ...
    accessed = sorted(k for k in other_keys if client.object("idletime", k) < 1)
    assert not accessed, f"keys of other sessions were accessed: {accessed}"
    assert _key_state(client, other_keys) == before
    # ... and no key appeared outside the target's own keys and the index.
    own = set(_repository(s).keys(target)) | set(_repository(source).keys("import source"))
    extra = _keys_under(client, prefix) - other_keys - own
    assert all(key.startswith(f"{prefix}:index:") for key in extra), sorted(extra)


def test_prefixes_with_glob_characters_stay_apart(redis_url: str, client: Any) -> None:
    base = f"pyai-iso-{uuid.uuid4().hex[:12]}"
    prefixes = [f"{base}*", f"{base}x", f"{base}?", f"{base}[x]", f"{base}\\"]
    try:
        for p in prefixes:
            for sid in ("a", "*"):
                _session(redis_url, p, sid).add_message("user", p)
        for p in prefixes:
            store = SessionStore(_repository(_session(redis_url, p, "a")))
            assert sorted(i.session_id for i in store.list_sessions().items) == ["*", "a"], p
            docs = list(store.export_all())
            assert sorted(d["session_id"] for d in docs) == ["*", "a"], p
            assert {m["content"] for d in docs for m in d["messages"]} == {p}, p
            assert _session(redis_url, p, "*").get_messages()[0].content == p
    finally:
        dispose_clients()
        keys = list(client.scan_iter(match=f"{base}*", count=1000))
        if keys:
            client.unlink(*keys)
