"""Which failures are transient: a backend that is down, restarting or busy (Redis, the database, the
network), as opposed to one that can never succeed (a bug, unreadable data, a refused configuration).

A message whose processing met a transient failure is tried again later, in order
(:mod:`bot.channels.twilio.channel`); any other failure is final. The test walks the whole chain of
causes (``raise … from e``), so a :class:`~bot.errors.StoreError` wrapping a refused connection counts.
The SDKs are not imported here: their exception classes are looked up only if the SDK is loaded.
"""

from __future__ import annotations

import sqlite3
import sys

from bot.errors import LockTimeoutError

_SQLITE_BUSY = ("database is locked", "database table is locked", "disk i/o error", "unable to open")


def _sdk_transient(error: BaseException) -> bool:
    redis = sys.modules.get("redis.exceptions")
    if redis is not None and isinstance(error, redis.ConnectionError | redis.TimeoutError
                                        | redis.BusyLoadingError | redis.ReadOnlyError):
        return True
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None:
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError
                      | sa_exc.DisconnectionError):
            return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or any error it was raised from) is an outage a later attempt may not meet."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, LockTimeoutError | ConnectionError | TimeoutError):
            return True
        if isinstance(current, sqlite3.OperationalError) and any(
                text in str(current).lower() for text in _SQLITE_BUSY):
            return True
        if _sdk_transient(current):
            return True
        current = current.__cause__ or current.__context__
    return False
