"""How far labelers agree, for every kind of label: plain functions over frames.

Tags: Krippendorff's alpha (nominal; any number of labelers, ratings missing where
a labeler did not see an image). Shapes: each pair of labelers' shapes on an image
matched one to one (the Hungarian assignment on IoU, pairs below ``threshold`` left
unmatched), giving precision, recall, F1 and the mean IoU of the matches. Masks:
per class IoU and Dice, and Coast Train's own measure, the mean over twice-labeled
images of their mean class IoU.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import shapely


def krippendorff_alpha(ratings: pd.DataFrame) -> float:
    """Nominal alpha of ``ratings`` (columns ``unit`` and ``value``, a row per rating):
    1 is perfect agreement, 0 what chance gives; NaN where only one value occurs.

    From the coincidences of values within units rated twice or more (Krippendorff,
    "Computing Krippendorff's alpha-reliability", 2011), counted with a groupby.
    """
    counts = ratings.groupby(["unit", "value"], sort=False).size()
    per_unit = counts.groupby(level="unit", sort=False).transform("sum")
    pairable = per_unit >= 2
    counts, per_unit = counts[pairable], per_unit[pairable]
    n = float(counts.sum())
    if n == 0:
        return float("nan")
    agreeing = float((counts * (counts - 1) / (per_unit - 1)).sum())  # sum of o_vv
    by_value = counts.groupby(level="value", sort=False).sum().to_numpy(dtype=float)
    expected = (n * n - float((by_value ** 2).sum())) / (n - 1)  # n * D_e
    if expected == 0:
        return float("nan")
    return 1.0 - (n - agreeing) / expected


def matched(iou: np.ndarray, threshold: float) -> np.ndarray:
    """The IoUs of the one-to-one matches (Hungarian, highest total IoU) at or above
    ``threshold``."""
    from scipy.optimize import linear_sum_assignment

    if not iou.size:
        return np.zeros(0)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    found = iou[rows, cols]
    return found[found >= threshold]


def shape_agreement(shapes: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Per pair of labelers (a as the reference): ``images`` both drew on, shapes of
    each there, ``matches``, precision, recall, F1 and mean IoU of the matched shapes;
    over ``shapes`` (columns image_id, labeler, value, geometry). Shapes of different
    classes do not match.

    Candidate pairs (same image and class, boxes that meet) come from one spatial
    index and their IoUs from one vectorised call; the Hungarian assignment runs only
    where a shape has two candidates at or above ``threshold``.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"an IoU threshold is between 0 and 1, not {threshold}")
    shapes = shapes.reset_index(drop=True)
    geoms = shapes["geometry"].to_numpy()
    image, labeler, value = (shapes[c].to_numpy() for c in ("image_id", "labeler", "value"))
    apart = _apart(geoms, shapes[["image_id", "value"]])
    i, j = shapely.STRtree(apart).query(apart, predicate="intersects")
    keep = (image[i] == image[j]) & (value[i] == value[j]) & (labeler[i] < labeler[j])
    i, j = i[keep], j[keep]
    areas = shapely.area(geoms)
    inter = _overlaps(geoms, areas, i, j)
    iou = inter / (areas[i] + areas[j] - inter)
    good = iou >= threshold
    candidates = pd.DataFrame({"a": i[good], "b": j[good], "iou": iou[good],
                               "labeler_a": labeler[i[good]], "labeler_b": labeler[j[good]],
                               "image_id": image[i[good]], "value": value[i[good]]})
    hits = _assigned(candidates)
    counts = shapes.groupby(["image_id", "value", "labeler"]).size().unstack("labeler",
                                                                             fill_value=0)
    records = []
    for one, other in combinations(sorted(counts.columns), 2):
        both = (counts[one] > 0) & (counts[other] > 0)
        n_a, n_b = int(counts.loc[both, one].sum()), int(counts.loc[both, other].sum())
        if not n_a:
            continue
        mine = hits[(hits["labeler_a"] == one) & (hits["labeler_b"] == other)]["iou"]
        images = both[both].index.get_level_values("image_id").nunique()
        records.append(dict(labeler_a=one, labeler_b=other, images=images, shapes_a=n_a,
                            shapes_b=n_b, matches=len(mine), precision=len(mine) / n_b,
                            recall=len(mine) / n_a, f1=2 * len(mine) / (n_a + n_b),
                            mean_iou=float(mine.mean()) if len(mine) else 0.0))
    return pd.DataFrame.from_records(records, columns=[
        "labeler_a", "labeler_b", "images", "shapes_a", "shapes_b", "matches", "precision",
        "recall", "f1", "mean_iou"])


def _overlaps(geoms: np.ndarray, areas: np.ndarray, i: np.ndarray, j: np.ndarray
              ) -> np.ndarray:
    """Intersection areas of the pairs (i, j): upright boxes from their bounds (most
    shapes, and a hundred times faster), the rest with shapely."""
    bounds = shapely.bounds(geoms)
    upright = (shapely.get_num_coordinates(geoms) == 5) & np.isclose(
        areas, (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1]))
    width = np.minimum(bounds[i, 2], bounds[j, 2]) - np.maximum(bounds[i, 0], bounds[j, 0])
    height = np.minimum(bounds[i, 3], bounds[j, 3]) - np.maximum(bounds[i, 1], bounds[j, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    other = ~(upright[i] & upright[j])
    inter[other] = shapely.area(shapely.intersection(geoms[i[other]], geoms[j[other]]))
    return inter


def _apart(geoms: np.ndarray, keys: pd.DataFrame) -> np.ndarray:
    """The shapes moved so that those of different (image, class) never meet: each
    group on a strip of its own, so one spatial index finds only pairs within groups
    (pixel coordinates of all images share one plane)."""
    group = pd.MultiIndex.from_frame(keys).factorize()[0]
    minx, _, maxx, _ = shapely.bounds(geoms).T
    stride = float(np.nanmax(maxx) - np.nanmin(minx)) + 1.0
    shift = np.repeat((group * stride).astype(float), shapely.get_num_coordinates(geoms))
    return shapely.transform(geoms, lambda xy: xy + np.column_stack(
        [shift, np.zeros_like(shift)]))


def _assigned(candidates: pd.DataFrame) -> pd.DataFrame:
    """The one-to-one matches among candidate pairs: as they are where no shape has
    two, the Hungarian assignment (highest total IoU) in each tangle where one has."""
    pair = ["labeler_a", "labeler_b"]
    tangled = candidates.duplicated(pair + ["a"], keep=False) | \
        candidates.duplicated(pair + ["b"], keep=False)
    plain, tangles = candidates[~tangled], candidates[tangled]
    solved = []
    for _, group in tangles.groupby(pair + ["image_id", "value"], sort=False):  # small
        rows, a = np.unique(group["a"], return_inverse=True)
        cols, b = np.unique(group["b"], return_inverse=True)
        iou = np.zeros((len(rows), len(cols)))
        iou[a, b] = group["iou"].to_numpy()
        found = matched(iou, 1e-12)
        solved.append(group.iloc[:0].reindex(range(len(found))).assign(
            iou=found, labeler_a=group["labeler_a"].iloc[0],
            labeler_b=group["labeler_b"].iloc[0]))
    return pd.concat([plain, *solved], ignore_index=True)


def mask_agreement(one: np.ndarray, other: np.ndarray) -> pd.DataFrame:
    """Per class (named arrays of one image, two labelers): IoU and Dice, over the
    classes either labeler used."""
    records = []
    for name in sorted(set(np.unique(one)) | set(np.unique(other))):
        a, b = one == name, other == name
        inter, total = np.count_nonzero(a & b), np.count_nonzero(a) + np.count_nonzero(b)
        records.append({"class": name, "iou": inter / (total - inter),
                        "dice": 2 * inter / total})
    return pd.DataFrame.from_records(records, columns=["class", "iou", "dice"])
