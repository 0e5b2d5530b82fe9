"""Engines for the store: one SQLite file (WAL) or a PostgreSQL URL.

Everything above this module speaks SQLAlchemy Core and does not know which
backend it has, so adding a server backend is configuration, not a rewrite.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from .types import StoreError

# A labeler's kernel waits behind another's commit rather than failing.
SQLITE_BUSY_TIMEOUT_MS = 120_000


def is_url(target: str | os.PathLike) -> bool:
    return "://" in str(target)


def make_engine(target: str | os.PathLike) -> sa.Engine:
    if not is_url(target):
        return _sqlite_engine(Path(target))
    url = sa.make_url(str(target))
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(Path(url.database))
    if url.get_backend_name() == "postgresql":
        return _postgresql_engine(url)
    raise ValueError(f"unsupported store URL {target!r}: use a file path or postgresql://")


# One writer at a time, as SQLite's BEGIN IMMEDIATE gives: a write reads what it
# supersedes and moves shared counts, so two at once could both read the same state.
WRITE_LOCK = 0x67656F6C  # an advisory lock key of our own ("geol"), per database


def _postgresql_engine(url: sa.URL) -> sa.Engine:
    # a server that does not answer is an error within seconds, not a hung kernel
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})

    @event.listens_for(engine, "begin")
    def _begin(connection):
        if connection.get_execution_options().get("geolabel_write", False):
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    return engine


def _sqlite_engine(path: Path) -> sa.Engine:
    path = path.expanduser().absolute()
    read_only = _read_only_uri(path)
    _refuse_foreign(path, read_only)
    if read_only is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    uri = read_only or path.as_uri()
    engine = sa.create_engine(f"sqlite:///{path}", creator=lambda: sqlite3.connect(
        uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False))

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        if read_only is None:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a kill
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        if connection.get_execution_options().get("geolabel_write", False):
            _begin_immediate(connection.connection.dbapi_connection)
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def _read_only_uri(path: Path) -> str | None:
    """How to open a store this process may not write (its file or folder is read-only,
    as on a published release); None for one it may write, or a new one."""
    if not path.is_file() or (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return None
    # SQLite cannot make the WAL index beside it; with none there, no writer is at
    # work, so the file is read as it is
    shared_index = path.with_name(path.name + "-shm").exists()
    return f"{path.as_uri()}?mode=ro" + ("" if shared_index else "&immutable=1")


def _refuse_foreign(path: Path, read_only: str | None) -> None:
    """An existing file must be a store (or empty): checked read-only, before the
    engine's first connection sets WAL mode, which would write to another's file."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with closing(sqlite3.connect(read_only or f"{path.as_uri()}?mode=ro",
                                     uri=True)) as conn:
            tables = sorted(name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"))
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path} is not an SQLite database ({err}); a store is a new "
                         "file or one geolabel_widgets made") from None
    if tables and "store_info" not in tables:
        raise StoreError(f"{path} is another application's SQLite database (tables: "
                         f"{', '.join(tables[:5])}); refused, and left as it was")


def storage_refused(err: BaseException, location: str) -> StoreError | None:
    """A write SQLite refused for want of permission or room, as one clear line.

    A full disk inside a savepoint surfaces as "no such savepoint" (SQLite rolled
    the whole transaction back); the cause is in the error's context.
    """
    for _ in range(8):  # the chain of errors raised while handling one another
        if err is None:
            return None
        text = str(getattr(err, "orig", err))
        if "readonly database" in text:
            return StoreError(f"the store {location} is read-only (its file or folder "
                              "cannot be written): nothing of this call was written")
        if "database or disk is full" in text:
            return StoreError(f"the disk holding the store {location} is full: nothing of "
                              "this call was written; the labels already made are kept")
        err = err.__context__
    return None


def _begin_immediate(dbapi_connection) -> None:
    """Take the write lock up front, so two writers never deadlock on an upgrade.

    SQLite's own busy handler sleeps up to 100 ms between tries, which makes a
    queue of kernels crawl; waiting here in short random steps keeps each tag's
    wait near the time the lock is really held.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    dbapi_connection.execute("PRAGMA busy_timeout=1")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.0002, 0.002))
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def writer(engine: sa.Engine) -> sa.Engine:
    """The same engine, whose transactions take the write lock when they begin."""
    return engine.execution_options(geolabel_write=True)
