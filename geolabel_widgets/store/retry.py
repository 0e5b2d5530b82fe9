"""Riding out a database server that went away (a restart, a dropped network).

A store call is one transaction, so a call that failed because the server went
away wrote nothing; it is tried again, whole, until the server answers or the
store's patience runs out, and then fails with StoreUnavailable. SQLite files
do not go away, so calls on them run once.

Every public store method that touches the database is retried; add_images and
add_chips retry only their writing step, so files are read once. A
``transaction()`` block is not: the caller's code in it cannot be run again for
them, so it fails with StoreUnavailable at once.
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager

import sqlalchemy as sa

from .types import StoreError

PATIENCE_SECONDS = 60.0  # about a server restart, with room to spare


class StoreUnavailable(StoreError):
    """The database server did not answer; nothing of the call was written."""


def server_gone(err: BaseException) -> bool:
    """Errors that say the server or the connection failed, not the statement."""
    return isinstance(err, (sa.exc.OperationalError, sa.exc.InterfaceError)) or \
        getattr(err, "connection_invalidated", False)


def unavailable(location: str, err: BaseException, waited: float = 0.0) -> StoreUnavailable:
    reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
    tried = f"; tried for {waited:.0f} s" if waited >= 1 else ""
    return StoreUnavailable(f"cannot reach the database {location} ({reason}){tried}. "
                            "Nothing of this call was written")


def retried(method):
    """Run a store method again, whole, while the server is away (see the module)."""
    @functools.wraps(method)
    def call(store, *args, **kwargs):
        local = store._local
        if not store.on_server or getattr(local, "conn", None) is not None or \
                getattr(local, "retrying", False):  # the outermost call retries
            return method(store, *args, **kwargs)
        local.retrying = True
        started = time.monotonic()
        delay = 0.05
        try:
            while True:
                try:
                    return method(store, *args, **kwargs)
                except (sa.exc.DBAPIError, StoreUnavailable) as raised:
                    # transaction() says StoreUnavailable at once; its cause is retried here
                    err = raised.__cause__ if isinstance(raised, StoreUnavailable) else raised
                    waited = time.monotonic() - started
                    if not isinstance(err, sa.exc.DBAPIError) or not server_gone(err):
                        raise
                    if waited + delay > store_patience(store):
                        raise unavailable(store.location, err, waited) from err
                    store._cache.forget()  # rows it vouched for may have been rolled back
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
        finally:
            local.retrying = False
    return call


def store_patience(store) -> float:
    seconds = getattr(store._local, "patience", None)
    return store.patience if seconds is None else seconds


@contextmanager
def waiting_at_most(store, seconds: float):
    """Calls in this block (in this thread) wait at most ``seconds`` for the server."""
    before = getattr(store._local, "patience", None)
    store._local.patience = seconds
    try:
        yield store
    finally:
        store._local.patience = before
