"""The counts behind the distribution figures, read from the aggregates.

Each reader returns the rows of one small aggregate table (``aggregates.py`` keeps
them current) with dataset names and task titles beside their ids; ``plots.frames``
shapes them into each figure's frame.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from . import schema as s
from .aggregates import IDENTITY, remapped
from .frames import read_query
from .types import StoreError


def classes(conn, view: str | None) -> pd.DataFrame:
    """Images containing each class: dataset, task, class, images, position (the class's
    place in its task; None for a view's classes)."""
    c, lc = s.class_counts, s.label_classes
    frame = _named(conn, sa.select(c.c.task_id, c.c.dataset_id, c.c.class_name, c.c.images)
                   .where(c.c.view_id == _view_id(conn, view)))
    frame = frame.rename(columns={"class_name": "class"})
    if view is None:  # the task's own class order, as the labeler saw it
        order = read_query(conn, sa.select(lc.c.task_id, lc.c.name, lc.c.position))
        position = order.set_index(["task_id", "name"])["position"]
        frame["position"] = [position.get((t, k)) for t, k in zip(frame["task_id"],
                                                                  frame["class"])]
    else:
        frame["position"] = None
    return frame


def labelers(conn) -> pd.DataFrame:
    """Images and pixels each labeler labeled: dataset, task, labeler_id, images, pixels."""
    return _named(conn, sa.select(s.labeler_counts))


def datasets(conn) -> pd.DataFrame:
    """Labeled images, pixels and doodled pixels per dataset and task."""
    return _named(conn, sa.select(s.dataset_counts))


def cells(conn) -> pd.DataFrame:
    """Images per grid cell at their mean location: dataset, sensor, images, lat, lon."""
    g, d = s.geo_cells, s.datasets
    return read_query(conn, sa.select(d.c.name.label("dataset"), d.c.sensor, g.c.images,
                                      (g.c.lat_sum / g.c.images).label("lat"),
                                      (g.c.lon_sum / g.c.images).label("lon"))
                      .join(d, d.c.dataset_id == g.c.dataset_id))


def class_pixels(conn, view: str | None) -> pd.DataFrame:
    """Mask pixels per dataset, task and class (the view's classes when one is given)."""
    frame = _named(conn, sa.select(s.class_pixels)).rename(columns={"class_name": "class"})
    if view is None:
        return frame
    _view_id(conn, view)
    aliases = conn.execute(sa.select(s.class_views.c.aliases)
                           .where(s.class_views.c.name == view)).scalar()
    frame["class"] = [remapped(aliases, d, k) for d, k in zip(frame["dataset"], frame["class"])]
    return frame.groupby(["dataset", "task", "class"], as_index=False)["pixels"].sum()


def split_classes(conn, task_id: int) -> pd.DataFrame:
    """Images containing each class in each split of a task: split, class, images; the
    class "(all)" counts every image of the split."""
    a, refs = s.annotations, s.image_class_refs
    split_rows = sa.select(a.c.image_id, a.c.value.label("split")).where(
        a.c.task_id == task_id, a.c.kind == "split", a.c.is_current,
        sa.not_(a.c.deleted)).subquery()
    per_class = read_query(conn, sa.select(
        split_rows.c.split, refs.c.class_name.label("class"), sa.func.count().label("images"))
        .join(refs, sa.and_(refs.c.image_id == split_rows.c.image_id,
                            refs.c.task_id == task_id, refs.c.view_id == IDENTITY))
        .group_by(split_rows.c.split, refs.c.class_name))
    totals = read_query(conn, sa.select(split_rows.c.split, sa.literal("(all)").label(
        "class"), sa.func.count().label("images")).group_by(split_rows.c.split))
    return pd.concat([totals, per_class], ignore_index=True)


def shared_labels(conn) -> pd.DataFrame:
    """The current tags, shapes and masks of images two or more labelers labeled (an
    indexed lookup): dataset, task, image_id, labeler_id, kind, value, annotation_id,
    geometry (WKB, for shapes)."""
    a, il = s.annotations, s.image_labelers
    shared = conn.execute(sa.select(il.c.task_id, il.c.image_id)
                          .where(il.c.labelers >= 2)).all()
    found = []
    for task_id in sorted({t for t, _ in shared}):
        images = [i for t, i in shared if t == task_id]
        for start in range(0, len(images), 900):  # SQLite's bound parameters
            found.append(_named(conn, sa.select(
                a.c.task_id, a.c.image_id, a.c.labeler_id, a.c.kind, a.c.value,
                a.c.annotation_id, a.c.geometry, s.images.c.dataset_id)
                .join(s.images, s.images.c.image_id == a.c.image_id).where(
                a.c.task_id == task_id, a.c.image_id.in_(images[start:start + 900]),
                a.c.is_current, sa.not_(a.c.deleted),
                a.c.kind.in_(["tag", "mask", *s.SHAPE_KINDS]))))
    if found:
        return pd.concat(found, ignore_index=True)
    return pd.DataFrame(columns=["task_id", "image_id", "labeler_id", "kind", "value",
                                 "annotation_id", "geometry", "dataset_id", "dataset", "task"])


BY_VIEW = {"classes": classes, "class pixels": class_pixels}
WHOLE = {"labelers": labelers, "datasets": datasets, "cells": cells, "shared": shared_labels}


def _named(conn, query) -> pd.DataFrame:
    """A query's rows with dataset names and task titles beside their ids."""
    frame = read_query(conn, query)
    names = dict(conn.execute(sa.select(s.datasets.c.dataset_id, s.datasets.c.name)).all())
    titles = dict(conn.execute(sa.select(s.tasks.c.task_id, s.tasks.c.title)).all())
    frame["dataset"] = frame["dataset_id"].map(names)
    frame["task"] = frame["task_id"].map(titles)
    return frame


def _view_id(conn, view: str | None) -> int:
    if view is None:
        return IDENTITY
    view_id = conn.execute(sa.select(s.class_views.c.view_id)
                           .where(s.class_views.c.name == view)).scalar()
    if view_id is None:
        raise StoreError(f"no class view named {view!r}; make one with store.remap")
    return view_id
