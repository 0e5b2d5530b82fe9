"""Moving a whole store between backends (SQLite file <-> PostgreSQL), losing nothing."""

from __future__ import annotations

import os

import sqlalchemy as sa

from . import schema as s
from .labelstore import LabelStore
from .types import StoreError

CHUNK = 5000


def copy_store(source: str | os.PathLike, dest: str | os.PathLike, *,
               source_masks: str | os.PathLike | None = None,
               dest_masks: str | os.PathLike | None = None) -> dict[str, int]:
    """Copy every row of every table, and the masks' PNGs, into an empty store.

    Row ids are kept, so history, actions and masks keep pointing at each other; on
    PostgreSQL the id sequences then continue after them. One transaction on the
    destination. Returns the rows copied per table.
    """
    with LabelStore.open(source, mask_dir=source_masks) as src, \
            LabelStore.open(dest, mask_dir=dest_masks) as dst:
        copied = {}
        with src.engine.connect() as read, dst._writer.begin() as write:
            for table in (s.images, s.annotations, s.tasks):
                if write.execute(sa.select(sa.func.count()).select_from(table)).scalar():
                    raise StoreError(f"{dest} already holds a store ({table.name} has rows); "
                                     "copy into a new one")
            for table in s.metadata.sorted_tables:
                if table in (s.store_info, s.mask_files):
                    continue  # its own, written on opening; masks go below, where they live
                copied[table.name] = 0
                result = read.execution_options(yield_per=CHUNK).execute(sa.select(table))
                for rows in result.mappings().partitions():
                    write.execute(sa.insert(table), [dict(r) for r in rows])
                    copied[table.name] += len(rows)
            if write.dialect.name == "postgresql":
                _continue_sequences(write)
            paths = read.execute(sa.select(s.masks.c.path).distinct()).scalars().all()
            for path in paths:  # files or rows, as each store keeps them
                dst.masks_at.put(write, path, src.masks_at.get(read, path))
            copied[s.mask_files.name] = len(paths)
        return copied


def _continue_sequences(conn) -> None:
    for table in s.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True:
                conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"))
