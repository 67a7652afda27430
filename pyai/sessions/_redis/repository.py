"""The repository contract (:mod:`pyai.sessions._repository`) on Redis and Redis Cluster.

Where things are: key names in :mod:`.keys`, the Lua scripts in :mod:`.scripts`, the
message encoding in :mod:`.codec`, clients and the retry/error policy in :mod:`.clients`.

Messages live in one sorted set per session, scored by position, each member holding
the whole encoded message. That makes every read one command that touches only what it
returns: the last N is ``ZRANGE key -N -1`` and a page after a cursor is
``ZRANGEBYSCORE key (seq +inf LIMIT 0 N``, both O(log n + N) whatever the history
length; ``pop`` is ``ZPOPMAX`` and ``count`` is ``ZCARD`` (O(1)). A list would make the
tail as cheap but not the cursor page (positions have gaps after ``pop``, so a list index
is not a position), and a hash of messages next to a sorted set of positions would need
two reads, or a script, per page.

Writes are one script call each (one round trip, atomic; positions assigned inside).
Expiry is Redis's own: every key of a session carries the same deadline, so an expired
session is gone as a whole and reads as empty without pyai looking at any clock; the
``now`` arguments of the reads are unused.

The session index (listing) may hold entries of sessions that expired: every listing
checks each candidate against the session's own keys, returns only live ones, and drops
the stale entries; :meth:`RedisRepository.prune_expired` sweeps them by expiry.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from redis.exceptions import AskError, ClusterCrossSlotError, NoScriptError, ResponseError

from .._message import Message, MessageRecord, decode_json
from .._repository import (
    ImportMode,
    SessionInfo,
    SessionSnapshot,
    StoredMessage,
    WriteContext,
)
from ..errors import BackendError, SessionError, SessionExistsError
from . import scripts
from .codec import decode_members, encode_body, from_micros, iso_from_micros, text, to_micros
from .keys import IndexKeys, SessionKeys, index_keys, session_keys

if TYPE_CHECKING:
    from .clients import RedisConnection

__all__ = ["RedisRepository"]

log = logging.getLogger("pyai.sessions")

T = TypeVar("T")

_INFINITY = "+inf"
# Index entries one LIST call examines at most: bounds how long a listing with a rare
# prefix holds the server (Redis runs one script at a time).
_LIST_BUDGET = 2000
_SWEEP_PAGE = 500
_GONE = "gone"
_MICROSECOND = timedelta(microseconds=1)


@lru_cache(maxsize=64)
def _ttl_parts(ttl: float) -> tuple[str, int]:
    """A ttl as the scripts' argument (ms) and as whole microseconds (for expires_at).

    Whole milliseconds, at least 1 (an expiry at "now" would delete what was just
    written); the nudge keeps float error (0.4 * 1000 = 400.00000000000006) from adding
    one. The microseconds are those ``now + timedelta(seconds=ttl)`` adds (cached: a
    process uses a few ttls).
    """
    return str(max(1, math.ceil(ttl * 1000 - 1e-6))), timedelta(seconds=ttl) // _MICROSECOND


class _On(NamedTuple):
    """What a call is doing to a session, for error messages: formatted only then."""

    action: str
    session_id: str

    def __str__(self) -> str:
        return f"{self.action} on session {self.session_id!r}"


class RedisRepository:
    """Sessions in Redis (a server or a cluster) under one key prefix.

    Build it through :class:`~pyai.sessions.RedisSession` (or the registry in
    :mod:`.clients`), which shares one repository per server and prefix.

    Args:
        connection: the client and how to name its server.
        key_prefix: the first part of every key (validated).

    Thread safety: every method is one command or one script call on a thread-safe
    client (listing: a few, see the module docstring).
    """

    def __init__(self, connection: RedisConnection, key_prefix: str) -> None:
        self._connection = connection
        self._prefix = key_prefix
        self._index = index_keys(key_prefix)

    @property
    def key_prefix(self) -> str:
        """The first part of every key this repository writes."""
        return self._prefix

    @property
    def location(self) -> str:
        """The server, password hidden."""
        return self._connection.location

    @property
    def connection(self) -> RedisConnection:
        """The client this repository uses."""
        return self._connection

    def keys(self, session_id: str) -> SessionKeys:
        """The keys of ``session_id`` (see :mod:`.keys`)."""
        return session_keys(self._prefix, session_id)

    @property
    def index(self) -> IndexKeys:
        """The keys of this prefix's session index (see :mod:`.keys`)."""
        return self._index

    def __repr__(self) -> str:
        return f"RedisRepository({self.location!r}, key_prefix={self._prefix!r})"

    # -- calls and errors ------------------------------------------------------------------

    def _run(self, subject: object, operation: Callable[[Any], T], *, idempotent: bool) -> T:
        try:
            return self._connection.run(operation, idempotent=idempotent, what=subject)
        except ResponseError as exc:
            raise self._refusal(subject, exc) from exc

    def _eval(
        self,
        script: scripts.LuaScript,
        keys: Sequence[str],
        args: Sequence[str | bytes],
        *,
        idempotent: bool,
        subject: object,
    ) -> Any:
        """Call ``script``; ``subject`` says what for in errors (formatted only then)."""
        numkeys = len(keys)

        def call(client: Any) -> Any:
            try:
                return client.execute_command("EVALSHA", script.sha, numkeys, *keys, *args)
            except NoScriptError:
                # First use on this server (or after SCRIPT FLUSH / a restart): the
                # refused call ran nothing, so loading and calling again is safe.
                client.script_load(script.text)
                return client.execute_command("EVALSHA", script.sha, numkeys, *keys, *args)

        return self._run(subject, call, idempotent=idempotent)

    def _write(
        self, script: scripts.LuaScript, session_id: str, args: list[str], *, idempotent: bool
    ) -> Any:
        """Run a write script; returns its result and keeps the index up to date."""
        about = _On(script.name, session_id)
        keys = self.keys(session_id)
        if not self._connection.cluster:
            return self._eval(
                script, (*keys, *self._index), args, idempotent=idempotent, subject=about
            )
        result, owner, change = self._eval(script, keys, args, idempotent=idempotent, subject=about)
        if change is not None:
            self._apply_index(session_id, text(change), owner, now=args[0], ttl_ms=args[1])
        return result

    def _apply_index(
        self, session_id: str, change: str, owner: Any, *, now: str, ttl_ms: str
    ) -> None:
        # On a cluster the index is in another slot: a second step, after the write. The
        # write is durable either way, so a failure here is logged, not raised (raising
        # would invite a retry that appends twice); listing tolerates the stale entry.
        args = [change, session_id, now, ttl_ms, "" if owner is None else text(owner)]
        try:
            self._eval(
                scripts.INDEX_APPLY,
                self._index,
                args,
                idempotent=True,
                subject=f"{scripts.INDEX_APPLY.name} for session {session_id!r}",
            )
        except SessionError as exc:
            log.warning(
                "session %r was written but its entry in the session index was not "
                "updated (listings may miss it until its next write): %s",
                session_id,
                exc,
            )

    def _command(self, session_id: str, *command: Any) -> Any:
        return self._run(
            _On(command[0], session_id),
            lambda client: client.execute_command(*command),
            idempotent=True,
        )

    def _refusal(self, subject: object, exc: ResponseError) -> SessionError:
        message = str(exc)
        if "PYAI_FOREIGN_KEY" in message:
            which, _, kind = message.split("PYAI_FOREIGN_KEY ", 1)[1].partition(" ")
            held = "a hash pyai did not write" if kind == "hash" else f"a {kind}"
            return BackendError(
                f"{self._key_named(which)} holds {held}; pyai refuses to touch it "
                f"({subject}). Another application may use this name: choose another "
                "key_prefix, or delete the key if it is stale."
            )
        if message.startswith("WRONGTYPE"):
            return BackendError(
                f"a key holds another type of value than pyai writes ({subject}); another "
                "application may use this name: choose another key_prefix, or delete the "
                "key if it is stale."
            )
        if isinstance(exc, AskError | ClusterCrossSlotError):  # MovedError is an AskError
            return BackendError(
                f"Redis at {self._connection.address} is a Redis Cluster node ({subject}: "
                f"{type(exc).__name__}); connect with cluster=True, or add ?cluster=true "
                "to the URL"
            )
        if "PYAI_SESSION_EXISTS" in message:
            held = message.rsplit(" ", 1)[-1]
            return SessionExistsError(
                f"the session already has {held} messages ({subject}); "
                "import with mode='replace' or mode='append'"
            )
        return BackendError(
            f"Redis at {self._connection.address} ({subject}): {self._connection.scrub(message)}"
        )

    def _key_named(self, which: str) -> str:
        if which.startswith("index:"):
            return f"index key {getattr(self._index, which[6:], which)!r}"
        return f"the {which} key of the session"

    def _decode(self, session_id: str, members: Sequence[Any]) -> list[Message]:
        try:
            return decode_members(members)
        except ValueError as exc:
            raise BackendError(
                f"{self.keys(session_id).messages!r} holds a member pyai did not write "
                f"({exc}); delete the key or use another key_prefix"
            ) from exc

    @staticmethod
    def _write_args(session_id: str, ctx: WriteContext, now: int | None = None) -> list[str]:
        """The five arguments every write script starts with (``now``: ``ctx.now`` in
        microseconds, when the caller has it already)."""
        if now is None:
            now = to_micros(ctx.now)
        if ctx.ttl is None:
            return [str(now), "", "", ctx.user_id or "", session_id]
        ttl_ms, ttl_us = _ttl_parts(ctx.ttl)
        return [str(now), ttl_ms, str(now + ttl_us), ctx.user_id or "", session_id]

    def _info(self, session_id: str, row: Sequence[Any], now: datetime) -> SessionInfo:
        created, updated, expires, user_id, last_seq, count = row[:6]
        # created_at/updated_at are missing only if an eviction policy removed the
        # session hash alone; the session then reads as if it started now.
        return SessionInfo(
            session_id=session_id,
            user_id=None if user_id is None else text(user_id),
            created_at=now if created is None else from_micros(int(created)),
            updated_at=now if updated is None else from_micros(int(updated)),
            expires_at=None if expires is None else from_micros(int(expires)),
            message_count=int(count),
            last_seq=0 if last_seq is None else int(last_seq),
        )

    # -- the contract: one session ---------------------------------------------------------

    def append(self, session_id: str, records: Sequence[MessageRecord], ctx: WriteContext) -> int:
        now = to_micros(ctx.now)
        args = self._write_args(session_id, ctx, now)
        created_at = iso_from_micros(now)
        args.extend([encode_body(created_at, record) for record in records])
        return int(self._write(scripts.APPEND, session_id, args, idempotent=False))

    def read(
        self, session_id: str, *, now: datetime, limit: int | None = None, after: int | None = None
    ) -> list[Message]:
        key = self.keys(session_id).messages
        if limit == 0:
            return []
        if after is not None:
            if limit is None:
                members = self._command(session_id, "ZRANGEBYSCORE", key, f"({after}", _INFINITY)
            else:
                members = self._command(
                    session_id, "ZRANGEBYSCORE", key, f"({after}", _INFINITY, "LIMIT", 0, limit
                )
        elif limit is not None:
            members = self._command(session_id, "ZRANGE", key, -limit, -1)
        else:
            members = self._command(session_id, "ZRANGE", key, 0, -1)
        return self._decode(session_id, members)

    def pop(
        self, session_id: str, ctx: WriteContext, *, expect_seq: int | None = None
    ) -> Message | None:
        args = self._write_args(session_id, ctx)
        args.append("" if expect_seq is None else str(expect_seq))
        member = self._write(scripts.POP, session_id, args, idempotent=False)
        return None if member is None else self._decode(session_id, [member])[0]

    def count(self, session_id: str, *, now: datetime) -> int:
        return int(self._command(session_id, "ZCARD", self.keys(session_id).messages))

    def clear(self, session_id: str, ctx: WriteContext) -> None:
        self._write(scripts.CLEAR, session_id, self._write_args(session_id, ctx), idempotent=True)

    def delete(self, session_id: str, *, now: datetime) -> bool:
        args = [str(to_micros(now)), "", "", "", session_id]
        return int(self._write(scripts.DELETE, session_id, args, idempotent=True)) > 0

    def set_metadata(self, session_id: str, key: str, value_json: str, ctx: WriteContext) -> None:
        args = self._write_args(session_id, ctx)
        args += [key, value_json]
        self._write(scripts.SET_METADATA, session_id, args, idempotent=True)

    def unset_metadata(self, session_id: str, key: str, ctx: WriteContext) -> bool:
        args = self._write_args(session_id, ctx)
        args.append(key)
        return int(self._write(scripts.UNSET_METADATA, session_id, args, idempotent=True)) > 0

    def get_metadata(self, session_id: str, *, now: datetime) -> dict[str, Any]:
        stored = self._command(session_id, "HGETALL", self.keys(session_id).metadata)
        return {text(k): decode_json(text(v)) for k, v in stored.items()}

    def _read_script(self, script: scripts.LuaScript, session_id: str) -> Any:
        """Run a read script on the session's keys (no arguments)."""
        subject = _On(script.name, session_id)
        return self._eval(script, self.keys(session_id), (), idempotent=True, subject=subject)

    def info(self, session_id: str, *, now: datetime) -> SessionInfo | None:
        row = self._read_script(scripts.INFO, session_id)
        return None if row is None else self._info(session_id, row, now)

    def snapshot(self, session_id: str, *, now: datetime) -> SessionSnapshot | None:
        row = self._read_script(scripts.SNAPSHOT, session_id)
        if row is None:
            return None
        flat = row[7]
        metadata = {text(flat[i]): decode_json(text(flat[i + 1])) for i in range(0, len(flat), 2)}
        return SessionSnapshot(
            info=self._info(session_id, row, now),
            messages=self._decode(session_id, row[6]),
            metadata=metadata,
        )

    def import_session(
        self,
        session_id: str,
        messages: Sequence[StoredMessage],
        metadata: dict[str, str],
        mode: ImportMode,
        ctx: WriteContext,
    ) -> int:
        args = self._write_args(session_id, ctx)
        args += [mode, str(len(metadata))]
        for key, value_json in metadata.items():
            args += [key, value_json]
        for message in messages:
            created_at = iso_from_micros(to_micros(message.created_at))
            args += [str(message.seq), encode_body(created_at, message.record)]
        # Replacing twice leaves the same session; importing into an empty session or
        # appending twice would not (a second run finds messages, or adds them again).
        written = self._write(scripts.IMPORT, session_id, args, idempotent=mode == "replace")
        return int(written)

    # -- the contract: across sessions (the index) ------------------------------------------

    def _index_eval(self, script: scripts.LuaScript, args: Sequence[str | bytes]) -> Any:
        return self._eval(
            script,
            self._index,
            args,
            idempotent=True,
            subject=f"{script.name} on the index of {self._prefix!r}",
        )

    def _inspect(self, session_ids: Sequence[str], *, full: bool) -> list[Any]:
        """What each session holds, read in one pipeline (one round trip per server).

        Returns per id: ``None`` if the session is gone, ``False`` if its keys hold
        someone else's data, else (``full``) the ``HMGET``/``ZCARD`` row or ``True``.
        """

        if not session_ids:
            return []

        def read(client: Any) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            try:
                for sid in session_ids:
                    keys = self.keys(sid)
                    if full:
                        pipe.hmget(
                            keys.session,
                            ["v", "created_at", "updated_at", "expires_at", "user_id", "last_seq"],
                        )
                        pipe.zcard(keys.messages)
                    pipe.exists(*keys)
                return list(pipe.execute(raise_on_error=False))
            finally:
                pipe.reset()

        replies = self._run(f"reading {len(session_ids)} sessions", read, idempotent=True)
        step = 3 if full else 1
        states: list[Any] = []
        for i in range(0, len(replies), step):
            group = replies[i : i + step]
            if any(isinstance(reply, Exception) for reply in group):
                states.append(False)
            elif not group[-1]:
                states.append(None)
            else:
                states.append(group if full else True)
        return states

    def _clean(self, repairs: list[str]) -> None:
        if repairs:
            self._index_eval(scripts.CLEAN_INDEX, repairs)

    def list_sessions(
        self,
        *,
        now: datetime,
        prefix: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        before: tuple[datetime, str] | None = None,
    ) -> list[SessionInfo]:
        found: list[SessionInfo] = []
        max_score = _INFINITY if before is None else str(to_micros(before[0]))
        after_id = "" if before is None else before[1]
        while len(found) < limit:
            reply = self._index_eval(
                scripts.LIST,
                [
                    max_score,
                    after_id,
                    prefix or "",
                    user_id or "",
                    str(limit - len(found)),
                    str(_LIST_BUDGET),
                ],
            )
            done, resume_score, resume_id = int(reply[0]), text(reply[1]), text(reply[2])
            ids = [text(sid) for sid in reply[3::2]]
            scores = [text(score) for score in reply[4::2]]
            repairs: list[str] = []
            for sid, score, state in zip(ids, scores, self._inspect(ids, full=True), strict=True):
                if state is None:
                    repairs += [sid, score, _GONE, ""]
                elif state is not False:
                    info = self._listed(sid, state, now)
                    if user_id is not None and info.user_id != user_id:
                        repairs += [sid, "", "owner", info.user_id or ""]
                    else:
                        found.append(info)
            self._clean(repairs)
            if done:
                break
            max_score, after_id = resume_score, resume_id
        return found[:limit]

    def _listed(self, session_id: str, state: list[Any], now: datetime) -> SessionInfo:
        (marker, *fields), count, _ = state
        if marker is None:  # the session hash was evicted alone
            fields = [None, None, None, None, None]
        return self._info(session_id, [*fields, count], now)

    def session_ids(
        self, *, now: datetime, prefix: str | None = None, after: str | None = None, limit: int
    ) -> list[str]:
        found: list[str] = []
        lowest = b"-" if not prefix else b"[" + prefix.encode()
        if after is not None and (not prefix or after >= prefix):
            lowest = b"(" + after.encode()
        # UTF-8 never contains the byte 0xFF: every id starting with the prefix sorts
        # below prefix + 0xFF.
        highest = b"+" if not prefix else b"(" + prefix.encode() + b"\xff"
        while len(found) < limit:
            wanted = limit - len(found)
            reply = self._index_eval(scripts.IDS, [lowest, highest, str(wanted)])
            ids = [text(sid) for sid in reply[0::2]]
            scores = ["" if score is None else text(score) for score in reply[1::2]]
            repairs: list[str] = []
            for sid, score, state in zip(ids, scores, self._inspect(ids, full=False), strict=True):
                if state is None:
                    repairs += [sid, score, _GONE, ""]
                elif state:
                    found.append(sid)
            self._clean(repairs)
            if len(ids) < wanted:
                break
            lowest = b"(" + ids[-1].encode()
        return found

    def prune_expired(self, *, now: datetime) -> int:
        """Drop the index entries of sessions Redis has expired.

        Redis deletes expired keys itself; this only sweeps the session index.

        Returns:
            How many expired sessions were dropped from the index.
        """
        now_ms = str(to_micros(now) // 1000)
        removed = skipped = 0
        while True:
            reply = self._index_eval(
                scripts.EXPIRED_IN_INDEX, [now_ms, str(skipped), str(_SWEEP_PAGE)]
            )
            ids = [text(sid) for sid in reply[0::2]]
            scores = ["" if score is None else text(score) for score in reply[1::2]]
            repairs: list[str] = []
            for sid, score, state in zip(ids, scores, self._inspect(ids, full=False), strict=True):
                if state is None:
                    repairs += [sid, score, _GONE, ""]
            cleaned = int(self._index_eval(scripts.CLEAN_INDEX, repairs)) if repairs else 0
            # Entries left in place (written again since, or not ours) stay in the
            # expiry range: step over them.
            removed += cleaned
            skipped += len(ids) - cleaned
            if len(ids) < _SWEEP_PAGE:
                return removed

    def close(self) -> None:
        """Nothing to release: the client belongs to the registry or to the caller."""
