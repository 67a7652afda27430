"""Every Redis key pyai uses, built in one function: :func:`session_keys`.

A session ``S`` stored under the key prefix ``P`` (default ``pyai``) is three keys::

    P:{S}:session    HASH  bookkeeping: v (layout version), last_seq, created_at,
                           updated_at, expires_at, user_id
    P:{S}:messages   ZSET  one member per message, scored by its position (seq)
    P:{S}:metadata   HASH  metadata key -> JSON text

``{S}`` is a Redis Cluster hash tag: Redis hashes only the text between the first ``{``
and the next ``}``, so the three keys of a session share one slot and a script may touch
all of them (no CROSSSLOT). Session ids are arbitrary text, so ``%``, ``{`` and ``}`` in
an id are percent-escaped: an unescaped ``}`` would end the tag early, or leave it empty
(``{}``, which makes Redis hash the whole key) and split one session across slots. The
escaping is one-to-one, so distinct ids never share a key.

The session index of a prefix (for listing sessions) is five more keys, all tagged
``{P}`` so that they share a slot of their own (see :func:`index_keys` and
docs/redis.md)::

    P:index:{P}:activity  ZSET  session id, scored by updated_at (microseconds)
    P:index:{P}:ids       ZSET  session id, score 0 (id order, for export paging)
    P:index:{P}:expiry    ZSET  session id, scored by its expiry (ms) or +inf
    P:index:{P}:owner     HASH  session id -> user_id
    P:index:{P}:owners    ZSET  "<user_id> NUL <session id>", score 0 (per-owner ranges)
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_PREFIX",
    "IndexKeys",
    "SessionKeys",
    "check_prefix",
    "index_keys",
    "session_keys",
]

DEFAULT_PREFIX = "pyai"

_ESCAPES = str.maketrans({"%": "%25", "{": "%7B", "}": "%7D"})


class SessionKeys(NamedTuple):
    """The keys of one session, in the order every script takes them (KEYS[1..3])."""

    session: str
    messages: str
    metadata: str


def check_prefix(prefix: object) -> str:
    """Validate a key prefix; returns it unchanged.

    Raises:
        ConfigurationError: not a non-empty string, or it contains ``{`` or ``}`` (a
            brace in the prefix would take the hash tag away from the session id).
    """
    if not isinstance(prefix, str) or not prefix:
        raise ConfigurationError(f"key_prefix must be a non-empty string, got {prefix!r}")
    if "{" in prefix or "}" in prefix:
        raise ConfigurationError(
            f"key_prefix {prefix!r} contains a brace; pyai puts the session id in the "
            "key's {hash tag}, so the prefix must not contain '{' or '}'"
        )
    return prefix


@lru_cache(maxsize=4096)
@lru_cache(maxsize=4096)
def session_keys(prefix: str, session_id: str) -> SessionKeys:
    """The keys of ``session_id`` under ``prefix`` (already validated; cached: a session
    is written and read many times)."""
    base = f"{prefix}:{{{session_id.translate(_ESCAPES)}}}:"
    return SessionKeys(base + "session", base + "messages", base + "metadata")


class IndexKeys(NamedTuple):
    """The session index of one key prefix (KEYS[1..5] of the index scripts)."""

    activity: str
    ids: str
    expiry: str
    owner: str
    owners: str


@lru_cache(maxsize=64)
def index_keys(prefix: str) -> IndexKeys:
    """The index keys of ``prefix`` (already validated).

    ``P:index:{P}:...`` shares one hash tag, so one script updates the whole index; it
    never collides with a session key, which continues ``P:{`` where this continues
    ``P:i``.
    """
    base = f"{prefix}:index:{{{prefix}}}:"
    return IndexKeys(
        base + "activity", base + "ids", base + "expiry", base + "owner", base + "owners"
    )
