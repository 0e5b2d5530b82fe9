"""Engines for the store: one SQLite file (WAL) or a PostgreSQL URL.

Everything above this module speaks SQLAlchemy Core and does not know which
backend it has, so adding a server backend is configuration, not a rewrite.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

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
        return sa.create_engine(url, pool_pre_ping=True)
    raise ValueError(f"unsupported store URL {target!r}: use a file path or postgresql://")


def _sqlite_engine(path: Path) -> sa.Engine:
    path = path.expanduser().absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a killed process
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # A writer takes the lock up front, so two writers never deadlock on an upgrade.
        immediate = connection.get_execution_options().get("geolabel_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def writer(engine: sa.Engine) -> sa.Engine:
    """The same engine, whose transactions take the write lock when they begin."""
    return engine.execution_options(geolabel_write=True)
