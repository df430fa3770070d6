"""Redis backends: a tracker store (one list per conversation) and a FIFO ticket lock store.

This is the only module that imports redis-py. Both classes ping the server when constructed, so an
unreachable Redis stops start-up with a :class:`StoreError` instead of degrading to memory.

Lock design (per conversation, all changes made by Lua scripts, hence atomic):

* ``<prefix><sender>:n`` — ticket counter (INCR), gives arrival order;
* ``<prefix><sender>:q`` — sorted set token → ticket; the lowest ticket holds the lock;
* ``<prefix><sender>:d`` — sorted set token → deadline (Redis server time, ms);
* ``<prefix><sender>:w:<token>`` — a waiter's wake-up list.

An uncontended turn costs two round trips (acquire, release). A waiter blocks on its own wake-up list
(``BLPOP``): releasing the lock pushes to the list of the next ticket, so it is woken at once instead of
polling. It still re-checks at least every ``poll_interval`` (default 0.5 s, at most a fifth of the
lifetime), and each check pushes its own deadline ``lock_lifetime`` ahead, while the holder's deadline is
set once when it acquires. Any member past its deadline — a holder or a waiter whose process died — is
removed by the next check (which wakes the new head), so a dead worker's lock is released after
``lock_lifetime`` seconds (plus at most one ``poll_interval``). Release removes only the caller's own
random token; a holder whose lock already expired releases nothing and logs
``stores.lock.expired_before_release``. The lock is NOT refreshed
automatically while held (a hung worker must not keep a patient's conversation locked forever): choose
``lock_lifetime`` above the longest message processing time, or call ``extend()`` on the context object
during long work. Keys expire by themselves once every member is dead. Needs Redis 6 or later (fractional
``BLPOP`` timeouts). Not written for Redis Cluster.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import redis

from bot.core.pseudonym import log_pseudonym
from bot.errors import ConfigError, LockTimeoutError, StoreError
from bot.stores.codec import check_sender_id, decode_event, encode_events

logger = logging.getLogger(__name__)

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Wakes the waiter holding the lowest ticket (if any): one push onto its own list.
_WAKE_HEAD = """
local function wake_head(q, prefix, lifetime)
  local head = redis.call('ZRANGE', q, 0, 0)[1]
  if head then
    redis.call('LPUSH', prefix .. head, '1')
    redis.call('PEXPIRE', prefix .. head, lifetime)
  end
end
"""

# KEYS: q, d, n, own wake list   ARGV: token, lifetime_ms, enqueue ('1' first call, '0' when checking
# again), wake-list prefix.  Returns 1 = lock held, 0 = waiting, -1 = our ticket expired (re-enqueue).
_ACQUIRE = (
    _NOW_MS
    + _WAKE_HEAD
    + """
local lifetime = tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, tok in ipairs(dead) do
  redis.call('ZREM', KEYS[1], tok)
  redis.call('ZREM', KEYS[2], tok)
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[3]), ARGV[1])
elseif not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return -1
end
-- A waiter proves it is alive; a new holder gets a full lifetime from now.
redis.call('ZADD', KEYS[2], now + lifetime, ARGV[1])
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], lifetime + 1000) end
if head == ARGV[1] then
  redis.call('DEL', KEYS[4])
  return 1
end
if #dead > 0 then wake_head(KEYS[1], ARGV[4], lifetime) end  -- a dead holder was removed: next one's turn
return 0
"""
)

# KEYS: conversation list   ARGV: expiry in ms, then the events.  RPUSH and PEXPIRE in one atomic step
# (one command on the wire instead of a MULTI/EXEC pipeline of four).
_APPEND_EXPIRING = """
local n = redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
"""

# KEYS: conversation list   ARGV: cutoff (Unix seconds), '1' to delete.  Returns how many leading
# events are older than the cutoff (and deletes them when asked): one atomic step, safe with RPUSH.
_PRUNE = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local cutoff = tonumber(ARGV[1])
local n = 0
for _, item in ipairs(items) do
  local ok, ev = pcall(cjson.decode, item)
  if not ok or type(ev) ~= 'table' or type(ev['timestamp']) ~= 'number' or ev['timestamp'] >= cutoff then
    break
  end
  n = n + 1
end
if ARGV[2] == '1' and n > 0 then redis.call('LTRIM', KEYS[1], n, -1) end
return n
"""

# KEYS: q, d   ARGV: token, wake-list prefix, lifetime_ms.  Returns 1 if our token was still queued (and
# is now gone). When it held the lock, the next ticket's waiter is woken.
_RELEASE = (
    _WAKE_HEAD
    + """
local held = redis.call('ZRANGE', KEYS[1], 0, 0)[1] == ARGV[1]
redis.call('ZREM', KEYS[2], ARGV[1])
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if held then wake_head(KEYS[1], ARGV[2], tonumber(ARGV[3])) end
return removed
"""
)

# KEYS: q, d, n   ARGV: token, lifetime_ms.  Returns 1 if we still hold the lock and extended it.
_EXTEND = (
    _NOW_MS
    + """
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
local deadline = redis.call('ZSCORE', KEYS[2], ARGV[1])
if head ~= ARGV[1] or not deadline or tonumber(deadline) <= now then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, tonumber(ARGV[2]) + 1000) end
return 1
"""
)


def safe_url(url: str) -> str:
    """The URL with any password masked, for error messages."""
    return re.sub(r"(?<=://)([^:/@]*):[^@/]*@", r"\1:***@", url)


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def connect(url: str, *, what: str, socket_timeout: float = 10.0) -> redis.Redis:
    """A client for ``url``, pinged once so an unreachable server fails here, at start-up."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=socket_timeout)
    except ValueError as e:
        raise ConfigError(f"{what}.url is not a valid Redis URL ({safe_url(url)}): {e}") from e
    try:
        client.ping()
    except redis.RedisError as e:
        client.close()
        raise StoreError(
            f"cannot reach Redis for the {what} at {safe_url(url)}: {e}. "
            "Check REDIS_URL / endpoints.yml; the bot will not fall back to memory."
        ) from e
    return client


def durable(client: redis.Redis) -> bool | None:
    """Whether the server writes its data to disk (an append-only file or RDB save points); None when it
    will not say (``CONFIG`` disabled, as on some managed services)."""
    try:
        config = client.config_get("appendonly")
        config.update(client.config_get("save"))
    except redis.RedisError:
        return None
    return str(config.get("appendonly", "")).lower() == "yes" or bool(str(config.get("save", "")).strip())


class RedisTrackerStore:
    """Each conversation is a Redis list ``<key_prefix><sender_id>`` of JSON events."""

    def __init__(self, url: str, *, key_prefix: str = "tracker:", record_exp: float | None = None) -> None:
        if record_exp is not None and record_exp <= 0:
            raise ConfigError("tracker_store.record_exp must be a positive number of seconds")
        self.key_prefix = key_prefix
        self.record_exp = record_exp
        self._client = connect(url, what="tracker_store")
        self.durable = durable(self._client)
        if self.durable is False:
            logger.warning(
                "stores.redis.not_durable: the tracker_store Redis keeps nothing on disk (appendonly no, no "
                "save points): it would be the only copy of every conversation, lost at its next restart. "
                "Keep conversations in PostgreSQL (tracker_store type sql, see endpoints.production.yml) "
                "or configure Redis with appendonly yes and appendfsync everysec or always."
            )
        self._prune = self._client.register_script(_PRUNE)
        self._append_expiring = self._client.register_script(_APPEND_EXPIRING)

    def _key(self, sender_id: str) -> str:
        return self.key_prefix + check_sender_id(sender_id)

    def load(self, sender_id: str) -> list[dict[str, Any]]:
        key = self._key(sender_id)
        try:
            items = self._client.lrange(key, 0, -1)
        except redis.RedisError as e:
            raise self._error("load", sender_id, e) from e
        return [decode_event(item) for item in items]

    def load_from(self, sender_id: str, start: int) -> list[dict[str, Any]]:
        key = self._key(sender_id)
        try:
            items = self._client.lrange(key, max(0, start), -1)
        except redis.RedisError as e:
            raise self._error("load", sender_id, e) from e
        return [decode_event(item) for item in items]

    def append(self, sender_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        key = self._key(sender_id)
        encoded = encode_events(events)
        if not encoded:
            return
        try:  # one command either way: all or nothing
            if self.record_exp is None:
                self._client.rpush(key, *encoded)
            else:
                self._append_expiring(keys=[key], args=[int(self.record_exp * 1000), *encoded])
        except redis.RedisError as e:
            raise self._error("append to", sender_id, e) from e

    def delete(self, sender_id: str) -> None:
        key = self._key(sender_id)
        try:
            self._client.delete(key)
        except redis.RedisError as e:
            raise self._error("delete", sender_id, e) from e

    def senders(self) -> list[str]:
        start = len(self.key_prefix)
        try:
            keys = self._client.scan_iter(match=_glob_escape(self.key_prefix) + "*", count=500)
            return sorted({key.decode("utf-8")[start:] for key in keys})
        except redis.RedisError as e:
            raise StoreError(f"cannot list conversations in Redis: {type(e).__name__}") from e

    def expired(self, before: float) -> dict[str, int]:
        """Per conversation, how many leading events have a ``timestamp`` older than ``before``.

        Events are appended in time order, so a conversation expires from its head; an event without a
        numeric timestamp stops the count (it goes with the conversation).
        """
        counts: dict[str, int] = {}
        for sender_id in self.senders():
            try:
                n = int(self._prune(keys=[self._key(sender_id)], args=[repr(float(before)), "0"]))
            except redis.RedisError as e:
                raise self._error("count expired events of", sender_id, e) from e
            if n:
                counts[sender_id] = n
        return counts

    def prune(self, sender_id: str, before: float) -> int:
        """Delete the conversation's leading events older than ``before`` (atomic, Lua)."""
        try:
            return int(self._prune(keys=[self._key(sender_id)], args=[repr(float(before)), "1"]))
        except redis.RedisError as e:
            raise self._error("prune", sender_id, e) from e

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _error(verb: str, sender_id: str, e: redis.RedisError) -> StoreError:
        return StoreError(f"cannot {verb} conversation {log_pseudonym(sender_id)} in Redis: {e}")


class RedisLockStore:
    """FIFO per-conversation locks shared by every worker using the same Redis and ``key_prefix``."""

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "lock:",
        lock_lifetime: float = 30.0,
        poll_interval: float = 0.5,
    ) -> None:
        if lock_lifetime <= 0:
            raise ConfigError("lock_store.lock_lifetime must be a positive number of seconds")
        self.key_prefix = key_prefix
        self.lock_lifetime = float(lock_lifetime)
        # Waiters are woken by the release; they re-check at least this often (to refresh their own
        # deadline well within the lifetime, and to notice a dead holder).
        # (At most 5 s: a blocked BLPOP must return well within the client's 10 s socket timeout.)
        self.poll_interval = max(0.001, min(poll_interval, self.lock_lifetime / 5, 5.0))
        self._client = connect(url, what="lock_store")
        self._acquire = self._client.register_script(_ACQUIRE)
        self._release = self._client.register_script(_RELEASE)
        self._extend = self._client.register_script(_EXTEND)

    def lock(self, sender_id: str, *, wait: float = 10.0) -> AbstractContextManager[None]:
        check_sender_id(sender_id)
        return _RedisLock(self, sender_id, wait)

    def keys(self, sender_id: str) -> list[str]:
        base = self.key_prefix + sender_id
        return [base + ":q", base + ":d", base + ":n"]

    def queue_length(self, sender_id: str) -> int:
        """Holder plus waiters for the conversation (for tests and diagnostics)."""
        return int(self._client.zcard(self.keys(sender_id)[0]))

    def close(self) -> None:
        self._client.close()

    @property
    def _lifetime_ms(self) -> int:
        return max(1, int(self.lock_lifetime * 1000))

    def _wake_prefix(self, sender_id: str) -> str:
        return self.key_prefix + sender_id + ":w:"

    def acquire(self, sender_id: str, wait: float) -> str:
        token = uuid.uuid4().hex
        keys = self.keys(sender_id)
        wake_prefix = self._wake_prefix(sender_id)
        wake = wake_prefix + token
        deadline = time.monotonic() + max(wait, 0.0)
        enqueue = "1"
        try:
            while True:
                state = int(self._acquire(keys=[*keys, wake],
                                          args=[token, self._lifetime_ms, enqueue, wake_prefix]))
                if state == 1:
                    return token
                if state == -1:
                    # We stalled longer than the lifetime and lost our place: queue again at the back.
                    logger.warning("stores.lock.requeued sender=%s", log_pseudonym(sender_id))
                    enqueue = "1"
                    continue
                enqueue = "0"
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._release(keys=keys[:2], args=[token, wake_prefix, self._lifetime_ms])
                    self._client.delete(wake)
                    raise LockTimeoutError(
                        f"conversation lock not acquired within {wait:g} s "
                        f"(sender {log_pseudonym(sender_id)})"
                    )
                # Sleep until the holder releases (it pushes to our list) or the re-check is due.
                self._client.blpop([wake], timeout=max(0.001, min(self.poll_interval, remaining)))
        except redis.RedisError as e:
            raise StoreError(f"lock store failed for sender {log_pseudonym(sender_id)}: {e}") from e

    def release(self, sender_id: str, token: str) -> None:
        try:
            released = int(self._release(keys=self.keys(sender_id)[:2],
                                         args=[token, self._wake_prefix(sender_id), self._lifetime_ms]))
        except redis.RedisError as e:
            raise StoreError(f"cannot release lock of sender {log_pseudonym(sender_id)}: {e}") from e
        if not released:
            logger.warning("stores.lock.expired_before_release sender=%s", log_pseudonym(sender_id))

    def extend(self, sender_id: str, token: str) -> bool:
        try:
            return bool(int(self._extend(keys=self.keys(sender_id), args=[token, self._lifetime_ms])))
        except redis.RedisError as e:
            raise StoreError(f"cannot extend lock of sender {log_pseudonym(sender_id)}: {e}") from e


class _RedisLock(AbstractContextManager[None]):
    def __init__(self, store: RedisLockStore, sender_id: str, wait: float) -> None:
        self._store = store
        self._sender_id = sender_id
        self._wait = wait
        self._token: str | None = None

    def __enter__(self) -> None:
        if self._token is not None:
            raise StoreError("this lock context is already in use (locks are not re-entrant)")
        self._token = self._store.acquire(self._sender_id, self._wait)

    def extend(self) -> bool:
        """Push the expiry ``lock_lifetime`` ahead; False if the lock was already lost."""
        return self._token is not None and self._store.extend(self._sender_id, self._token)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            token, self._token = self._token, None
            self._store.release(self._sender_id, token)
