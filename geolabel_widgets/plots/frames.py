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

from ..store import LabelStore
from ..store import agreement

SATELLITES = re.compile(r"sentinel|landsat|modis|planet|satellite|worldview|spot", re.I)


def class_frame(store: LabelStore, view: str | None = None) -> pd.DataFrame:
    """Images containing each class, per dataset and task: dataset, task, class, images.

    ``view`` names a class view made by ``store.remap`` (super-classes).
    """
    frame = store.distribution("classes", view=view)
    if view is None:  # the task's own class order, as the labeler saw it
        frame["position"] = frame["position"].fillna(1 << 30)
        frame = frame.sort_values(["dataset", "task", "position", "class"])
    else:
        frame = frame.sort_values(["dataset", "task", "class"])
    return frame[["dataset", "task", "class", "images"]].reset_index(drop=True)


def labeler_frame(store: LabelStore) -> pd.DataFrame:
    """Images and millions of pixels each labeler labeled, per dataset and task."""
    frame = store.distribution("labelers")
    frame["megapixels"] = frame.pop("pixels") / 1e6
    frame = frame.rename(columns={"labeler_id": "labeler"})
    frame["labeler"] = frame["labeler"].astype(str)
    return frame.sort_values(["dataset", "task", "labeler"])[
        ["dataset", "task", "labeler", "images", "megapixels"]].reset_index(drop=True)


def dataset_frame(store: LabelStore) -> pd.DataFrame:
    """Per dataset and task: labeled images, millions of pixels, percentage doodled."""
    frame = store.distribution("datasets")
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
    frame = store.distribution("cells")
    frame["satellite"] = frame["sensor"].fillna("").str.contains(SATELLITES)
    return frame[["dataset", "sensor", "satellite", "lat", "lon", "images"]]


def class_pixel_frame(store: LabelStore, view: str | None = None) -> pd.DataFrame:
    """Pixels of each class in the masks, per dataset and task, and their proportion."""
    frame = store.distribution("class pixels", view=view)
    totals = frame.groupby(["dataset", "task"])["pixels"].transform("sum")
    frame["proportion"] = frame["pixels"] / totals
    return frame.sort_values(["dataset", "task", "class"])[
        ["dataset", "task", "class", "pixels", "proportion"]].reset_index(drop=True)


def split_frame(store: LabelStore, task: str) -> pd.DataFrame:
    """Images containing each class in each split of a task (``store.split``):
    split, class, images; the class "(all)" counts every image of the split."""
    return store.distribution("splits", task=task)


def agreement_frame(store: LabelStore, threshold: float = 0.5) -> pd.DataFrame:
    """Where two or more labelers labeled the same images, per dataset and task: for
    tags Krippendorff's alpha over all of them (``alpha``) and Cohen's kappa per pair;
    for shapes, per pair, precision, recall, F1 and the mean IoU of shapes matched at
    ``threshold`` IoU; for masks, per pair, IoU and Dice per class and Coast Train's
    mean IoU over the images both labeled (``coasttrain_iou``). See ``agreement``.

    Only images with two or more labelers are read (an indexed lookup); masks of
    those images are read from their files, since overlap needs the pixels.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"an IoU threshold is between 0 and 1, not {threshold}")
    rows = store.distribution("shared")
    records = []
    for (dataset, task), group in rows.groupby(["dataset", "task"], sort=True):
        where = dict(dataset=dataset, task=task)
        records += _tag_agreement(group[group["kind"] == "tag"], where)
        records += _shape_agreement(group[~group["kind"].isin(["tag", "mask"])], where,
                                    threshold)
        records += _mask_agreement(store, group[group["kind"] == "mask"], where)
    return pd.DataFrame.from_records(records, columns=[
        "dataset", "task", "labeler_a", "labeler_b", "images", "measure", "class", "value"])


def gold_frame(store: LabelStore, threshold: float = 0.5) -> pd.DataFrame:
    """Each labeler against the known answers of gold images, per task with gold:
    task, labeler, kind, images, accuracy, mean_iou (``store.gold_accuracy``)."""
    tables = [store.gold_accuracy(task, threshold=threshold).assign(task=task)
              for task in store.tasks.index]
    columns = ["task", "labeler", "kind", "images", "accuracy", "mean_iou"]
    tables = [table[columns] for table in tables if len(table)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)


def _record(where: dict, one, other, images: int, measure: str, value: float,
            cls: str | None = None) -> dict:
    return dict(**where, labeler_a=one, labeler_b=other, images=images, measure=measure,
                **{"class": cls}, value=float(value))


def _tag_agreement(tags: pd.DataFrame, where: dict) -> list[dict]:
    from sklearn.metrics import cohen_kappa_score

    if not len(tags):
        return []
    answers = (tags.groupby(["image_id", "labeler_id"])["value"]
               .agg(lambda v: "+".join(sorted(v))).unstack("labeler_id"))
    ratings = answers.stack().rename("value").reset_index().rename(columns={"image_id": "unit"})
    shared = int((answers.notna().sum(axis=1) >= 2).sum())
    records = [_record(where, None, None, shared, "alpha",
                       agreement.krippendorff_alpha(ratings))]
    for one, other in combinations(sorted(answers.columns), 2):
        both = answers[[one, other]].dropna()
        if len(both) >= 2:
            kappa = cohen_kappa_score(both[one], both[other])
            records.append(_record(where, one, other, len(both), "kappa",
                                   np.nan_to_num(kappa, nan=1.0)))
    return records


def _shape_agreement(shapes: pd.DataFrame, where: dict, threshold: float) -> list[dict]:
    if not len(shapes):
        return []
    import shapely

    shapes = shapes.assign(geometry=shapely.from_wkb(shapes["geometry"].to_numpy()))
    table = agreement.shape_agreement(shapes.rename(columns={"labeler_id": "labeler"}),
                                      threshold)
    return [_record(where, row.labeler_a, row.labeler_b, row.images, measure,
                    getattr(row, measure))
            for row in table.itertuples() for measure in ("precision", "recall", "f1",
                                                          "mean_iou")]


def _mask_agreement(store: LabelStore, masks: pd.DataFrame, where: dict) -> list[dict]:
    per_pair: dict[tuple, list[pd.DataFrame]] = {}
    for _, image_rows in masks.groupby("image_id"):
        loaded = {r.labeler_id: store.mask(r.annotation_id) for r in image_rows.itertuples()}
        for one, other in combinations(sorted(loaded), 2):
            (m1, c1), (m2, c2) = loaded[one], loaded[other]
            if m1.shape == m2.shape:
                per_pair.setdefault((one, other), []).append(agreement.mask_agreement(
                    np.asarray(c1, dtype=object)[m1], np.asarray(c2, dtype=object)[m2]))
    records = []
    for (one, other), tables in per_pair.items():
        images = len(tables)
        every = pd.concat(tables, ignore_index=True)
        for name, by_class in every.groupby("class", sort=True):
            records.append(_record(where, one, other, len(by_class), "iou",
                                   by_class["iou"].mean(), name))
            records.append(_record(where, one, other, len(by_class), "dice",
                                   by_class["dice"].mean(), name))
        records.append(_record(where, one, other, images, "coasttrain_iou",
                               np.mean([t["iou"].mean() for t in tables])))
    return records
