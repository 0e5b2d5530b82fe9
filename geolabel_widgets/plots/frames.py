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


def agreement_frame(store: LabelStore) -> pd.DataFrame:
    """Where two labelers labeled the same image: Cohen's kappa of their tags, and the
    mean per-class IoU of their masks, per dataset, task and pair of labelers.

    Only images with two or more labelers are read (an indexed lookup); masks of
    those images are read from their files, since overlap needs the pixels.
    """
    from sklearn.metrics import cohen_kappa_score

    rows = store.distribution("shared")
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
