"""What is specific to the Redis store: key layout, TTL on every key, foreign keys,
connections and passwords, the session index, processes writing one session."""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from pyai.sessions import RedisSession, SQLiteSession, open_session
from pyai.sessions._redis import codec
from pyai.sessions._redis.clients import _never_sent, safe_url
from pyai.sessions._redis.keys import index_keys, session_keys
from pyai.sessions._redis.repository import RedisRepository
from pyai.sessions.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
    SessionExistsError,
)

from ..conftest import BACKENDS, Backend, RedisServers, with_query

pytestmark = pytest.mark.redis

_MICROSECOND = timedelta(microseconds=1)
HOSTILE_IDS = ["plain", "}x", "{", "}", "{}", "a}b{c}", "%7D", "%", "x{y}z", "日本 🚀", "*?[]"]


@pytest.fixture(params=["redis", "redis-cluster"])
def redis_backend(request: pytest.FixtureRequest) -> Backend:
    """The single-server and the cluster Redis backends."""
    return BACKENDS[request.param](request)


def _repo(backend: Backend) -> RedisRepository:
    assert isinstance(backend.repository, RedisRepository)
    return backend.repository


def _raw(backend: Backend) -> Any:
    """The client pyai uses (text replies), to look at the keys it wrote."""
    return _repo(backend).connection.client()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- key layout ---------------------------------------------------------------------------


def test_keys_share_one_hash_tag_whatever_the_id() -> None:
    seen: set[str] = set()
    for sid in HOSTILE_IDS:
        keys = session_keys("app", sid)
        assert len({key_slot(k.encode()) for k in keys}) == 1, sid
        assert keys.session.startswith("app:{") and keys.messages.endswith("}:messages")
        seen.update(keys)
    # Escaping is one-to-one: no two ids share a key ("%7D" and "}" included).
    assert len(seen) == 3 * len(HOSTILE_IDS)
    index = index_keys("app")
    assert len({key_slot(k.encode()) for k in index}) == 1
    assert not seen & set(index)


@pytest.mark.parametrize("prefix", ["", "a{b", "a}b", 5])
def test_bad_key_prefix_is_refused(redis_test_url: str, prefix: object) -> None:
    with pytest.raises(ConfigurationError):
        RedisSession("x", url=redis_test_url, key_prefix=prefix)  # type: ignore[arg-type]


def test_key_layout_on_the_server(redis_backend: Backend) -> None:
    raw = _raw(redis_backend)
    for sid in HOSTILE_IDS:
        s = redis_backend.session(sid)
        s.delete()
        s.add_message("user", "hi")
        s.set("k", 1)
        keys = _repo(redis_backend).keys(sid)
        assert [raw.type(k) for k in keys] == ["hash", "zset", "hash"]
        assert raw.hget(keys.session, "v") == "1"
        assert raw.hget(keys.session, "last_seq") == "1"
        [member] = raw.zrange(keys.messages, 0, -1)
        assert member.startswith("1\x00")
        assert raw.hgetall(keys.metadata) == {"k": "1"}
        if isinstance(raw, RedisCluster):
            slots = {raw.execute_command("CLUSTER KEYSLOT", k) for k in keys}
            assert slots == {key_slot(keys.session.encode())}
        s.delete()
        assert not any(raw.exists(k) for k in keys)


def test_tail_read_touches_only_what_it_returns(redis_backend: Backend) -> None:
    s = redis_backend.session()
    s.add_messages([{"role": "user", "content": str(i)} for i in range(1000)])
    s.pop_message()
    s.add_message("user", "last")
    assert [m.seq for m in s.get_messages(limit=3)] == [998, 999, 1001]
    assert [m.seq for m in s.get_messages(after=997, limit=3)] == [998, 999, 1001]
    assert [m.seq for m in s.get_messages(after=999)] == [1001]


# -- TTL ----------------------------------------------------------------------------------


def test_ttl_applies_to_every_key_of_the_session(redis_backend: Backend) -> None:
    raw = _raw(redis_backend)
    s = redis_backend.session(ttl=60)
    s.add_message("user", "x")
    s.set("k", "v")
    keys = _repo(redis_backend).keys(s.session_id)
    ttls = [raw.pttl(k) for k in keys]
    assert all(55_000 < t <= 60_000 for t in ttls), ttls
    # One deadline for all of them, computed once from the server's clock.
    assert len({raw.execute_command("PEXPIRETIME", k) for k in keys}) == 1
    # The index outlives no session, but no session outlives the index either.
    for key in _repo(redis_backend).index:
        if raw.exists(key):
            assert raw.pttl(key) == -1 or raw.pttl(key) >= max(ttls)
    info = s.repository.info(s.session_id, now=datetime.now(timezone.utc))
    assert info is not None and info.expires_at is not None


def test_each_write_refreshes_every_key(redis_backend: Backend) -> None:
    raw = _raw(redis_backend)
    sid = uuid.uuid4().hex
    redis_backend.session(sid, ttl=60).set("k", "v")
    redis_backend.session(sid, ttl=60).add_message("user", "x")
    keys = _repo(redis_backend).keys(sid)
    before = [raw.execute_command("PEXPIRETIME", k) for k in keys]
    time.sleep(0.05)
    redis_backend.session(sid, ttl=120).add_message("user", "y")
    after = [raw.execute_command("PEXPIRETIME", k) for k in keys]
    assert len(set(after)) == 1 and after[0] > before[0] + 50_000


def test_ttl_none_persists_every_key(redis_backend: Backend) -> None:
    raw = _raw(redis_backend)
    sid = uuid.uuid4().hex
    redis_backend.session(sid, ttl=60).add_message("user", "x")
    redis_backend.session(sid, ttl=60).set("k", 1)
    redis_backend.session(sid).set("k", 2)  # a write without ttl removes the expiry
    keys = _repo(redis_backend).keys(sid)
    assert [raw.pttl(k) for k in keys] == [-1, -1, -1]
    assert raw.hget(keys.session, "expires_at") is None


def test_expired_session_is_gone_from_the_index_too(redis_backend: Backend) -> None:
    from pyai.sessions import SessionStore

    repo = _repo(redis_backend)
    raw = _raw(redis_backend)
    p = f"exp-{uuid.uuid4().hex[:8]}:"
    redis_backend.session(p + "short", ttl=0.3).add_message("user", "x")
    redis_backend.session(p + "long", ttl=60).add_message("user", "x")
    assert raw.zscore(repo.index.activity, p + "short") is not None
    time.sleep(0.5)
    store = SessionStore(repo)
    assert [i.session_id for i in store.list_sessions(prefix=p).items] == [p + "long"]
    # Listing dropped the stale entry; prune finds nothing more of it.
    assert raw.zscore(repo.index.activity, p + "short") is None
    assert raw.zscore(repo.index.expiry, p + "short") is None


def test_prune_sweeps_expired_entries_from_the_index(redis_backend: Backend) -> None:
    repo = _repo(redis_backend)
    raw = _raw(redis_backend)
    p = f"prune-{uuid.uuid4().hex[:8]}:"
    for i in range(3):
        redis_backend.session(f"{p}{i}", ttl=0.2, user_id="u").add_message("user", "x")
    redis_backend.session(p + "alive", ttl=60).add_message("user", "x")
    time.sleep(0.4)
    assert repo.prune_expired(now=datetime.now(timezone.utc)) >= 3
    for i in range(3):
        assert raw.zscore(repo.index.activity, f"{p}{i}") is None
        assert raw.hget(repo.index.owner, f"{p}{i}") is None
    assert raw.zscore(repo.index.activity, p + "alive") is not None


def test_writes_sweep_long_expired_entries_from_the_index(redis_backend: Backend) -> None:
    repo = _repo(redis_backend)
    raw = _raw(redis_backend)
    ghost = f"ghost-{uuid.uuid4().hex}"  # a session that expired an hour ago
    long_ago = int(time.time() * 1000) - 3_600_000
    raw.zadd(repo.index.activity, {ghost: long_ago * 1000})
    raw.zadd(repo.index.ids, {ghost: 0})
    raw.zadd(repo.index.expiry, {ghost: long_ago})
    s = redis_backend.session(ttl=60)
    for i in range(17):  # one write in 16 sweeps
        s.add_message("user", str(i))
    assert raw.zscore(repo.index.expiry, ghost) is None
    assert raw.zscore(repo.index.activity, ghost) is None
    assert raw.zscore(repo.index.ids, ghost) is None


def test_index_keys_expire_with_the_last_session(redis_servers: RedisServers) -> None:
    port = redis_servers.start()
    url = f"redis://127.0.0.1:{port}/0?key_prefix=lonely"
    RedisSession("a", url=url, ttl=0.3).add_message("user", "x")
    RedisSession("b", url=url, ttl=0.5).add_message("user", "x")
    raw = redis.Redis(port=port, decode_responses=True)
    try:
        index = index_keys("lonely")
        assert raw.exists(*index) >= 3
        # Ten minutes (slack) after the longest-lived session at most.
        assert all(0 < raw.pttl(k) <= 601_000 for k in index if raw.exists(k))
        RedisSession("c", url=url).add_message("user", "forever")
        assert all(raw.pttl(k) == -1 for k in index if raw.exists(k))
        RedisSession("c", url=url).delete()
        assert all(0 < raw.pttl(k) <= 601_000 for k in index if raw.exists(k))
    finally:
        raw.close()


# -- someone else's data -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "kind"),
    [
        ("session", "string"),
        ("session", "hash"),  # a hash without pyai's marker
        ("messages", "list"),
        ("messages", "string"),
        ("metadata", "set"),
    ],
)
def test_key_of_another_type_is_an_error_and_never_overwritten(
    redis_backend: Backend, which: str, kind: str
) -> None:
    raw = _raw(redis_backend)
    s = redis_backend.session()
    key = getattr(_repo(redis_backend).keys(s.session_id), which)
    writers = {
        "string": lambda: raw.set(key, "theirs"),
        "hash": lambda: raw.hset(key, mapping={"owner": "theirs"}),
        "list": lambda: raw.rpush(key, "theirs"),
        "set": lambda: raw.sadd(key, "theirs"),
    }
    document = {
        "format": "pyai.session",
        "version": 1,
        "session_id": "elsewhere",
        "messages": [
            {"role": "user", "content": "x", "seq": 1, "created_at": "2024-01-01T00:00:00+00:00"}
        ],
    }
    writers[kind]()
    dumped = raw.dump(key)
    try:
        for write in (
            lambda: s.add_message("user", "x"),
            lambda: s.add_messages([{"role": "user", "content": "x"}]),
            lambda: s.set("k", 1),
            s.clear,
            s.delete,
            lambda: s.import_data(document, mode="replace"),
        ):
            with pytest.raises(BackendError) as info:
                write()
            assert "pyai" in str(info.value) and "key_prefix" in str(info.value)
        assert raw.type(key) == kind
        assert raw.dump(key) == dumped
        assert raw.pttl(key) == -1
    finally:
        raw.delete(key)


def test_reading_a_foreign_messages_key_is_an_error(redis_backend: Backend) -> None:
    raw = _raw(redis_backend)
    s = redis_backend.session()
    key = _repo(redis_backend).keys(s.session_id).messages
    raw.rpush(key, "theirs")
    try:
        with pytest.raises(BackendError, match="another type"):
            s.get_messages(limit=5)
        with pytest.raises(BackendError):
            s.count()
    finally:
        raw.delete(key)


def test_foreign_member_in_messages_is_an_error(redis_backend: Backend) -> None:
    raw = _raw(redis_backend)
    s = redis_backend.session()
    s.add_message("user", "mine")
    raw.zadd(_repo(redis_backend).keys(s.session_id).messages, {"not a pyai message": 9})
    with pytest.raises(BackendError, match="did not write"):
        s.get_messages()
    s.delete()


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=timezone.utc),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
        datetime(2024, 1, 1, 5, 0, tzinfo=timezone(timedelta(hours=5))),
        datetime(2026, 11, 25, 19, 31, 16, 0, tzinfo=timezone.utc),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
    ],
)
def test_member_times_are_exact_iso_utc(moment: datetime) -> None:
    written = codec.iso_from_micros(codec.to_micros(moment))
    assert written == moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
    assert datetime.fromisoformat(written) == moment


def test_created_at_reads_back_exactly_in_both_stored_forms(redis_backend: Backend) -> None:
    raw = _raw(redis_backend)
    s = redis_backend.session()
    moment = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=timezone.utc)
    epoch_micros = str((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // _MICROSECOND)
    stored = s.import_data(
        {
            "format": "pyai.session",
            "version": 1,
            "session_id": "elsewhere",
            "messages": [
                {"role": "user", "content": "x", "seq": 1, "created_at": moment.isoformat()}
            ],
        }
    )
    assert stored == 1
    key = _repo(redis_backend).keys(s.session_id).messages
    [member] = raw.zrange(key, 0, -1)
    assert member.split("\x00")[1] == "2024-02-29T23:59:59.999999+00:00"
    # Members of earlier development builds hold microseconds since the epoch.
    raw.zadd(key, {f'2\x00{epoch_micros}\x00user\x00"y"\x00\x00\x00\x00': 2})
    got = s.get_messages()
    assert [m.created_at for m in got] == [moment, moment]
    assert all(m.created_at.tzinfo is timezone.utc for m in got)
    s.delete()


def test_positions_survive_an_evicted_session_hash(redis_backend: Backend) -> None:
    raw = _raw(redis_backend)
    s = redis_backend.session()
    s.add_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    raw.delete(_repo(redis_backend).keys(s.session_id).session)  # as an LRU eviction would
    assert s.add_message("user", "c").seq == 3
    assert [m.seq for m in s.get_messages()] == [1, 2, 3]


# -- the append fast path ----------------------------------------------------------------


def _setup_steps() -> dict[str, tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]]:
    """Scenarios: writes made before the append (method, session options) and the
    append's own options."""
    one = {"ttl": 60}
    return {
        "new session": ([], one),
        "existing, ttl": ([("add", one)], one),
        "existing with metadata, longer ttl": ([("add", one), ("set", one)], {"ttl": 120}),
        "existing, no ttl": ([("add", {})], {}),
        "owned, another user given": ([("add", {"user_id": "alice"})], {"user_id": "bob"}),
        "unowned, a user given": ([("add", {})], {"user_id": "bob"}),
        "ttl given to a session without": ([("add", {})], one),
        "ttl taken away": ([("add", one), ("set", one)], {}),
        "batch": ([("add", one)], {**one, "batch": 3}),
        "at a sweep": ([("add15", one)], one),
        "session hash evicted": ([("add", one), ("evict", one)], one),
    }


def _state(raw: Any, repo: RedisRepository, sid: str) -> dict[str, Any]:
    keys, index = repo.keys(sid), repo.index
    owner = raw.hget(index.owner, sid)
    return {
        "session": raw.hgetall(keys.session),
        "messages": raw.zrange(keys.messages, 0, -1, withscores=True),
        "metadata": raw.hgetall(keys.metadata),
        "ttl": [raw.pttl(k) for k in keys],
        "activity": raw.zscore(index.activity, sid),
        "expiry": raw.zscore(index.expiry, sid),
        "ids": raw.zscore(index.ids, sid),
        "owner": owner,
        "owners": None if owner is None else raw.zscore(index.owners, f"{owner}\x00{sid}"),
    }


def _close(a: Any, b: Any) -> bool:
    """Equal, but for deadlines (ms, ``inf``) up to 2 s apart."""
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None or a < 0 or b < 0 or a == float("inf"):
        return a == b
    return abs(a - b) < 2000


@pytest.mark.parametrize("scenario", list(_setup_steps()))
def test_append_fast_path_writes_what_the_general_script_writes(
    redis_backend: Backend, scenario: str
) -> None:
    from pyai.sessions._message import Message, encode_message
    from pyai.sessions._redis import scripts
    from pyai.sessions._repository import WriteContext

    repo, raw = _repo(redis_backend), _raw(redis_backend)
    steps, options = _setup_steps()[scenario]
    fast, general = f"fast-{uuid.uuid4().hex}", f"general-{uuid.uuid4().hex}"
    setup_at = datetime.now(timezone.utc)  # one clock for both sessions' earlier writes
    for sid in (fast, general):
        for step, step_options in steps:
            step_ctx = WriteContext(setup_at, **step_options)
            if step == "add":
                record = encode_message(Message(role="user", content="before", metadata={"n": 1}))
                repo.append(sid, [record], step_ctx)
            elif step == "add15":
                records = [encode_message(Message(role="user", content=str(i))) for i in range(15)]
                repo.append(sid, records, step_ctx)
            elif step == "set":
                repo.set_metadata(sid, "k", '[1,"two"]', step_ctx)
            else:
                raw.delete(repo.keys(sid).session)
    ctx = WriteContext(
        datetime.now(timezone.utc), ttl=options.get("ttl"), user_id=options.get("user_id")
    )
    bodies = [
        encode_message(Message(role="assistant", content=f"reply {i}", name="bot"))
        for i in range(options.get("batch", 1))
    ]
    for sid, script in ((fast, scripts.APPEND), (general, scripts.APPEND_GENERAL)):
        args = repo._write_args(sid, ctx)
        args += [codec.encode_body(codec.iso_from_micros(int(args[0])), body) for body in bodies]
        repo._write(script, sid, args, idempotent=False)
    got, wanted = _state(raw, repo, fast), _state(raw, repo, general)
    # Deadlines come from the server's clock, read by two script calls.
    for deadline in ("ttl", "expiry"):
        got_at, wanted_at = got.pop(deadline), wanted.pop(deadline)
        assert _close(got_at, wanted_at), (deadline, got_at, wanted_at)
    assert got == wanted
    for sid in (fast, general):
        redis_backend.session(sid).delete()


def test_append_to_an_existing_session_over_a_foreign_messages_key(
    redis_backend: Backend,
) -> None:
    raw = _raw(redis_backend)
    s = redis_backend.session(ttl=60)
    s.add_message("user", "mine")
    keys = _repo(redis_backend).keys(s.session_id)
    raw.delete(keys.messages)
    raw.rpush(keys.messages, "theirs")
    before = raw.hgetall(keys.session)
    with pytest.raises(BackendError, match="messages key of the session holds a list"):
        s.add_message("user", "x")
    assert raw.lrange(keys.messages, 0, -1) == ["theirs"]
    assert raw.pttl(keys.messages) == -1
    assert raw.hgetall(keys.session) == before
    raw.delete(keys.messages)
    s.delete()


# -- connections, ownership, passwords ----------------------------------------------------


def test_session_objects_share_one_client(redis_test_url: str) -> None:
    sessions = [RedisSession(f"s{i}", url=redis_test_url) for i in range(1000)]
    assert len({id(s.repository) for s in sessions}) == 1
    repo = sessions[0].repository
    assert isinstance(repo, RedisRepository)
    client = repo.connection.client()
    before = client.info("clients")["connected_clients"]
    for s in sessions[:200]:
        s.add_message("user", "x")
        s.close()
    assert client.info("clients")["connected_clients"] <= before + 2
    # The same server under another prefix: another repository, the same client.
    other = RedisSession("s0", url=redis_test_url, key_prefix="another-prefix")
    assert isinstance(other.repository, RedisRepository)
    assert other.repository is not repo and other.repository.connection is repo.connection
    for s in sessions[:200]:
        RedisSession(s.session_id, url=redis_test_url).delete()


def _named_connections(admin: Any, name: str) -> int:
    return sum(1 for c in admin.client_list() if c.get("name") == name)


def test_each_thread_keeps_one_connection_of_the_shared_pool(
    redis_url: str, redis_test_url: str
) -> None:
    name = f"pyai-pins-{uuid.uuid4().hex[:8]}"
    url = with_query(redis_test_url, client_name=name)
    admin = redis.Redis.from_url(redis_url)
    try:
        s = RedisSession(url=url)
        for i in range(50):
            s.add_message("user", str(i))
            s.get_messages(limit=5)
        assert _named_connections(admin, name) == 1  # one, kept: not one per command

        def work(barrier: threading.Barrier) -> None:
            own = RedisSession(s.session_id, url=url)
            barrier.wait()
            for i in range(20):
                own.add_message("assistant", str(i))

        for _ in range(2):  # threads end; their connections go back to the pool, reused
            barrier = threading.Barrier(4)
            threads = [threading.Thread(target=work, args=(barrier,)) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            gc.collect()
            assert _named_connections(admin, name) <= 5
        assert s.count() == 50 + 2 * 4 * 20
        assert [m.seq for m in s.get_messages()] == list(range(1, 211))
        RedisSession.dispose_clients()  # closes the pool, pinned connections included
        assert _named_connections(admin, name) == 0
        assert s.count() == 210  # and the session object carries on
        s.delete()
    finally:
        admin.close()


def _pinned(session: RedisSession) -> Any:
    repo = session.repository
    assert isinstance(repo, RedisRepository)
    return repo.connection._for_this_thread()


@pytest.mark.parametrize("protocol", ["2", "3"])
def test_a_pinned_connection_replies_as_the_full_client_does(
    redis_url: str, redis_test_url: str, redis_key_prefix: str, protocol: str
) -> None:
    # The pinned client sends plain commands straight to its connection; the replies,
    # reply callbacks included, must be what redis-py's full path gives (RESP2 and 3).
    s = RedisSession(url=with_query(redis_test_url, protocol=protocol), key_prefix=redis_key_prefix)
    s.add_message("user", "héllo")
    s.set("k", [1, 2])
    pinned = _pinned(s)
    full = redis.Redis.from_url(with_query(redis_url, protocol=protocol), decode_responses=True)
    keys = session_keys(redis_key_prefix, s.session_id)
    (member,) = full.zrange(keys.messages, 0, -1)
    commands: list[tuple[Any, ...]] = [
        ("HGETALL", keys.session),  # a callback: a dict, not a flat list
        ("ZRANGE", keys.messages, 0, -1),
        ("ZRANGEBYSCORE", keys.messages, "(0", "+inf", "LIMIT", 0, 1),
        ("EXISTS", keys.metadata, keys.session),
        ("TTL", keys.session),
        ("HGET", keys.metadata, "k"),
        ("ECHO", "é \x00 ☃"),
        ("ZSCORE", keys.messages, member),  # a callback on RESP2: "1" -> 1.0
        ("ZRANGEBYSCORE", keys.messages, 1, 1),  # int arguments
        ("CONFIG GET", "maxmemory-policy"),  # a two-word name; a callback (dict)
        ("PING",),
    ]
    try:
        for command in commands:
            assert pinned.execute_command(*command) == full.execute_command(*command)
        assert isinstance(pinned.execute_command("HGETALL", keys.session), dict)
        assert pinned.execute_command("ZSCORE", keys.messages, member) == 1.0
        # An error reply is raised and leaves the connection in step with the server.
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            pinned.execute_command("LPUSH", keys.session, "x")
        with pytest.raises(redis.exceptions.NoScriptError):
            pinned.execute_command("EVALSHA", "0" * 40, 0)
        assert pinned.execute_command("ECHO", "still in step") == "still in step"
        assert [m.content for m in s.get_messages()] == ["héllo"]
    finally:
        full.close()
        s.delete()


def test_a_lost_pinned_connection_is_dropped_and_replaced(
    redis_url: str, redis_test_url: str
) -> None:
    name = f"pyai-lost-{uuid.uuid4().hex[:8]}"
    s = RedisSession(url=with_query(redis_test_url, client_name=name))
    admin = redis.Redis.from_url(redis_url)
    try:
        s.add_message("user", "first")
        first = _pinned(s).client_id()
        admin.client_kill_filter(_id=first)
        with pytest.raises(BackendUnavailableError, match="may or may not have been applied"):
            s.add_message("user", "second")  # an append is never re-sent
        assert [m.content for m in s.get_messages()] == ["first"]  # a new connection
        second = _pinned(s).client_id()
        assert second != first
        admin.client_kill_filter(_id=second)
        assert s.count() == 1  # a read is retried once
        assert _named_connections(admin, name) == 1
        s.delete()
    finally:
        RedisSession.dispose_clients()
        admin.close()


def test_a_maintenance_notice_drops_the_pinned_socket(redis_test_url: str) -> None:
    s = RedisSession(url=redis_test_url)
    try:
        s.add_message("user", "before")
        connection = _pinned(s).connection
        if not hasattr(connection, "mark_for_reconnect"):
            pytest.skip(f"redis-py {redis.__version__} has no maintenance notices (7.0+)")
        before = _pinned(s).client_id()
        connection.mark_for_reconnect()  # what redis-py does on a server's notice
        assert s.add_message("user", "after").seq == 2  # answered, then the socket dropped
        assert _pinned(s).client_id() != before
    finally:
        s.delete()


def test_a_forked_child_never_uses_the_parents_connection(redis_test_url: str) -> None:
    s = RedisSession(url=redis_test_url)
    s.add_message("user", "from the parent")  # pins this thread's connection
    pid = os.fork()
    if pid == 0:  # the child: a reply read off the parent's socket would be stolen
        code = 1
        try:
            child = RedisSession(s.session_id, url=redis_test_url)
            stored = [child.add_message("user", f"child {i}").content for i in range(200)]
            mine = [m.content for m in child.get_messages() if m.role == "user"][1:]
            code = 0 if stored == mine == [f"child {i}" for i in range(200)] else 2
        finally:
            os._exit(code)
    for i in range(200):
        assert s.add_message("assistant", f"parent {i}").content == f"parent {i}"
        assert s.get_messages(limit=1)[0].role in ("user", "assistant")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s.count() == 401
    s.delete()


def test_caller_owned_client_is_never_closed(redis_url: str, redis_key_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url, single_connection_client=True)
    try:
        me = client.client_id()
        s = RedisSession("owned", client=client, key_prefix=redis_key_prefix)
        s.add_message("user", "x")
        assert [m.content for m in s.get_messages()] == ["x"]  # bytes replies work too
        assert s.export()["messages"][0]["content"] == "x"
        s.delete()
        s.close()
        RedisSession.dispose_clients()
        assert client.connection is not None
        assert client.client_id() == me  # the very same connection, still open
        assert RedisSession("again", client=client, key_prefix=redis_key_prefix).repository is (
            s.repository
        )
    finally:
        client.close()


def test_the_registry_keeps_no_caller_client_alive(redis_url: str) -> None:
    import gc
    import weakref

    client = redis.Redis.from_url(redis_url)
    session = RedisSession("x", client=client)
    assert session.repository is RedisSession("y", client=client).repository
    gone = weakref.ref(client)
    client.close()
    del client, session
    gc.collect()
    assert gone() is None


def test_client_and_connection_arguments_exclude_each_other(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        with pytest.raises(ConfigurationError):
            RedisSession("x", client=client, url=redis_url)
        with pytest.raises(ConfigurationError):
            RedisSession("x", client=client, password="pw")
        with pytest.raises(ConfigurationError, match="RedisCluster"):
            RedisSession("x", client=client, cluster=True)
        with pytest.raises(ConfigurationError):
            RedisSession("x", client=object())
    finally:
        client.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"url": "http://127.0.0.1:6379"}, "redis://"),
        ({"url": "redis://127.0.0.1:notaport"}, "parse"),
        ({"url": "redis://127.0.0.1?cluster=maybe"}, "cluster"),
        ({"host": "127.0.0.1", "cluster": True, "db": 3}, "database 0"),
        ({"host": "127.0.0.1", "no_such_option": 1}, "no_such_option"),
        ({"url": "redis://127.0.0.1/0?no_such_param=1"}, "no_such_param"),
        ({"url": "redis://127.0.0.1:7000/3?cluster=true"}, "database 0"),
        ({"url": "redis://127.0.0.1:7000/x?cluster=true"}, "database number"),
    ],
)
def test_bad_configuration(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        RedisSession("x", **kwargs)


def test_unreachable_server_names_host_and_port(caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()
    s = RedisSession("x", host="127.0.0.1", port=port, socket_connect_timeout=1)
    started = time.monotonic()
    for call in (lambda: s.add_message("user", "x"), s.get_messages, s.count, s.delete):
        with pytest.raises(BackendUnavailableError) as info:
            call()
        assert f"127.0.0.1:{port}" in str(info.value)
        assert "tried twice" in str(info.value)  # a connect failure is safe to retry
        assert isinstance(info.value.__cause__, redis.ConnectionError)
    assert time.monotonic() - started < 5  # no backoff loop


@pytest.mark.parametrize(
    "make",
    [
        lambda port, pw: RedisSession("x", url=f"redis://:{pw}@127.0.0.1:{port}/0"),
        lambda port, pw: RedisSession("x", url=f"redis://user:{pw}@127.0.0.1:{port}/2"),
        lambda port, pw: RedisSession("x", url=f"rediss://:{pw}@127.0.0.1:{port}/0"),
        lambda port, pw: RedisSession("x", url=f"redis://127.0.0.1:{port}/0?password={pw}"),
        lambda port, pw: RedisSession("x", host="127.0.0.1", port=port, password=pw),
        lambda port, pw: open_session(f"redis://:{pw}@127.0.0.1:{port}/0", "x"),
    ],
    ids=["url", "url-user", "rediss", "url-query", "host", "open_session"],
)
def test_password_never_shown(make: Any, caplog: pytest.LogCaptureFixture) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    port = _closed_port()
    caplog.set_level(logging.DEBUG)
    s = make(port, password)
    texts = [repr(s), str(s), s.location, repr(s.repository)]
    with pytest.raises(BackendUnavailableError) as info:
        s.add_message("user", "x")
    error = info.value
    texts += [str(error), repr(error), str(error.__cause__), caplog.text]
    assert f"127.0.0.1:{port}" in str(error)
    assert not [t for t in texts if password in t]


def test_wrong_password_on_a_real_server(redis_servers: RedisServers) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    port = redis_servers.start("--requirepass", password)
    good = RedisSession("x", url=f"redis://:{password}@127.0.0.1:{port}/0")
    good.add_message("user", "x")
    assert good.count() == 1
    bad = RedisSession("x", url=f"redis://:not-{password}@127.0.0.1:{port}/0")
    with pytest.raises(BackendUnavailableError) as info:
        bad.count()
    assert f"127.0.0.1:{port}" in str(info.value) and "credentials" in str(info.value)
    assert password not in str(info.value) and password not in repr(bad)


def test_a_cluster_node_without_cluster_mode_says_so(redis_cluster_url: str) -> None:
    plain = redis_cluster_url.replace("cluster=true", "cluster=false")
    errors = []
    for i in range(10):
        try:
            open_session(plain, f"s{i}").add_message("user", "x")
        except BackendError as exc:
            errors.append(str(exc))
    assert errors and all("cluster=True" in e for e in errors)


def test_safe_url_hides_passwords() -> None:
    assert safe_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert safe_url("rediss://u:pw@h:1/0") == "rediss://u:***@h:1/0"
    assert safe_url("redis://h:1/0?password=pw&db=1") == "redis://h:1/0?password=***&db=1"
    assert safe_url("redis://u@h:1") == "redis://u@h:1"


def test_rediss_url_uses_tls(redis_test_url: str) -> None:
    s = open_session(redis_test_url.replace("redis://", "rediss://", 1), "x", ssl_cert_reqs=None)
    assert isinstance(s, RedisSession) and s.location.startswith("rediss://")
    repo = s.repository
    assert isinstance(repo, RedisRepository)
    pool = repo.connection.client().connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["ssl_cert_reqs"] is None  # options pass through


def test_lost_connection_during_append_is_not_retried(
    redis_url: str, redis_key_prefix: str
) -> None:
    # The caller's client, with redis-py's own retries off: pyai decides.
    client = redis.Redis.from_url(
        redis_url, single_connection_client=True, retry=Retry(NoBackoff(), 0)
    )
    admin = redis.Redis.from_url(redis_url)
    try:
        s = RedisSession(client=client, key_prefix=redis_key_prefix)
        s.add_message("user", "first")
        admin.client_kill_filter(_id=client.client_id())
        with pytest.raises(BackendUnavailableError, match="may or may not have been applied"):
            s.add_message("user", "second")
        # Not re-sent: nothing was appended twice (here the server had closed first).
        assert [m.content for m in s.get_messages()] == ["first"]
        admin.client_kill_filter(_id=client.client_id())
        assert s.count() == 1  # a read is retried once, on a new connection
        s.delete()
    finally:
        client.close()
        admin.close()


def test_connect_failures_and_lost_connections_are_told_apart(redis_url: str) -> None:
    refused = redis.Redis(port=_closed_port(), retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.ConnectionError) as connect_error:
        refused.ping()
    refused.close()
    assert _never_sent(connect_error.value)

    client = redis.Redis.from_url(
        redis_url, single_connection_client=True, retry=Retry(NoBackoff(), 0)
    )
    admin = redis.Redis.from_url(redis_url)
    try:
        client.ping()
        admin.client_kill_filter(_id=client.client_id())
        with pytest.raises(redis.ConnectionError) as lost:
            client.ping()
        assert not _never_sent(lost.value)
    finally:
        client.close()
        admin.close()


def test_scripts_are_loaded_again_after_a_flush(redis_servers: RedisServers) -> None:
    port = redis_servers.start()
    url = f"redis://127.0.0.1:{port}/0"
    s = RedisSession("x", url=url)
    s.add_message("user", "a")
    raw = redis.Redis(port=port)
    try:
        raw.script_flush()
    finally:
        raw.close()
    s.add_message("user", "b")  # NOSCRIPT: loaded and called again, once
    assert [m.content for m in s.get_messages()] == ["a", "b"]


# -- the optional extra --------------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_import_pyai_sessions_does_not_import_redis() -> None:
    done = _python("import sys, pyai.sessions; print('redis' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_missing_redis_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from pyai.sessions import open_session\n"
        "from pyai.sessions.errors import ConfigurationError\n"
        "for attempt in (lambda: open_session('redis://127.0.0.1'),\n"
        "                lambda: __import__('pyai.sessions').sessions.RedisSession):\n"
        "    try:\n"
        "        attempt()\n"
        "    except ConfigurationError as exc:\n"
        "        print(exc)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and all("pip install 'pyai[redis]'" in line for line in lines)


# -- moving sessions ----------------------------------------------------------------------


def test_sqlite_export_imports_into_redis_unchanged(tmp_path: Path, redis_test_url: str) -> None:
    source = SQLiteSession(str(tmp_path / "s.db"), "migrated", user_id="alice")
    source.add_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "héllo", "metadata": {"lang": "fr"}},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function"}],
            },
            {"role": "tool", "content": "ok", "tool_call_id": "c1", "name": ""},
        ]
    )
    source.pop_message()
    source.set("title", "Greeting")
    data = json.loads(json.dumps(source.export()))
    target = RedisSession("migrated", url=redis_test_url)
    target.delete()
    assert target.import_data(data) == 3
    again = target.export()
    for key in ("session_id", "messages", "metadata", "user_id", "expires_at"):
        assert again[key] == data[key], key
    assert target.get_messages() == source.get_messages()
    # A document carries positions, not the counter: the next follows the highest.
    assert target.add_message("user", "next").seq == 4
    with pytest.raises(SessionExistsError):
        target.import_data(data)
    target.delete()
    source.close()


# -- several processes, one session: tests/backends/test_process_concurrency.py runs on
# both Redis backends (4 processes x 250 appends, singles and batches).


def test_test_urls_carry_the_run_prefix(redis_test_url: str, redis_key_prefix: str) -> None:
    assert RedisSession("x", url=redis_test_url).key_prefix == redis_key_prefix
    assert RedisSession("x", url=with_query(redis_test_url), key_prefix="explicit").key_prefix == (
        "explicit"
    )


def test_redis_values_hold_no_plaintext(redis_backend: Backend) -> None:
    """Encryption at rest: no message content or metadata value is readable in Redis."""
    from pyai.sessions import generate_key

    s = redis_backend.session(encryption_key=generate_key())
    s.add_message("user", "PLAINTEXT-CANARY", metadata={"m": "PLAINTEXT-CANARY"})
    s.set("k", {"v": "PLAINTEXT-CANARY"})
    raw = _raw(redis_backend)
    dump = []
    prefix = _repo(redis_backend).key_prefix
    for key in raw.scan_iter(match=f"{prefix}:*", count=1000):
        kind = raw.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "zset":
            dump.append(repr(raw.zrange(key, 0, -1)))
        elif kind == "hash":
            dump.append(repr(raw.hgetall(key)))
        elif kind == "string":
            dump.append(repr(raw.get(key)))
    text = "".join(dump)
    assert s.session_id in text  # the session's keys were read
    assert "PLAINTEXT-CANARY" not in text
    assert [m.content for m in s.get_messages()] == ["PLAINTEXT-CANARY"]
