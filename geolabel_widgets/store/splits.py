"""Train / validation / test splits, by image or grouped by location.

A split is a row beside the labels (kind "split", one current row per task and
image), so it has history like everything else and never counts as a label.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from . import schema as s
from .retry import retried
from .types import StoreError, label_key
from .writes import Action, current

SPLITS = ("train", "val", "test")
SPLITTER = "geolabel"  # the labeler id that split rows are written under
TOUCH = 1e-9  # degrees: adjacent chips' footprints meet to within float error


class SplitMixin:
    """LabelStore's splits."""

    @retried
    def split(self, task: str, *, train: float = 0.7, val: float = 0.15, test: float = 0.15,
              by: str = "image", seed: int = 0, block: float | None = None) -> pd.Series:
        """Assign every image of the task to train, val or test; returns the split by image.

        ``by="location"`` assigns whole blocks of ``block`` degrees (default: about 16
        images a block) and then moves any train image that touches a test image to
        val (or, with no val, leaves it out), so that no train image touches a test one.
        """
        fractions = np.array([train, val, test], dtype=float)
        if (fractions < 0).any() or not math.isclose(fractions.sum(), 1.0, abs_tol=1e-6):
            raise StoreError(f"train, val and test are fractions that sum to 1, got "
                             f"{train}, {val}, {test}")
        ids = self.queue(task, None, status=None)
        rng = np.random.default_rng(seed)
        if by == "image":
            assigned = pd.Series(_by_count(rng.permutation(len(ids)), fractions), index=ids)
        elif by == "location":
            assigned = _by_location(self.images.loc[ids], fractions, rng, block)
        else:
            raise StoreError(f"split by 'image' or 'location', not {by!r}")
        self._write_splits(task, assigned)
        return self.splits(task)

    @retried
    def splits(self, task: str) -> pd.Series:
        """The current split of each image of the task that has one (train, val, test)."""
        a = s.annotations
        with self._read() as conn:
            rows = conn.execute(sa.select(a.c.image_id, a.c.value).where(
                a.c.task_id == self._cache.task(task).task_id, a.c.kind == "split", a.c.is_current,
                sa.not_(a.c.deleted))).all()
        return pd.Series(dict(rows), name="split", dtype=object).rename_axis("image_id")

    def _write_splits(self, task: str, assigned: pd.Series) -> None:
        info = self._cache.task(task)
        with self._transaction() as conn:
            self._cache.ensure_labeler(conn, SPLITTER, display_name="geolabel splits")
            self._check_writer(SPLITTER)
            act = Action.begin(conn, info, SPLITTER, "edit", self._changes)
            for image_id, split in assigned.items():
                label_id = label_key("split", info, image_id)
                now = current(conn, label_id)
                if now is not None and not now.deleted and now.value == split:
                    continue
                if now is None and not isinstance(split, str):
                    continue
                act.put(label_id, image_id, SPLITTER, kind="split",
                        value=split if isinstance(split, str) else None,
                        deleted=not isinstance(split, str))


def _by_count(order: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Split names for positions ``order`` (a permutation), in the given proportions."""
    edges = np.round(np.cumsum(fractions) * len(order)).astype(int)
    names = np.empty(len(order), dtype=object)
    names[order] = np.array(SPLITS, dtype=object)[np.searchsorted(edges, np.arange(len(order)),
                                                                  side="right")]
    return names


def _by_location(images, fractions: np.ndarray, rng, block: float | None) -> pd.Series:
    located = images.geometry.notna() & ~images.geometry.is_empty
    if not located.all():
        raise StoreError(f"{(~located).sum()} images have no footprint or location; "
                         "split them by='image'")
    # the middle of each footprint's bounds, in degrees: only which grid cell an image
    # falls in matters here, not a planar centroid (which geopandas warns about)
    bounds = images.geometry.bounds
    x = ((bounds["minx"] + bounds["maxx"]) / 2).to_numpy()
    y = ((bounds["miny"] + bounds["maxy"]) / 2).to_numpy()
    if block is None:
        extent = max(x.max() - x.min(), y.max() - y.min(), 1e-6)
        block = extent / max(1, math.ceil(math.sqrt(len(images) / 16)))
    cells = pd.Series(list(zip(np.floor(x / block).astype(int), np.floor(y / block).astype(int))),
                      index=images.index)
    sizes = cells.value_counts()
    shuffled = sizes.index[rng.permutation(len(sizes))]
    # whole cells, in random order, fill train, then val, then test (by their middles)
    spans = sizes[shuffled].to_numpy() / len(images)
    middles = np.cumsum(spans) - spans / 2
    names = np.array(SPLITS, dtype=object)[
        np.minimum(np.searchsorted(np.cumsum(fractions), middles), 2)]
    assigned = cells.map(dict(zip(shuffled, names))).astype(object)
    footprints = images.geometry.to_numpy()
    tests = np.flatnonzero(assigned.to_numpy() == "test")
    if len(tests):
        tree = shapely.STRtree(shapely.buffer(footprints[tests], TOUCH))
        trains = np.flatnonzero(assigned.to_numpy() == "train")
        touching, _ = tree.query(footprints[trains], predicate="intersects")
        moved = assigned.index[trains[np.unique(touching)]]
        assigned[moved] = "val" if fractions[1] > 0 else None
    return assigned
