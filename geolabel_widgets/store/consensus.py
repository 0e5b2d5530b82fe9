"""Several labelers' labels of one image merged into one, and how far they agree
there: plain functions over frames and arrays (the store writes what they return).

Tags: the classes more than half the labelers chose. Masks: the class most
labelers gave each pixel. Shapes: each labeler's shapes matched one to one with
the groups found so far (Hungarian on IoU, at ``threshold``); a group drawn by
more than half the labelers becomes one shape, the mean of its boxes or the
member polygon closest to the rest.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import shapely

from .agreement import mask_agreement, matched


def majority_tags(answers: pd.Series) -> tuple[list[str], float]:
    """The consensus of one image's tags (``answers``: a list of classes per labeler)
    and its agreement: the share of labelers who gave exactly that answer."""
    sets = [frozenset(a) for a in answers]
    votes = pd.Series([cls for a in sets for cls in a], dtype=object).value_counts()
    chosen = frozenset(votes[votes * 2 > len(sets)].index)
    return sorted(chosen), sum(a == chosen for a in sets) / len(sets)


def vote_masks(masks: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The per-pixel majority of same-shaped masks of class names (ties go to the
    class first in sorted order) and their agreement: the mean over pairs of
    labelers of the mean IoU of their classes (Coast Train's measure)."""
    names, codes = np.unique(np.stack(masks), return_inverse=True)
    codes = codes.reshape(len(masks), *masks[0].shape)
    votes = np.stack([(codes == k).sum(axis=0) for k in range(len(names))])
    merged = names[votes.argmax(axis=0)]
    pairs = [mask_agreement(a, b)["iou"].mean() for a, b in combinations(masks, 2)]
    return merged, float(np.mean(pairs))


def fuse_shapes(shapes: pd.DataFrame, threshold: float = 0.5
                ) -> tuple[pd.DataFrame, float]:
    """One image's shapes (columns labeler, kind, value, geometry) fused: the
    groups more than half the labelers drew, as rows kind, value, geometry,
    support; and the agreement, the mean F1 of matched shapes over pairs of
    labelers."""
    labelers = sorted(shapes["labeler"].unique())
    groups: list[list[int]] = []  # row positions of each group's members
    rows = shapes.reset_index(drop=True)
    geoms, values = rows["geometry"].to_numpy(), rows["value"].to_numpy()
    for labeler in labelers:
        mine = np.flatnonzero(rows["labeler"].to_numpy() == labeler)
        heads = np.array([g[0] for g in groups], dtype=int)
        iou = _iou(geoms[mine], geoms[heads]) * (values[mine][:, None] == values[heads][None])
        pairs = _pairs(iou, threshold)
        for r, c in pairs:
            groups[c].append(int(mine[r]))
        taken = {r for r, _ in pairs}
        groups += [[int(m)] for k, m in enumerate(mine) if k not in taken]
    fused = [dict(kind=_kind(rows, g), value=values[g[0]], geometry=_fused(rows, g),
                  support=len(g)) for g in groups if len(g) * 2 > len(labelers)]
    return (pd.DataFrame.from_records(fused, columns=["kind", "value", "geometry", "support"]),
            _mean_f1(rows, labelers, threshold))


def _iou(one: np.ndarray, other: np.ndarray) -> np.ndarray:
    if not len(one) or not len(other):
        return np.zeros((len(one), len(other)))
    a, b = np.meshgrid(np.arange(len(one)), np.arange(len(other)), indexing="ij")
    inter = shapely.area(shapely.intersection(one[a], other[b]))
    return inter / (shapely.area(one)[a] + shapely.area(other)[b] - inter)


def class_iou(one: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """IoU of every shape of ``one`` with every shape of ``other`` (frames with value and
    geometry), 0 between shapes of different classes."""
    same = one["value"].to_numpy()[:, None] == other["value"].to_numpy()[None]
    return _iou(one["geometry"].to_numpy(), other["geometry"].to_numpy()) * same


def _pairs(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """The Hungarian matches of an IoU matrix at or above ``threshold``."""
    from scipy.optimize import linear_sum_assignment

    if not iou.size:
        return []
    rows, cols = linear_sum_assignment(iou, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= threshold]


def _kind(rows: pd.DataFrame, group: list[int]) -> str:
    kinds = rows["kind"].iloc[group]
    return kinds.mode().iloc[0]


def _fused(rows: pd.DataFrame, group: list[int]):
    """Upright boxes: the mean of their bounds; anything else: the member with the
    highest total IoU to the others."""
    geoms = rows["geometry"].to_numpy()[group]
    if (rows["kind"].iloc[group] == "box").all():
        return shapely.box(*shapely.bounds(geoms).mean(axis=0))
    if len(geoms) <= 2:
        return geoms[0]
    return geoms[int(_iou(geoms, geoms).sum(axis=1).argmax())]


def _mean_f1(rows: pd.DataFrame, labelers: list[str], threshold: float) -> float:
    by_labeler = {name: rows[rows["labeler"] == name] for name in labelers}
    scores = []
    for one, other in combinations(labelers, 2):
        a, b = by_labeler[one], by_labeler[other]
        scores.append(2 * len(matched(class_iou(a, b), threshold)) / (len(a) + len(b)))
    return float(np.mean(scores)) if scores else 1.0
