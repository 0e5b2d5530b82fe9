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

MAX_BINS = 1 << 26  # keys counted in one array up to this many (512 MB), else hashed


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

    Candidate pairs (same image and class, bounds that meet) come from one sort and
    sweep, their IoUs from one vectorised call; the Hungarian assignment runs only
    where a shape has two candidates at or above ``threshold``.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"an IoU threshold is between 0 and 1, not {threshold}")
    shapes = shapes.reset_index(drop=True)
    geoms = shapes["geometry"].to_numpy()
    image, labeler, value = (shapes[c].to_numpy() for c in ("image_id", "labeler", "value"))
    group = _codes(image, value)
    i, j = _meeting(shapely.bounds(geoms), group)
    keep = labeler[i] != labeler[j]
    i, j = i[keep], j[keep]
    swap = labeler[i] > labeler[j]  # a pair always as (lower labeler, higher)
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    areas = shapely.area(geoms)
    inter = _overlaps(geoms, areas, i, j)
    iou = inter / (areas[i] + areas[j] - inter)
    good = iou >= threshold
    i, j, iou = i[good], j[good], iou[good]
    pair = _codes(labeler[i], labeler[j])
    # a shape is tangled when it has two candidates of one other labeler
    who, labelers = pd.factorize(labeler)
    bins = len(geoms) * len(labelers)
    tangled = _repeated(i * len(labelers) + who[j], bins) | \
        _repeated(j * len(labelers) + who[i], bins)
    found = _assigned(i, j, iou, pair, group[i], tangled)
    hits = pd.DataFrame({"labeler_a": labeler[i[found]], "labeler_b": labeler[j[found]],
                         "iou": iou[found]})
    counts = shapes.groupby(["image_id", "value", "labeler"]).size().unstack("labeler",
                                                                             fill_value=0)
    by_pair = dict(list(hits.groupby(["labeler_a", "labeler_b"])["iou"]))
    records = []
    for one, other in combinations(sorted(counts.columns), 2):
        both = (counts[one] > 0) & (counts[other] > 0)
        n_a, n_b = int(counts.loc[both, one].sum()), int(counts.loc[both, other].sum())
        if not n_a:
            continue
        mine = by_pair.get((one, other), pd.Series(dtype=float))
        images = both[both].index.get_level_values("image_id").nunique()
        records.append(dict(labeler_a=one, labeler_b=other, images=images, shapes_a=n_a,
                            shapes_b=n_b, matches=len(mine), precision=len(mine) / n_b,
                            recall=len(mine) / n_a, f1=2 * len(mine) / (n_a + n_b),
                            mean_iou=float(mine.mean()) if len(mine) else 0.0))
    return pd.DataFrame.from_records(records, columns=[
        "labeler_a", "labeler_b", "images", "shapes_a", "shapes_b", "matches", "precision",
        "recall", "f1", "mean_iou"])


def _meeting(bounds: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j in sweep order) of shapes of one group whose bounds meet: sorted
    by group and left edge, a shape meets those after it that start before its right
    edge (a searchsorted on one key), then the vertical overlap is checked."""
    x0 = np.nan_to_num(bounds[:, 0] - np.nanmin(bounds[:, 0], initial=0))
    x1 = np.nan_to_num(bounds[:, 2] - np.nanmin(bounds[:, 0], initial=0))
    stride = float(x1.max(initial=0)) + 1.0
    order = np.lexsort((x0, group))
    left = group[order] * stride + x0[order]  # ascending: groups never overlap
    right = group[order] * stride + x1[order]
    ends = np.searchsorted(left, right, side="right")
    starts = np.arange(len(order)) + 1
    counts = np.clip(ends - starts, 0, None)
    a = np.repeat(np.arange(len(order)), counts)
    b = np.repeat(starts, counts) + np.arange(counts.sum()) - np.repeat(
        np.cumsum(counts) - counts, counts)
    i, j = order[a], order[b]
    meet = (bounds[i, 1] <= bounds[j, 3]) & (bounds[j, 1] <= bounds[i, 3])
    return i[meet], j[meet]


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


def _assigned(i: np.ndarray, j: np.ndarray, iou: np.ndarray, pair: np.ndarray,
              group: np.ndarray, tangled: np.ndarray) -> np.ndarray:
    """Which candidate pairs (shapes i, j of one labeler pair and group) are the one-to-one
    matches: all of them but the ``tangled`` (where a shape has two); in each tangle,
    those of the Hungarian assignment (highest total IoU)."""
    chosen = np.ones(len(i), bool)
    where = np.flatnonzero(tangled)
    chosen[where] = False
    if not len(where):
        return chosen
    from scipy.optimize import linear_sum_assignment  # imported by the first tangle met
    where = where[np.lexsort((group[where], pair[where]))]
    key = _codes(pair[where], group[where])
    # each tangle's shapes numbered from 0: factorize numbers in order of first sight
    rows, cols = (pd.factorize(_codes(key, side[where]))[0] for side in (i, j))
    edges = np.flatnonzero(np.diff(key)) + 1
    for start, end in zip([0, *edges], [*edges, len(where)]):  # small tangles
        a, b = rows[start:end] - rows[start], cols[start:end] - cols[start]
        matrix = np.zeros((a.max() + 1, b.max() + 1))
        matrix[a, b] = iou[where[start:end]]
        picked = np.zeros(matrix.shape, bool)
        picked[linear_sum_assignment(matrix, maximize=True)] = True
        chosen[where[start:end]] = picked[a, b] & (iou[where[start:end]] > 0)
    return chosen


def _codes(*columns: np.ndarray) -> np.ndarray:
    """One integer per distinct combination of the columns' values (a factorize of
    each, combined: much faster than a MultiIndex of a million tuples)."""
    code = np.zeros(len(columns[0]), np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column)
        code = code * len(uniques) + codes
    return code


def _repeated(keys: np.ndarray, bins: int) -> np.ndarray:
    """Which entries share their key (0 <= key < ``bins``) with another: a count per
    key where one array holds them all (six times a hash's speed), else a hash."""
    if bins <= MAX_BINS:
        return np.bincount(keys, minlength=bins)[keys] > 1
    return pd.Series(keys).duplicated(keep=False).to_numpy()


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
