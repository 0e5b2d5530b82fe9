"""The data behind each figure, as DataFrames, read from the store's aggregates.

Every function here reads a few small tables that the store keeps current as
labels are written (``store/aggregates.py``), so it costs the same for a
thousand images as for a million. Restyle a figure by plotting these yourself.
"""

from __future__ import annotations

import re
from itertools import combinations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..store import LabelStore, StoreError
from ..store import schema as s
from ..store.aggregates import IDENTITY, remapped
from ..store.frames import read_query

SATELLITES = re.compile(r"sentinel|landsat|modis|planet|satellite|worldview|spot", re.I)


def class_frame(store: LabelStore, view: str | None = None) -> pd.DataFrame:
    """Images containing each class, per dataset and task: dataset, task, class, images.

    ``view`` names a class view made by ``store.remap`` (super-classes).
    """
    c = s.class_counts
    with store.engine.connect() as conn:
        frame = _named(conn, sa.select(c.c.task_id, c.c.dataset_id, c.c.class_name, c.c.images)
                       .where(c.c.view_id == _view_id(conn, view)))
        order = read_query(conn, sa.select(s.label_classes.c.task_id, s.label_classes.c.name,
                                           s.label_classes.c.position))
    frame = frame.rename(columns={"class_name": "class"})
    if view is None:  # the task's own class order, as the labeler saw it
        position = order.set_index(["task_id", "name"])["position"]
        frame["position"] = [position.get((t, k), 1 << 30)
                             for t, k in zip(frame["task_id"], frame["class"])]
        frame = frame.sort_values(["dataset", "task", "position", "class"])
    else:
        frame = frame.sort_values(["dataset", "task", "class"])
    return frame[["dataset", "task", "class", "images"]].reset_index(drop=True)


def labeler_frame(store: LabelStore) -> pd.DataFrame:
    """Images and millions of pixels each labeler labeled, per dataset and task."""
    lc = s.labeler_counts
    with store.engine.connect() as conn:
        frame = _named(conn, sa.select(lc))
    frame["megapixels"] = frame.pop("pixels") / 1e6
    frame = frame.rename(columns={"labeler_id": "labeler"})
    frame["labeler"] = frame["labeler"].astype(str)
    return frame.sort_values(["dataset", "task", "labeler"])[
        ["dataset", "task", "labeler", "images", "megapixels"]].reset_index(drop=True)


def dataset_frame(store: LabelStore) -> pd.DataFrame:
    """Per dataset and task: labeled images, millions of pixels, percentage doodled."""
    with store.engine.connect() as conn:
        frame = _named(conn, sa.select(s.dataset_counts))
    frame["megapixels"] = frame["pixels"] / 1e6
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["percent_doodled"] = np.where(frame["doodle_image_pixels"] > 0, 100 * frame[
            "doodled_pixels"] / frame["doodle_image_pixels"].where(
            frame["doodle_image_pixels"] > 0), np.nan)
    return frame.sort_values(["dataset", "task"])[
        ["dataset", "task", "images", "megapixels", "percent_doodled"]].reset_index(drop=True)


def location_frame(store: LabelStore) -> pd.DataFrame:
    """Images per cell of a ``GEO_CELL``-degree grid, placed at the mean location of the
    images in the cell: dataset, sensor, satellite, lat, lon, images."""
    g, d = s.geo_cells, s.datasets
    with store.engine.connect() as conn:
        frame = read_query(conn, sa.select(d.c.name.label("dataset"), d.c.sensor, g.c.images,
                                           (g.c.lat_sum / g.c.images).label("lat"),
                                           (g.c.lon_sum / g.c.images).label("lon"))
                           .join(d, d.c.dataset_id == g.c.dataset_id))
    frame["satellite"] = frame["sensor"].fillna("").str.contains(SATELLITES)
    return frame[["dataset", "sensor", "satellite", "lat", "lon", "images"]]


def class_pixel_frame(store: LabelStore, view: str | None = None) -> pd.DataFrame:
    """Pixels of each class in the masks, per dataset and task, and their proportion."""
    with store.engine.connect() as conn:
        frame = _named(conn, sa.select(s.class_pixels))
        aliases = _aliases(conn, view)
    frame = frame.rename(columns={"class_name": "class"})
    if aliases is not None:
        frame["class"] = [remapped(aliases, d, k) for d, k in zip(frame["dataset"],
                                                                  frame["class"])]
        frame = frame.groupby(["dataset", "task", "class"], as_index=False)["pixels"].sum()
    totals = frame.groupby(["dataset", "task"])["pixels"].transform("sum")
    frame["proportion"] = frame["pixels"] / totals
    return frame.sort_values(["dataset", "task", "class"])[
        ["dataset", "task", "class", "pixels", "proportion"]].reset_index(drop=True)


def split_frame(store: LabelStore, task: str) -> pd.DataFrame:
    """Images containing each class in each split of a task (``store.split``):
    split, class, images; the class "(all)" counts every image of the split."""
    a, refs = s.annotations, s.image_class_refs
    task_id = store._task(task).task_id
    split_rows = sa.select(a.c.image_id, a.c.value.label("split")).where(
        a.c.task_id == task_id, a.c.kind == "split", a.c.is_current,
        sa.not_(a.c.deleted)).subquery()
    with store.engine.connect() as conn:
        classes = read_query(conn, sa.select(
            split_rows.c.split, refs.c.class_name.label("class"),
            sa.func.count().label("images"))
            .join(refs, sa.and_(refs.c.image_id == split_rows.c.image_id,
                                refs.c.task_id == task_id, refs.c.view_id == IDENTITY))
            .group_by(split_rows.c.split, refs.c.class_name))
        totals = read_query(conn, sa.select(split_rows.c.split, sa.literal("(all)").label(
            "class"), sa.func.count().label("images")).group_by(split_rows.c.split))
    return pd.concat([totals, classes], ignore_index=True)


def agreement_frame(store: LabelStore) -> pd.DataFrame:
    """Where two labelers labeled the same image: Cohen's kappa of their tags, and the
    mean per-class IoU of their masks, per dataset, task and pair of labelers.

    Only images with two or more labelers are read (an indexed lookup); masks of
    those images are read from their files, since overlap needs the pixels.
    """
    from sklearn.metrics import cohen_kappa_score

    a, il = s.annotations, s.image_labelers
    with store.engine.connect() as conn:
        shared = conn.execute(sa.select(il.c.task_id, il.c.image_id)
                              .where(il.c.labelers >= 2)).all()
        found = []
        for task_id in sorted({t for t, _ in shared}):
            images = [i for t, i in shared if t == task_id]
            for start in range(0, len(images), 900):
                found.append(_named(conn, sa.select(
                    a.c.task_id, a.c.image_id, a.c.labeler_id, a.c.kind, a.c.value,
                    a.c.annotation_id, s.images.c.dataset_id)
                    .join(s.images, s.images.c.image_id == a.c.image_id).where(
                    a.c.task_id == task_id, a.c.image_id.in_(images[start:start + 900]),
                    a.c.is_current, sa.not_(a.c.deleted), a.c.kind.in_(["tag", "mask"]))))
    rows = pd.concat(found) if found else pd.DataFrame(columns=[
        "task_id", "image_id", "labeler_id", "kind", "value", "annotation_id", "dataset",
        "task"])
    records = []
    tags = rows[rows["kind"] == "tag"]
    answers = (tags.groupby(["dataset", "task", "image_id", "labeler_id"])["value"]
               .agg(lambda v: "+".join(sorted(v))).unstack("labeler_id"))
    for (dataset, task), table in answers.groupby(level=["dataset", "task"]):
        for one, other in combinations(sorted(table.columns), 2):
            both = table[[one, other]].dropna()
            if len(both) >= 2:
                kappa = cohen_kappa_score(both[one], both[other])
                records.append(dict(dataset=dataset, task=task, labeler_a=one, labeler_b=other,
                                    images=len(both), measure="kappa", **{"class": None},
                                    value=float(np.nan_to_num(kappa, nan=1.0))))
    records += _mask_agreement(store, rows[rows["kind"] == "mask"])
    return pd.DataFrame.from_records(records, columns=[
        "dataset", "task", "labeler_a", "labeler_b", "images", "measure", "class", "value"])


def _mask_agreement(store: LabelStore, masks: pd.DataFrame) -> list[dict]:
    records = []
    for (dataset, task), group in masks.groupby(["dataset", "task"]):
        by_image = group.groupby("image_id")
        pairs: dict[tuple, dict[str, list]] = {}
        for _, image_rows in by_image:
            loaded = {r.labeler_id: store.mask(r.annotation_id) for r in image_rows.itertuples()}
            for one, other in combinations(sorted(loaded), 2):
                (m1, c1), (m2, c2) = loaded[one], loaded[other]
                if m1.shape != m2.shape:
                    continue
                n1, n2 = np.asarray(c1, dtype=object)[m1], np.asarray(c2, dtype=object)[m2]
                for name in sorted(set(c1) | set(c2)):
                    union = np.count_nonzero((n1 == name) | (n2 == name))
                    if union:
                        inter = np.count_nonzero((n1 == name) & (n2 == name))
                        pairs.setdefault((one, other), {}).setdefault(name, []).append(
                            inter / union)
        for (one, other), per_class in pairs.items():
            for name, ious in per_class.items():
                records.append(dict(dataset=dataset, task=task, labeler_a=one, labeler_b=other,
                                    images=len(ious), measure="iou", **{"class": name},
                                    value=float(np.mean(ious))))
    return records


def _named(conn, query) -> pd.DataFrame:
    """A query's rows with dataset names and task titles beside their ids."""
    frame = read_query(conn, query)
    datasets = dict(conn.execute(sa.select(s.datasets.c.dataset_id, s.datasets.c.name)).all())
    tasks = dict(conn.execute(sa.select(s.tasks.c.task_id, s.tasks.c.title)).all())
    frame["dataset"] = frame["dataset_id"].map(datasets)
    frame["task"] = frame["task_id"].map(tasks)
    return frame


def _view_id(conn, view: str | None) -> int:
    if view is None:
        return IDENTITY
    view_id = conn.execute(sa.select(s.class_views.c.view_id)
                           .where(s.class_views.c.name == view)).scalar()
    if view_id is None:
        raise StoreError(f"no class view named {view!r}; make one with store.remap")
    return view_id


def _aliases(conn, view: str | None):
    if view is None:
        return None
    _view_id(conn, view)
    return conn.execute(sa.select(s.class_views.c.aliases)
                        .where(s.class_views.c.name == view)).scalar()
