"""The Lua scripts behind Redis writes and index reads: one script call per operation.

Each write is one ``EVALSHA``: one round trip, atomic on the server, and the positions
(``seq``) are assigned inside it, so concurrent writers in any number of processes can
neither collide nor leave gaps. Reads that must agree with each other (``info``,
``snapshot``) are scripts too; plain reads are single commands.

Session scripts take the session's keys (:class:`~.keys.SessionKeys`), followed on a
single server by the index keys of its prefix (:class:`~.keys.IndexKeys`)::

    KEYS[1]  P:{S}:session   HASH  v, last_seq, created_at, updated_at, expires_at,
                                   user_id, md (1 once pyai wrote metadata)
    KEYS[2]  P:{S}:messages  ZSET  member "<seq> NUL <body>" scored by seq
    KEYS[3]  P:{S}:metadata  HASH  key -> JSON text
    KEYS[4..8]  (single server only) P:index:{P}:activity, ids, expiry, owner, owners

and the write scripts start with the same five arguments::

    ARGV[1]  now: microseconds since the epoch (the writer's clock: created_at/updated_at)
    ARGV[2]  ttl in milliseconds, or "" for no expiry
    ARGV[3]  expires_at in microseconds since the epoch (reported by info), or ""
    ARGV[4]  user_id to record if the session has none, or ""
    ARGV[5]  the session id (the index's member)

With the index keys given (a single server) write scripts change the index themselves
and reply with the operation's result alone. On Redis Cluster the index lives in another
slot, which one script may not reach: they reply ``{result, owner, change}`` (the
session's owner after the write, or nil, and the index change to make: ``"touch"``,
``"delete"`` or nil when nothing was written), and the caller applies the change with
:data:`INDEX_APPLY` (a second round trip; the index is eventually consistent there,
which listing tolerates).

Rules every script keeps:

* **Someone else's data is never touched.** Before anything is written the script reads
  the session hash (``HMGET``, which also type-checks it; a hash without pyai's ``v``
  marker is not ours) and checks the TYPE of the other keys, and replies
  ``PYAI_FOREIGN_KEY <which> <type>`` on a mismatch. Checks come first because Redis
  does not roll a script back: an error halfway would keep the writes before it. For the
  same reason the index is written before the session: a foreign index key stops the
  script with the session untouched (a half-written index entry is harmless, see
  below). The append path, the hot one, checks the messages key by its ``ZADD`` (the
  first write to the session's own keys) and touches the metadata key only if pyai wrote
  metadata (``md``).
* **TTL covers every key.** With a ttl, the session's keys all get the same
  ``PEXPIREAT``, computed from the server's clock (``TIME``); without one, ``PERSIST``.
  An expired session is gone as a whole, by Redis itself.
* **The index never keeps what it lists alive, nor lingers.** One write in 16 drops up
  to 32 entries of sessions that expired over a minute ago (the index records each
  session's deadline on the server's clock; the minute covers clock differences between
  cluster nodes), listing and ``prune_expired`` drop any stale entry they meet, and the
  index keys themselves expire ten minutes after the longest-lived session they list
  (never while one has no ttl).
* **Few calls.** The server runs one script at a time and every ``redis.call`` costs
  about a microsecond, so a script defines only the Lua functions it uses, the common
  path reads what it needs once (last_seq and owner come with the type check) and
  writes the session hash with one ``HSET``.
* **The common append is inline** (:data:`APPEND`'s fast path, before any function is
  defined): a session pyai wrote, owner kept, no sweep due and the index's own expiry
  long enough. Anything else falls through, nothing written, to the general script;
  :data:`APPEND_GENERAL` is that script alone, which the tests compare it with.
* **Numbers are formatted with %d.** Lua numbers are doubles; passing them to
  ``redis.call`` directly may render large ones in exponent form.
* **No string comparisons in Lua.** Lua compares strings with the server's collation
  (``strcoll``); ids are compared byte by byte, as Redis orders sorted-set members.

Scripts are loaded once per server (SCRIPT LOAD on the first ``NOSCRIPT``) and then
called by SHA.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = [
    "APPEND",
    "APPEND_GENERAL",
    "CLEAN_INDEX",
    "CLEAR",
    "DELETE",
    "EXPIRED_IN_INDEX",
    "IDS",
    "IMPORT",
    "INDEX_APPLY",
    "INFO",
    "LIST",
    "POP",
    "SET_METADATA",
    "SNAPSHOT",
    "UNSET_METADATA",
    "LuaScript",
]


@dataclass(frozen=True)
class LuaScript:
    """A Lua script and its SHA1 (what ``EVALSHA`` is called with)."""

    name: str
    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())


# -- the Lua library: pieces in definition order, each with the pieces it uses -------------
# A script includes only what it uses (and what that uses): every `local function`
# statement runs, creating a closure, on every call.

_LIBRARY: dict[str, tuple[tuple[str, ...], str]] = {
    "index_keys": (
        (),
        """
local function index_keys(first)
    return {activity = KEYS[first], ids = KEYS[first + 1], expiry = KEYS[first + 2],
            owner = KEYS[first + 3], owners = KEYS[first + 4]}
end
""",
    ),
    "index_foreign": (
        (),
        """
local INDEX_TYPES = {activity = 'zset', ids = 'zset', expiry = 'zset', owner = 'hash',
                     owners = 'zset'}

local function index_foreign(ix)
    for name, key in pairs(ix) do
        local t = redis.call('TYPE', key).ok
        if t ~= 'none' and t ~= INDEX_TYPES[name] then
            return redis.error_reply('PYAI_FOREIGN_KEY index:' .. name .. ' ' .. t)
        end
    end
    return false
end
""",
    ),
    "with_activity": (
        ("index_keys",),
        """
-- {id1, activity_score1, ...} for `ids` (a score may be nil).
local function with_activity(ix, ids)
    local out = {}
    for _, sid in ipairs(ids) do
        out[#out + 1] = sid
        out[#out + 1] = redis.call('ZSCORE', ix.activity, sid)
    end
    return out
end
""",
    ),
    "owned": (
        (),
        """
local function owned(user, sid)
    return user .. '\\0' .. sid
end
""",
    ),
    "before": (
        (),
        """
-- Byte order, as Redis orders members (Lua's `<` would use the server's collation).
local function before(a, b)
    local n = math.min(#a, #b)
    for i = 1, n do
        local x, y = string.byte(a, i), string.byte(b, i)
        if x ~= y then return x < y end
    end
    return #a < #b
end
""",
    ),
    "clock_ms": (
        (),
        """
-- The server's clock in ms: every deadline is on it, so a session's keys and its index
-- entry share one.
local function clock_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
""",
    ),
    "index_lifetime": (
        (),
        """
local SLACK_MS = 600000

local function set_lifetime(ix, at)
    for _, key in pairs(ix) do
        if at then redis.call('PEXPIREAT', key, at) else redis.call('PERSIST', key) end
    end
end

-- The index keys outlive every session they list: forever while one has no ttl, else
-- until the last deadline plus some slack (so that sliding sessions do not move the
-- index's own deadline on every write).
local function index_lifetime(ix)
    local top = redis.call('ZREVRANGE', ix.expiry, 0, 0, 'WITHSCORES')
    if not top[2] then return end
    if top[2] == 'inf' or top[2] == '+inf' then
        set_lifetime(ix, false)
    else
        set_lifetime(ix, string.format('%d', tonumber(top[2]) + SLACK_MS))
    end
end

-- The same, cheaply, for one session's new deadline; `left` is the PTTL the activity
-- key had before this write touched the index.
local function index_extend(ix, left, deadline, clock)
    if deadline == '+inf' then
        if left >= 0 then set_lifetime(ix, false) end
    elseif left == -1 then
        index_lifetime(ix)  -- kept forever by a session without ttl, if one is left
    elseif left == -2 or clock + left < tonumber(deadline) then
        set_lifetime(ix, string.format('%d', tonumber(deadline) + SLACK_MS))
    end
end
""",
    ),
    "index_set_owner": (
        ("owned",),
        """
local function index_set_owner(ix, sid, user)
    local old = redis.call('HGET', ix.owner, sid)
    if old == user then return false end
    if old then redis.call('ZREM', ix.owners, owned(old, sid)) end
    if user then
        redis.call('HSET', ix.owner, sid, user)
        redis.call('ZADD', ix.owners, 0, owned(user, sid))
    else
        redis.call('HDEL', ix.owner, sid)
    end
    return true
end
""",
    ),
    "index_remove": (
        ("owned",),
        """
local function index_remove(ix, sid)
    redis.call('ZREM', ix.activity, sid)
    redis.call('ZREM', ix.ids, sid)
    redis.call('ZREM', ix.expiry, sid)
    local user = redis.call('HGET', ix.owner, sid)
    if user then
        redis.call('ZREM', ix.owners, owned(user, sid))
        redis.call('HDEL', ix.owner, sid)
    end
end
""",
    ),
    "index_touch": (
        ("index_lifetime", "index_set_owner", "index_remove"),
        """
-- Records a write of session `sid`; `known` says the index already holds it with this
-- owner (the session existed and kept its owner), which saves the owner checks. With
-- `sweep`, it also drops up to 32 entries of sessions that expired over a minute ago;
-- callers sweep on one write in 16, which keeps up with expiry (every session was
-- written at least once) at a fraction of a call per write.
local function index_touch(ix, sid, updated_us, deadline, clock, owner, known, sweep)
    local left = redis.call('PTTL', ix.activity)
    local dead = {}
    if sweep then
        dead = redis.call('ZRANGEBYSCORE', ix.expiry, '-inf',
                          string.format('%d', clock - 60000), 'LIMIT', 0, 32)
        for _, gone in ipairs(dead) do index_remove(ix, gone) end
    end
    redis.call('ZADD', ix.activity, updated_us, sid)
    redis.call('ZADD', ix.expiry, deadline, sid)
    if not known or #dead > 0 then
        redis.call('ZADD', ix.ids, 0, sid)
        if index_set_owner(ix, sid, owner) then
            index_lifetime(ix)
            return
        end
    end
    index_extend(ix, left, deadline, clock)
end
""",
    ),
    "session": (
        ("index_keys",),
        """
local session, messages, metadata = KEYS[1], KEYS[2], KEYS[3]
local ix = false
if #KEYS == 8 then ix = index_keys(4) end
local now, ttl_ms, expires_us, user, sid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local st = {}

local function highest_seq()
    local top = redis.call('ZRANGE', messages, -1, -1, 'WITHSCORES')
    if top[2] then return tonumber(top[2]) end
    return 0
end

-- Reads the session hash, which checks its type too (a hash without pyai's `v` marker
-- is someone else's). Nothing is written before the checks: Redis does not roll a
-- script back, so an error halfway would keep the writes made before it.
local function read_session()
    local row = redis.pcall('HMGET', session, 'v', 'last_seq', 'user_id', 'expires_at', 'md')
    if row.err then
        return redis.error_reply('PYAI_FOREIGN_KEY session ' .. redis.call('TYPE', session).ok)
    end
    st.exists = row[1] ~= false
    if not st.exists and redis.call('EXISTS', session) == 1 then
        return redis.error_reply('PYAI_FOREIGN_KEY session hash')
    end
    st.owner = row[3]
    st.expiring = row[4] ~= false
    st.metadata = row[5] ~= false
    -- Without the session hash (new, or removed alone by an eviction policy) positions
    -- continue after the highest message kept: never reused.
    st.last_seq = tonumber(row[2]) or highest_seq()
    return false
end

local function check_others()
    local t = redis.call('TYPE', messages).ok
    if t ~= 'none' and t ~= 'zset' then
        return redis.error_reply('PYAI_FOREIGN_KEY messages ' .. t)
    end
    st.messages = t == 'zset'
    t = redis.call('TYPE', metadata).ok
    if t ~= 'none' and t ~= 'hash' then
        return redis.error_reply('PYAI_FOREIGN_KEY metadata ' .. t)
    end
    st.metadata = t == 'hash'
    return false
end

local function load()
    return read_session() or check_others()
end

-- A write's reply: its result alone on a single server (the script kept the index),
-- else {result, owner, change} for the caller to apply to the index.
local function reply(result, owner, change)
    if ix then return result end
    return {result, owner, change}
end

local function live()
    return st.exists or st.messages or st.metadata
end
""",
    ),
    "write": (
        ("session", "clock_ms", "index_touch"),
        """
local deadline, owner = '+inf', false

-- Plans the write and records it in the index. Called before the session's keys are
-- written, so that a foreign index key stops the script with the session untouched.
-- `adding`: how many messages the write appends (it sweeps the index on one write in
-- 16, picked by position; writes that add none always sweep).
local function begin(adding)
    local clock = 0
    if ix or ttl_ms ~= '' then clock = clock_ms() end
    if ttl_ms ~= '' then deadline = string.format('%d', clock + tonumber(ttl_ms)) end
    owner = st.owner
    if not owner and user ~= '' then owner = user end
    if ix then
        local sweep = adding == 0 or (st.last_seq % 16) + adding >= 16
        index_touch(ix, sid, now, deadline, clock, owner, st.exists and owner == st.owner,
                    sweep)
    end
end

-- Writes the session hash and every key's expiry; returns the script's reply.
local function finish(result)
    local fields = {'last_seq', string.format('%d', st.last_seq), 'updated_at', now}
    if not st.exists then
        fields[5], fields[6], fields[7], fields[8] = 'v', '1', 'created_at', now
    end
    if owner and owner ~= st.owner then
        fields[#fields + 1] = 'user_id'
        fields[#fields + 1] = owner
    end
    if st.metadata then
        fields[#fields + 1] = 'md'
        fields[#fields + 1] = '1'
    end
    if ttl_ms ~= '' then
        fields[#fields + 1] = 'expires_at'
        fields[#fields + 1] = expires_us
    end
    redis.call('HSET', session, unpack(fields))
    if ttl_ms ~= '' then
        redis.call('PEXPIREAT', session, deadline)
        redis.call('PEXPIREAT', messages, deadline)
        if st.metadata then redis.call('PEXPIREAT', metadata, deadline) end
    elseif st.expiring or not st.exists then
        redis.call('HDEL', session, 'expires_at')
        redis.call('PERSIST', session)
        redis.call('PERSIST', messages)
        redis.call('PERSIST', metadata)
    end
    return reply(result, owner, 'touch')
end

-- ZADD/HSET in slices: unpack() of a very long table overflows Lua's C stack.
local function write_in_slices(command, key, items)
    for i = 1, #items, 512 do
        redis.call(command, key, unpack(items, i, math.min(i + 511, #items)))
    end
end
""",
    ),
}


def _compose(*names: str) -> str:
    needed: set[str] = set()

    def need(name: str) -> None:
        if name not in needed:
            needed.add(name)
            for dependency in _LIBRARY[name][0]:
                need(dependency)

    for name in names:
        need(name)
    return "".join(code for name, (_, code) in _LIBRARY.items() if name in needed)


def _script(name: str, body: str, *uses: str, fast_path: str = "") -> LuaScript:
    # A fast path goes first: when it returns, the library's `local function` statements
    # after it never run (Lua runs a chunk's statements in order).
    return LuaScript(name, fast_path + _compose(*uses) + body)


_NOTHING = "reply(false, false, false)"

# The common append, inline: a session pyai wrote, its owner kept, no index sweep due
# and the index's own lifetime long enough. It does what the general script below does on
# that path, without defining its functions and tables (a third of the script's server
# time); anything else falls through to the general script, having written nothing.
_APPEND_FAST = r"""
local n = #ARGV - 5
local row = redis.pcall('HMGET', KEYS[1], 'v', 'last_seq', 'user_id', 'expires_at', 'md')
local last = n > 0 and not row.err and row[1] and tonumber(row[2])
if last and (last % 16) + n < 16 and (row[3] or ARGV[4] == '')
        and (ARGV[2] ~= '' or not row[4]) then
    -- Without a ttl, now or before, the index already records no deadline for the
    -- session and keeps no expiry of its own (it lists a session without one).
    local deadline, ready = false, true
    if ARGV[2] ~= '' then
        local t = redis.call('TIME')
        local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        deadline = string.format('%d', clock + tonumber(ARGV[2]))
        if #KEYS == 8 then
            local left = redis.call('PTTL', KEYS[4])
            ready = left >= 0 and clock + left >= tonumber(deadline)
        end
    end
    if ready then
        if #KEYS == 8 then
            redis.call('ZADD', KEYS[4], ARGV[1], ARGV[5])
            if deadline then redis.call('ZADD', KEYS[6], deadline, ARGV[5]) end
        end
        local items, seq = {}, ''
        for i = 1, n do
            seq = string.format('%d', last + i)
            items[2 * i - 1] = seq
            items[2 * i] = seq .. '\0' .. ARGV[5 + i]
        end
        local added = redis.pcall('ZADD', KEYS[2], unpack(items))
        if type(added) == 'table' and added.err then
            return redis.error_reply('PYAI_FOREIGN_KEY messages ' .. redis.call('TYPE', KEYS[2]).ok)
        end
        if deadline then
            redis.call('HSET', KEYS[1], 'last_seq', seq, 'updated_at', ARGV[1],
                       'expires_at', ARGV[3])
            redis.call('PEXPIREAT', KEYS[1], deadline)
            redis.call('PEXPIREAT', KEYS[2], deadline)
            if row[5] then redis.call('PEXPIREAT', KEYS[3], deadline) end
        else
            redis.call('HSET', KEYS[1], 'last_seq', seq, 'updated_at', ARGV[1])
        end
        if #KEYS == 8 then return last + 1 end
        return {last + 1, row[3], 'touch'}
    end
end
"""

_APPEND_BODY = r"""
-- ARGV[6..] message bodies, in order.
-- Result: the seq given to the first message; the rest follow contiguously.
local err = read_session()
if not err and not st.exists then err = check_others() end
if err then return err end
local n = #ARGV - 5
begin(n)
local first = st.last_seq + 1
local items = {}
for i = 1, n do
    local seq = string.format('%d', first + i - 1)
    items[2 * i - 1] = seq
    items[2 * i] = seq .. '\0' .. ARGV[5 + i]
end
-- The first ZADD is also the check of the messages key: it fails, writing nothing, on
-- a key of another type.
if n > 0 then
    local added = redis.pcall('ZADD', messages, unpack(items, 1, math.min(#items, 1024)))
    if type(added) == 'table' and added.err then
        return redis.error_reply('PYAI_FOREIGN_KEY messages ' .. redis.call('TYPE', messages).ok)
    end
end
for i = 1025, #items, 1024 do
    redis.call('ZADD', messages, unpack(items, i, math.min(i + 1023, #items)))
end
st.last_seq = st.last_seq + n
return finish(first)
"""

APPEND = _script("append", _APPEND_BODY, "write", fast_path=_APPEND_FAST)
# The same without the fast path: what the tests hold the fast path to.
APPEND_GENERAL = _script("append", _APPEND_BODY, "write")

POP = _script(
    "pop",
    r"""
-- ARGV[6] the seq the last message must have, or '' for any.
-- Result: the member of the highest seq (removed), or nil. Writes nothing if there is
-- no message, or the last one has another seq.
local err = load()
if err then return err end
local top = redis.call('ZRANGE', messages, -1, -1, 'WITHSCORES')
if not top[1] or (ARGV[6] ~= '' and tonumber(top[2]) ~= tonumber(ARGV[6])) then
    return """
    + _NOTHING
    + r"""
end
begin(0)
redis.call('ZREM', messages, top[1])
return finish(top[1])
""",
    "write",
)

CLEAR = _script(
    "clear",
    r"""
-- Removes every message; metadata and last_seq stay. Result: 1, or 0 (nothing written)
-- if the session does not exist.
local err = load()
if err then return err end
if not live() then return reply(0, false, false) end
begin(0)
redis.call('DEL', messages)
return finish(1)
""",
    "write",
)

DELETE = _script(
    "delete",
    r"""
-- Removes the session's keys and its index entry. Result: how many keys existed
-- (0: there was no session).
local err = load()
if err then return err end
if ix then
    index_remove(ix, sid)
    index_lifetime(ix)
end
return reply(redis.call('DEL', session, messages, metadata), false, 'delete')
""",
    "session",
    "index_remove",
    "index_lifetime",
)

SET_METADATA = _script(
    "set_metadata",
    r"""
-- ARGV[6] key, ARGV[7] value (JSON text). Creates the session. Result: 1.
local err = load()
if err then return err end
begin(0)
redis.call('HSET', metadata, ARGV[6], ARGV[7])
st.metadata = true
return finish(1)
""",
    "write",
)

UNSET_METADATA = _script(
    "unset_metadata",
    r"""
-- ARGV[6] key. Result: 1 if it was there, else 0. Writes nothing if the session does
-- not exist.
local err = load()
if err then return err end
if not live() then return reply(0, false, false) end
begin(0)
return finish(redis.call('HDEL', metadata, ARGV[6]))
""",
    "write",
)

IMPORT = _script(
    "import",
    r"""
-- ARGV[6] mode: 'error', 'replace' or 'append'
-- ARGV[7] m, the number of metadata entries; ARGV[8 .. 7+2m] key, JSON value, ...
-- then seq, body, seq, body, ... for the messages (seq is ignored with 'append',
-- which renumbers after last_seq).
-- Result: the number of messages written. With 'error', a session that holds
-- messages gets the reply 'PYAI_SESSION_EXISTS <count>' and nothing is written.
local err = load()
if err then return err end
local mode = ARGV[6]
if mode == 'error' and st.messages then
    return redis.error_reply('PYAI_SESSION_EXISTS ' .. redis.call('ZCARD', messages))
end
begin(0)
if mode == 'replace' then
    redis.call('DEL', messages, metadata)
end
local last = st.last_seq
local start = 8 + 2 * tonumber(ARGV[7])
local items, written, top = {}, 0, last
for i = start, #ARGV, 2 do
    written = written + 1
    local seq = last + written
    if mode ~= 'append' then seq = tonumber(ARGV[i]) end
    if seq > top then top = seq end
    local s = string.format('%d', seq)
    items[2 * written - 1] = s
    items[2 * written] = s .. '\0' .. ARGV[i + 1]
end
write_in_slices('ZADD', messages, items)
st.last_seq = top
local entries = {}
for i = 8, start - 1 do
    entries[i - 7] = ARGV[i]
end
if #entries > 0 then
    write_in_slices('HSET', metadata, entries)
    st.metadata = true
end
return finish(written)
""",
    "write",
)

_INFO_BODY = r"""
local err = load()
if err then return err end
if not live() then return false end
local info = redis.call('HMGET', session, 'created_at', 'updated_at', 'expires_at',
                        'user_id')
info[5] = string.format('%d', st.last_seq)
info[6] = redis.call('ZCARD', messages)
"""

INFO = _script(
    "info",
    _INFO_BODY
    + r"""
-- KEYS[1..3] only, no ARGV. Returns nil if the session does not exist, else
-- {created_at, updated_at, expires_at, user_id, last_seq, message_count}
-- (timestamps in microseconds; created_at/updated_at/expires_at/user_id may be nil).
return info
""",
    "session",
)

SNAPSHOT = _script(
    "snapshot",
    _INFO_BODY
    + r"""
-- KEYS[1..3] only, no ARGV. Returns nil if the session does not exist, else INFO's six
-- fields, every message member (in seq order) and the metadata as a flat key/value list.
info[7] = redis.call('ZRANGE', messages, 0, -1)
info[8] = redis.call('HGETALL', metadata)
return info
""",
    "session",
)

# -- index scripts: KEYS[1..5] are the index keys (activity, ids, expiry, owner, owners) --

INDEX_APPLY = _script(
    "index_apply",
    r"""
-- The index change a session script reported, where it could not make it (cluster).
-- ARGV[1] 'touch' or 'delete', ARGV[2] session id, ARGV[3] updated_at (microseconds),
-- ARGV[4] ttl in ms or '', ARGV[5] owner or ''. Returns 1.
local ix = index_keys(1)
local err = index_foreign(ix)
if err then return err end
if ARGV[1] == 'delete' then
    index_remove(ix, ARGV[2])
    index_lifetime(ix)
    return 1
end
local owner = ARGV[5]
if owner == '' then owner = false end
local clock = clock_ms()
local deadline = '+inf'
if ARGV[4] ~= '' then deadline = string.format('%d', clock + tonumber(ARGV[4])) end
index_touch(ix, ARGV[2], ARGV[3], deadline, clock, owner, false, true)
return 1
""",
    "index_keys",
    "index_foreign",
    "clock_ms",
    "index_touch",
)

LIST = _script(
    "list",
    r"""
-- Candidates for a page of sessions, newest activity first: index entries only, which
-- the caller checks against the sessions themselves (an entry may be stale).
-- ARGV[1] '+inf' or the updated_at (microseconds) of the keyset position, ARGV[2] the
-- session id there ('' for none): only entries ordered after (score, id) in descending
-- order; ARGV[3] id prefix or ''; ARGV[4] owner or '' (then the owner's entries are read
-- whole, sorted here); ARGV[5] how many; ARGV[6] at most this many entries examined.
-- Returns {done, resume_score, resume_id, id1, score1, id2, score2, ...}: done is 1 when
-- the index has no more entries; otherwise continue from (resume_score, resume_id).
local ix = index_keys(1)
local err = index_foreign(ix)
if err then return err end
local max_s, after_id, prefix, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local wanted, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local bounded = max_s ~= '+inf'
local max_n = tonumber(max_s)
local function matches(sid)
    return prefix == '' or string.sub(sid, 1, #prefix) == prefix
end
local function in_page(sid, score)
    if not bounded then return true end
    if score ~= max_n then return score < max_n end
    return after_id ~= '' and before(sid, after_id)
end

local out = {1, '', ''}
if user ~= '' then
    local found = {}
    local members = redis.call('ZRANGEBYLEX', ix.owners, '[' .. owned(user, ''),
                               '(' .. user .. '\1')
    for _, member in ipairs(members) do
        local sid = string.sub(member, #user + 2)
        local score = redis.call('ZSCORE', ix.activity, sid)
        if score and matches(sid) and in_page(sid, tonumber(score)) then
            found[#found + 1] = {sid, tonumber(score), score}
        end
    end
    table.sort(found, function(a, b)
        if a[2] ~= b[2] then return a[2] > b[2] end
        return before(b[1], a[1])
    end)
    for i = 1, math.min(wanted, #found) do
        out[#out + 1] = found[i][1]
        out[#out + 1] = found[i][3]
    end
    return out
end

-- Entries ranked before the keyset position (in descending order) are skipped by rank.
local rank = 0
if bounded then
    rank = redis.call('ZCOUNT', ix.activity, '(' .. max_s, '+inf')
    for _, sid in ipairs(redis.call('ZRANGEBYSCORE', ix.activity, max_s, max_s)) do
        if after_id == '' or not before(sid, after_id) then rank = rank + 1 end
    end
end
local taken, examined = 0, 0
while taken < wanted do
    local batch = redis.call('ZREVRANGE', ix.activity, rank, rank + 255, 'WITHSCORES')
    if #batch == 0 then return out end
    for i = 1, #batch, 2 do
        examined = examined + 1
        if matches(batch[i]) then
            out[#out + 1] = batch[i]
            out[#out + 1] = batch[i + 1]
            taken = taken + 1
        end
        if taken >= wanted or examined >= budget then
            out[1], out[2], out[3] = 0, batch[i + 1], batch[i]
            return out
        end
    end
    rank = rank + 256
end
out[1] = 0
return out
""",
    "index_keys",
    "index_foreign",
    "owned",
    "before",
)

IDS = _script(
    "ids",
    r"""
-- Session ids in id order: ARGV[1], ARGV[2] a ZRANGEBYLEX min and max, ARGV[3] how many.
-- Returns {id1, activity_score1, ...} (a score may be nil).
local ix = index_keys(1)
local err = index_foreign(ix)
if err then return err end
return with_activity(ix, redis.call('ZRANGEBYLEX', ix.ids, ARGV[1], ARGV[2], 'LIMIT', 0,
                                   ARGV[3]))
""",
    "index_foreign",
    "with_activity",
)

EXPIRED_IN_INDEX = _script(
    "expired_in_index",
    r"""
-- Index entries whose expiry (ms) is before ARGV[1], skipping ARGV[2], at most ARGV[3].
-- Returns {id1, activity_score1, ...} (a score may be nil).
local ix = index_keys(1)
local err = index_foreign(ix)
if err then return err end
return with_activity(ix, redis.call('ZRANGEBYSCORE', ix.expiry, '-inf', '(' .. ARGV[1],
                                   'LIMIT', ARGV[2], ARGV[3]))
""",
    "index_foreign",
    "with_activity",
)

CLEAN_INDEX = _script(
    "clean_index",
    r"""
-- Repairs index entries the caller found stale: ARGV holds quadruples
-- (session id, activity score seen or '', verdict, owner): verdict 'gone' removes the
-- entry unless a write touched it since (its activity score changed); verdict 'owner'
-- records the session's actual owner (owner '' for none). Returns how many entries were
-- removed.
local ix = index_keys(1)
local err = index_foreign(ix)
if err then return err end
local removed = 0
for i = 1, #ARGV, 4 do
    local sid, seen, verdict = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    if verdict == 'gone' then
        local score = redis.call('ZSCORE', ix.activity, sid)
        local unchanged
        if seen == '' then unchanged = not score
        else unchanged = score and tonumber(score) == tonumber(seen) end
        if unchanged then
            index_remove(ix, sid)
            removed = removed + 1
        end
    else
        local owner = ARGV[i + 3]
        if owner == '' then owner = false end
        index_set_owner(ix, sid, owner)
    end
end
index_lifetime(ix)
return removed
""",
    "index_keys",
    "index_foreign",
    "index_set_owner",
    "index_remove",
    "index_lifetime",
)
