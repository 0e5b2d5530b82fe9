"""The distribution aggregates: updated by every label write, rebuilt from rows on demand.

The figures of ``geolabel_widgets.plots`` read these small tables instead of
scanning every label, so they cost the same at a thousand images or a million.
Each current label row *contributes* classes, a labeler's presence, mask pixels
or a doodled fraction to its image; a write replaces one contribution by another
(a ``Delta``, summed per image over an action and then ``apply``-ed), and
``recompute`` derives every table from the rows alone,
which is how stores are migrated and how the tests check the bookkeeping.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from . import schema as s
from .frames import NOT_LABELS, read_query
from .types import chunks

IDENTITY = 0  # the view_id of class names as labeled


@dataclass(frozen=True)
class Contribution:
    """What one current label row adds to its image's aggregates."""

    classes: tuple = ()  # class names the row says the image contains
    labels: bool = False  # whether it counts as its labeler's work on the image
    class_pixels: tuple = ()  # (class, pixels) of a dense mask
    doodled: float | None = None  # fraction of the image a person doodled


NOTHING = Contribution()


def contribution(kind: str, value, deleted: bool, props=None, counts: dict | None = None,
                 mask_size: int | None = None) -> Contribution:
    if deleted or kind in NOT_LABELS:
        return NOTHING
    if kind == "doodles":
        return Contribution(labels=True, doodled=_doodled_fraction(props, counts, mask_size))
    if kind == "mask":
        present = tuple(sorted(c for c, n in (counts or {}).items() if n > 0))
        return Contribution(classes=present, labels=True,
                            class_pixels=tuple(sorted((counts or {}).items())))
    return Contribution(classes=(value,) if value else (), labels=True)


def _doodled_fraction(props, counts, mask_size) -> float | None:
    if counts is not None and mask_size:
        return sum(counts.values()) / mask_size
    fraction = (props or {}).get("doodled_fraction")  # a catalogue row without its raster
    return float(fraction) if fraction is not None else None


_VIEWS = sa.text("SELECT view_id, aliases FROM class_views").columns(
    sa.column("view_id", sa.Integer), sa.column("aliases", sa.JSON))


def class_views(conn) -> list[tuple[int, dict]]:
    return [(view_id, aliases) for view_id, aliases in conn.execute(_VIEWS)]


def remapped(aliases: dict, dataset: str, name: str) -> str:
    """A class name under a view: the dataset's own map first, then the common one."""
    own = aliases.get(dataset) or {}
    return own.get(name) or (aliases.get("*") or {}).get(name) or name


# -- incremental updates -------------------------------------------------------------------
@dataclass
class Delta:
    """The net change of one labeler's contributions to one image. Changes add up, so an
    action that writes many rows to an image (an import, an undo) moves its counts once."""

    classes: Counter = field(default_factory=Counter)
    refs: int = 0  # rows counting as the labeler's work
    class_pixels: Counter = field(default_factory=Counter)
    doodles: int = 0
    doodled: float = 0.0  # summed doodled fractions

    def add(self, before: Contribution, after: Contribution) -> None:
        """Replace one row's contribution by its successor's."""
        self.classes.update(after.classes)
        self.classes.subtract(before.classes)
        self.refs += after.labels - before.labels
        self.class_pixels.update(dict(after.class_pixels))
        self.class_pixels.subtract(dict(before.class_pixels))
        for sign, row in ((-1, before), (1, after)):
            if row.doodled is not None:
                self.doodles += sign
                self.doodled += sign * row.doodled


def apply(conn, task_id: int, deltas: dict[tuple[str, str], Delta]) -> None:
    """Move the aggregates by the net changes of (image id, labeler) pairs: the reference
    counts one by one (each an atomic increment, safe beside other writers), the count
    tables summed per row first, in a fixed order."""
    counts: dict[tuple[sa.Table, tuple], Counter] = {}

    def count(table: sa.Table, key: tuple, **values) -> None:
        counts.setdefault((table, key), Counter()).update(values)

    images = _images(conn, sorted({image_id for image_id, _ in deltas}))
    views = None
    for (image_id, labeler_id), delta in sorted(deltas.items()):
        dataset_id, dataset, size = images[image_id]
        if any(delta.classes.values()):
            views = views or [(IDENTITY, None)] + class_views(conn)
            for view_id, aliases in views:
                mapped = Counter()
                for name, n in delta.classes.items():
                    mapped[remapped(aliases, dataset, name) if aliases else name] += n
                for name, n in mapped.items():
                    if n and _crossed(_add(conn, s.image_class_refs, dict(
                            view_id=view_id, task_id=task_id, image_id=image_id,
                            class_name=name), refs=n)):
                        count(s.class_counts, (view_id, task_id, dataset_id, name),
                              images=1 if n > 0 else -1)
        for name, n in delta.class_pixels.items():
            count(s.class_pixels, (task_id, dataset_id, name), pixels=n)
        if delta.refs:
            step = 1 if delta.refs > 0 else -1
            if _crossed(_add(conn, s.image_labeler_refs, dict(
                    task_id=task_id, image_id=image_id, labeler_id=labeler_id),
                    refs=delta.refs)):
                count(s.labeler_counts, (task_id, dataset_id, labeler_id),
                      images=step, pixels=step * size)
                if _crossed(_add(conn, s.image_labelers, dict(task_id=task_id,
                                                              image_id=image_id),
                                 labelers=step)):
                    count(s.dataset_counts, (task_id, dataset_id), images=step,
                          pixels=step * size)
        if delta.doodles or abs(delta.doodled) > 1e-12:
            count(s.dataset_counts, (task_id, dataset_id), doodles=delta.doodles,
                  doodle_image_pixels=delta.doodles * size,
                  doodled_pixels=delta.doodled * size)
    for (table, key), values in sorted(counts.items(), key=lambda item: (item[0][0].name,
                                                                          item[0][1])):
        if any(abs(v) > 1e-6 for v in values.values()):
            columns = [c.name for c in table.columns]
            _add(conn, table, dict(zip(columns, key)),
                 **{c: values.get(c, 0) for c in columns[len(key):]})


def _images(conn, image_ids: list[str]) -> dict[str, tuple[int, str, int]]:
    """Image id -> its dataset's id and name, and its size in pixels."""
    i, d = s.images, s.datasets
    found = {}
    for chunk in chunks(image_ids, 900):
        for row in conn.execute(sa.select(i.c.image_id, i.c.dataset_id, d.c.name, i.c.width,
                                          i.c.height)
                                .join(d, d.c.dataset_id == i.c.dataset_id)
                                .where(i.c.image_id.in_(chunk))):
            found[row.image_id] = (row.dataset_id, row.name, (row.width or 0) * (row.height or 0))
    return found


def on_images_added(conn, rows: list[dict]) -> None:
    cells: dict[tuple, list] = {}
    for row in rows:
        lat, lon = row.get("lat"), row.get("lon")
        if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
            continue
        key = (row["dataset_id"], math.floor(lat / s.GEO_CELL), math.floor(lon / s.GEO_CELL))
        cell = cells.setdefault(key, [0, 0.0, 0.0])
        cell[0] += 1
        cell[1] += lat
        cell[2] += lon
    for (dataset_id, lat_cell, lon_cell), (n, lat_sum, lon_sum) in cells.items():
        _add(conn, s.geo_cells, dict(dataset_id=dataset_id, lat_cell=lat_cell,
                                     lon_cell=lon_cell), images=n, lat_sum=lat_sum,
             lon_sum=lon_sum)


def _add(conn, table: sa.Table, key: dict, **deltas) -> tuple[dict, dict]:
    """Add ``deltas`` to the row at ``key`` (created at zero, deleted back at zero)."""
    upsert, delete = _statements(table.name, tuple(key), tuple(deltas))
    new = dict(zip(deltas, conn.execute(upsert, {**key, **deltas}).one()))
    if all(abs(v) < 1e-6 for v in new.values()):
        conn.execute(delete, key)
    return {c: new[c] - d for c, d in deltas.items()}, new


@functools.cache
def _statements(table: str, keys: tuple, columns: tuple) -> tuple[sa.TextClause, ...]:
    # Plain text: these run several times per label written, and building Core
    # expressions each time cost more than the queries themselves. One upsert
    # (SQLite >= 3.35 and PostgreSQL) instead of a read and a write: a round trip less.
    return (
        sa.text(f"INSERT INTO {table} ({', '.join(keys + columns)}) "
                f"VALUES ({', '.join(':' + c for c in keys + columns)}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
                + f" RETURNING {', '.join(columns)}"),
        sa.text(f"DELETE FROM {table} WHERE {' AND '.join(f'{k} = :{k}' for k in keys)}"),
    )


def _crossed(change: tuple[dict, dict]) -> bool:
    """Whether a reference count went from zero to some or from some to zero."""
    (old,), (new,) = change[0].values(), change[1].values()
    return (old > 0) != (new > 0)


def build_view(conn, view_id: int, aliases: dict) -> None:
    """(Re)derive a class view's counts from the identity view's reference counts."""
    refs, cc, i = s.image_class_refs, s.class_counts, s.images
    for table in (refs, cc):
        conn.execute(sa.delete(table).where(table.c.view_id == view_id))
    rows = read_query(conn, sa.select(refs.c.task_id, refs.c.image_id, refs.c.class_name,
                                      refs.c.refs, i.c.dataset_id,
                                      s.datasets.c.name.label("dataset"))
                      .join(i, i.c.image_id == refs.c.image_id)
                      .join(s.datasets, s.datasets.c.dataset_id == i.c.dataset_id)
                      .where(refs.c.view_id == IDENTITY))
    rows["class_name"] = [remapped(aliases, d, c)
                          for d, c in zip(rows["dataset"], rows["class_name"])]
    mapped = (rows.groupby(["task_id", "image_id", "dataset_id", "class_name"])["refs"].sum()
              .reset_index().assign(view_id=view_id))
    counts = (mapped.groupby(["view_id", "task_id", "dataset_id", "class_name"]).size()
              .rename("images").reset_index())
    _insert_frame(conn, refs, mapped)
    _insert_frame(conn, cc, counts)


# -- from the rows alone -------------------------------------------------------------------
def recompute(conn) -> dict[str, pd.DataFrame]:
    """Every aggregate table, derived from the current rows (no bookkeeping involved)."""
    a, i = s.annotations, s.images
    rows = read_query(conn, sa.select(a.c.annotation_id, a.c.task_id, a.c.image_id,
                                      a.c.labeler_id, a.c.kind, a.c.value, a.c.props).where(
        a.c.is_current, sa.not_(a.c.deleted), a.c.kind.not_in(NOT_LABELS)))
    images = read_query(conn, sa.select(i.c.image_id, i.c.dataset_id, i.c.width, i.c.height,
                                        i.c.lon, i.c.lat, s.datasets.c.name.label("dataset"))
                        .join(s.datasets, s.datasets.c.dataset_id == i.c.dataset_id))
    images["size"] = (images["width"].fillna(0) * images["height"].fillna(0)).astype("int64")
    current = sa.select(a.c.annotation_id).where(a.c.is_current, sa.not_(a.c.deleted))
    pixels = read_query(conn, sa.select(s.mask_pixels).where(
        s.mask_pixels.c.annotation_id.in_(current)))
    mask_sizes = read_query(conn, sa.select(
        s.masks.c.annotation_id, (s.masks.c.width * s.masks.c.height).label("mask_size")
    ).where(s.masks.c.annotation_id.in_(current)))
    rows = rows.merge(images[["image_id", "dataset_id", "dataset", "size"]], on="image_id")
    pixels = pixels.merge(rows[["annotation_id", "kind", "task_id", "image_id", "dataset_id",
                                "dataset"]], on="annotation_id")
    masks = pixels[pixels["kind"] == "mask"]

    present = pd.concat([
        rows.loc[~rows["kind"].isin(["mask", "doodles"]) & rows["value"].notna(),
                 ["task_id", "image_id", "dataset_id", "dataset", "value"]]
        .rename(columns={"value": "class_name"}),
        masks.loc[masks["pixels"] > 0, ["task_id", "image_id", "dataset_id", "dataset",
                                        "class_name"]],
    ])
    class_refs = []
    for view_id, aliases in [(IDENTITY, None)] + class_views(conn):
        names = present["class_name"] if aliases is None else pd.Series(
            [remapped(aliases, d, c) for d, c in zip(present["dataset"], present["class_name"])],
            index=present.index, dtype=object)
        class_refs.append(present.assign(view_id=view_id, class_name=names)
                          .groupby(["view_id", "task_id", "image_id", "dataset_id",
                                    "class_name"]).size().rename("refs").reset_index())
    class_refs = pd.concat(class_refs)

    labeler_refs = (rows.groupby(["task_id", "image_id", "dataset_id", "labeler_id"])
                    .size().rename("refs").reset_index()
                    .merge(images[["image_id", "size"]], on="image_id"))
    per_image = (labeler_refs.groupby(["task_id", "image_id", "dataset_id", "size"]).size()
                 .rename("labelers").reset_index())
    doodles = rows[rows["kind"] == "doodles"].merge(mask_sizes, on="annotation_id", how="left")
    doodled = (pixels[pixels["kind"] == "doodles"].groupby("annotation_id")["pixels"].sum())
    doodles["doodled"] = [
        _doodled_fraction(_props(p), {"": doodled[k]} if k in doodled.index else None,
                          m if m == m else None)
        for k, p, m in zip(doodles["annotation_id"], doodles["props"], doodles["mask_size"])]
    doodles = doodles[doodles["doodled"].notna()]
    dataset_key = ["task_id", "dataset_id"]
    datasets = per_image.groupby(dataset_key).agg(images=("image_id", "size"),
                                                  pixels=("size", "sum")).join(
        doodles.assign(pixels=doodles["doodled"] * doodles["size"]).groupby(dataset_key).agg(
            doodles=("annotation_id", "size"), doodle_image_pixels=("size", "sum"),
            doodled_pixels=("pixels", "sum")), how="outer").fillna(0).reset_index()
    located = images.dropna(subset=["lat", "lon"])
    return {
        "image_class_refs": class_refs.drop(columns="dataset_id"),
        "class_counts": class_refs.groupby(["view_id", "task_id", "dataset_id", "class_name"])
        .size().rename("images").reset_index(),
        "class_pixels": masks.groupby(["task_id", "dataset_id", "class_name"])["pixels"]
        .sum().reset_index(),
        "image_labeler_refs": labeler_refs[["task_id", "image_id", "labeler_id", "refs"]],
        "labeler_counts": labeler_refs.groupby(["task_id", "dataset_id", "labeler_id"])
        .agg(images=("image_id", "size"), pixels=("size", "sum")).reset_index(),
        "image_labelers": per_image[["task_id", "image_id", "labelers"]],
        "dataset_counts": datasets,
        "geo_cells": located.assign(
            lat_cell=np.floor(located["lat"] / s.GEO_CELL).astype("int64"),
            lon_cell=np.floor(located["lon"] / s.GEO_CELL).astype("int64"))
        .groupby(["dataset_id", "lat_cell", "lon_cell"]).agg(
            images=("image_id", "size"), lat_sum=("lat", "sum"), lon_sum=("lon", "sum"))
        .reset_index(),
    }


def _props(value):
    return json.loads(value) if isinstance(value, str) else value


def rebuild(conn) -> None:
    """Replace every aggregate table by what the rows say (migration, bulk loads)."""
    tables = recompute(conn)
    for table in s.AGGREGATES:
        conn.execute(sa.delete(table))
        _insert_frame(conn, table, tables[table.name])


def stored(conn) -> dict[str, pd.DataFrame]:
    """The aggregate tables as they are, to compare with ``recompute``."""
    return {table.name: read_query(conn, sa.select(table)) for table in s.AGGREGATES}


def _insert_frame(conn, table: sa.Table, frame: pd.DataFrame, chunk: int = 50_000) -> None:
    columns = [c.name for c in table.columns]
    for start in range(0, len(frame), chunk):
        records = frame.iloc[start:start + chunk][columns].to_dict("records")
        conn.execute(sa.insert(table), [{k: _plain(v) for k, v in r.items()} for r in records])


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
