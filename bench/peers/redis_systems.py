"""The systems measured on Redis (keys under a prefix unique to the run, deleted after).

"Durable on return" means acknowledged by the server, for every system alike: what
survives a crash after that is the server's persistence setting (``appendfsync``), which
no client library changes.
"""

from __future__ import annotations

import json
from typing import Any

from bench.peers.sqlite_systems import (
    LangChainHandle,
    OpenAIHandle,
    PyaiHandle,
    PyaiSystem,
    langchain_rows,
    openai_fill,
)
from bench.peers.systems import TURN, Handle, System, batch, langchain_message
from bench.peers.timing import run

# -- raw redis-py: the floor --------------------------------------------------------------
# One list per session, one JSON string per message: RPUSH appends atomically in one
# round trip and its reply (the new length) is the position of the last message pushed.


def _client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


class RawRedisHandle(Handle):
    def __init__(self, client: Any, key: str, ttl: int | None = None) -> None:
        self.r, self.key, self.ttl = client, key, ttl

    def add_one(self, text: str) -> int:
        item = json.dumps({"role": "user", "content": text})
        if self.ttl is None:
            return int(self.r.rpush(self.key, item))
        # With a ttl: RPUSH + EXPIRE in one round trip (a pipeline, no transaction).
        pipe = self.r.pipeline(transaction=False)
        pipe.rpush(self.key, item)
        pipe.expire(self.key, self.ttl)
        return int(pipe.execute()[0])

    def add_batch(self, items: list[dict[str, str]]) -> int:
        return int(self.r.rpush(self.key, *[json.dumps(m) for m in items]))

    def tail(self, n: int) -> list[Any]:
        return [json.loads(x) for x in self.r.lrange(self.key, -n, -1)]

    def read_all(self) -> list[Any]:
        return [json.loads(x) for x in self.r.lrange(self.key, 0, -1)]

    def contents(self) -> list[Any]:
        return [m["content"] for m in self.read_all()]


class RawRedis(System):
    """redis-py (hiredis parser) on one list per session; one client per process."""

    name = "raw redis-py"
    kind = "raw"

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url=url, prefix=prefix)
        self.prefix = f"{prefix}-raw:"
        self.r = _client(url)

    def open(self, session_id: str) -> RawRedisHandle:
        return RawRedisHandle(self.r, self.prefix + session_id)

    def open_expiring(self, session_id: str, ttl: int) -> RawRedisHandle:
        return RawRedisHandle(self.r, self.prefix + session_id, ttl)

    def fill(self, session_id: str, n: int) -> None:
        h = self.open(session_id)
        for start in range(0, n, 1000):
            h.add_batch(batch(min(1000, n - start), str(start)))

    def user(self, session_id: str) -> int:
        h = self.open(session_id)
        h.add_batch(TURN)
        return len(h.read_all())

    def close(self) -> None:
        self.r.close()


# -- pyai ---------------------------------------------------------------------------------


class PyaiRedis(PyaiSystem):
    """``pyai.sessions.RedisSession(session_id, url=..., key_prefix=...)``."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url=url, prefix=prefix)
        self.url, self.prefix = url, f"{prefix}-pyai"

    def _make(self, session_id: str, ttl: int | None = None) -> Any:
        from pyai.sessions import RedisSession

        return RedisSession(session_id, url=self.url, key_prefix=self.prefix, ttl=ttl)

    def open_expiring(self, session_id: str, ttl: int) -> Handle:
        return PyaiHandle(self._make(session_id, ttl))

    def close(self) -> None:
        from pyai.sessions import RedisSession

        RedisSession.dispose_clients()


# -- peers --------------------------------------------------------------------------------


class OpenAIRedis(System):
    """``agents.extensions.memory.RedisSession.from_url(session_id, url=...)`` (asyncio)."""

    name = "OpenAI RedisSession"
    kind = "peer"
    asynchronous = True

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url=url, prefix=prefix)
        self.url, self.prefix = url, f"{prefix}-openai"

    def _make(self, session_id: str, ttl: int | None = None) -> Any:
        from agents.extensions.memory import RedisSession

        return RedisSession.from_url(session_id, url=self.url, key_prefix=self.prefix, ttl=ttl)

    def open(self, session_id: str) -> OpenAIHandle:
        return OpenAIHandle(self._make(session_id))

    def open_expiring(self, session_id: str, ttl: int) -> OpenAIHandle:
        return OpenAIHandle(self._make(session_id, ttl))

    def fill(self, session_id: str, n: int) -> None:
        s = self._make(session_id)
        run(openai_fill(s, n))
        run(s.close())

    async def user(self, session_id: str) -> int:
        s = self._make(session_id)
        try:
            await s.add_items(list(TURN))
            return len(await s.get_items())
        finally:
            await s.close()


class LangChainRedisHandle(LangChainHandle):
    def close(self) -> None:
        self.h.redis_client.close()


class LangChainRedis(System):
    """``RedisChatMessageHistory(session_id, url=...)`` (langchain-community).

    Its ``add_messages`` pushes messages one LPUSH at a time; the fill pushes the same
    strings in one pipeline so that building a 100,000-message history stays quick.
    """

    name = "LangChain RedisChatMessageHistory"
    kind = "peer"

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url=url, prefix=prefix)
        self.url, self.prefix = url, f"{prefix}-langchain:"

    def _make(self, session_id: str, ttl: int | None = None) -> Any:
        from langchain_community.chat_message_histories import RedisChatMessageHistory

        return RedisChatMessageHistory(session_id, url=self.url, key_prefix=self.prefix, ttl=ttl)

    def open(self, session_id: str) -> LangChainRedisHandle:
        return LangChainRedisHandle(self._make(session_id))

    def open_expiring(self, session_id: str, ttl: int) -> LangChainRedisHandle:
        return LangChainRedisHandle(self._make(session_id, ttl))

    def fill(self, session_id: str, n: int) -> None:
        h = self._make(session_id)
        rows = langchain_rows(n)
        with h.redis_client.pipeline(transaction=False) as pipe:
            for start in range(0, n, 1000):
                pipe.lpush(h.key, *rows[start : start + 1000])
            pipe.execute()
        h.redis_client.close()

    def user(self, session_id: str) -> int:
        h = self._make(session_id)
        try:
            h.add_messages([langchain_message(m) for m in TURN])
            return len(h.messages)
        finally:
            h.redis_client.close()


def systems(url: str, prefix: str) -> list[System]:
    """Every system on the Redis server at ``url``; every key starts with ``prefix``."""
    import pyai.sessions

    found: list[System] = [RawRedis(url, prefix)]
    if hasattr(pyai.sessions, "RedisSession"):
        found.append(PyaiRedis(url, prefix))
    return [*found, OpenAIRedis(url, prefix), LangChainRedis(url, prefix)]


def delete_keys(url: str, prefix: str) -> int:
    """Delete every key under ``prefix``; returns how many there were."""
    r = _client(url)
    try:
        deleted = 0
        batch_: list[Any] = []
        for key in r.scan_iter(match=f"{prefix}*", count=1000):
            batch_.append(key)
            if len(batch_) >= 1000:
                deleted += r.unlink(*batch_)
                batch_ = []
        if batch_:
            deleted += r.unlink(*batch_)
        return deleted
    finally:
        r.close()
