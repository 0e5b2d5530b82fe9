"""Agreement at scale: Krippendorff's alpha of 1M tags from 8 labelers, ours (a
groupby over the ratings) beside the ``krippendorff`` package (a units x coders
matrix) on the same data, and 1M boxes matched between 8 labelers, ours (one sort
and sweep, Hungarian only in tangles) beside the loop a user would write (per image
and labeler pair, a shapely IoU matrix and scipy's Hungarian) on a sample, per
million shapes. Prints JSON.

    python benchmarks/agreement.py
    python benchmarks/agreement.py --labels 200000 --shapes 200000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import shapely

from geolabel_widgets.store import agreement

LABELERS = 8


def tags(labels: int, rng) -> pd.DataFrame:
    """``labels`` tags: each image seen by the 8 labelers, most agreeing, some not."""
    images = labels // LABELERS
    truth = rng.integers(0, 5, images)
    values = np.where(rng.random((LABELERS, images)) < 0.8, truth,
                      rng.integers(0, 5, (LABELERS, images)))
    return pd.DataFrame({"unit": np.tile(np.arange(images), LABELERS),
                         "labeler": np.repeat(np.arange(LABELERS), images),
                         "value": values.ravel()})


def boxes(shapes: int, rng) -> pd.DataFrame:
    """``shapes`` boxes: 5 objects an image, each drawn by the 8 labelers a little off."""
    objects = shapes // LABELERS
    x, y = rng.uniform(0, 900, objects), rng.uniform(0, 900, objects)
    jitter = rng.normal(0, 3, (LABELERS, objects, 2))
    x0, y0 = (x + jitter[..., 0]).ravel(), (y + jitter[..., 1]).ravel()
    return pd.DataFrame({"image_id": np.tile(np.arange(objects) // 5, LABELERS),
                         "labeler": np.repeat(np.arange(LABELERS), objects),
                         "value": "hut", "geometry": shapely.box(x0, y0, x0 + 40, y0 + 30)})


def naive(shapes: pd.DataFrame, threshold: float = 0.5) -> int:
    """Matches found the plain way: every image, every pair of labelers, an IoU matrix."""
    from itertools import combinations

    from scipy.optimize import linear_sum_assignment

    found = 0
    for _, image in shapes.groupby("image_id"):
        drawn = {k: g["geometry"].to_numpy() for k, g in image.groupby("labeler")}
        for one, other in combinations(sorted(drawn), 2):
            a, b = drawn[one][:, None], drawn[other][None, :]
            inter = shapely.area(shapely.intersection(a, b))
            iou = inter / (shapely.area(a) + shapely.area(b) - inter)
            iou[iou < threshold] = 0  # pairs below the threshold never match
            rows, cols = linear_sum_assignment(iou, maximize=True)
            found += int((iou[rows, cols] >= threshold).sum())
    return found


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    import krippendorff

    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--shapes", type=int, default=1_000_000)
    parser.add_argument("--naive-shapes", type=int, default=20_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ratings = tags(args.labels, rng)
    ours, alpha = timed(agreement.krippendorff_alpha, ratings)
    matrix = ratings.pivot(index="labeler", columns="unit", values="value").to_numpy(float)
    theirs, reference = timed(lambda: krippendorff.alpha(reliability_data=matrix,
                                                         level_of_measurement="nominal"))
    drawn = boxes(args.shapes, rng)
    # the first call also imports scipy.optimize (about 0.4 s, once per process): timed
    # apart, then the median of three as a session computing agreement pays it
    first, table = timed(agreement.shape_agreement, drawn)
    matching = float(np.median([timed(agreement.shape_agreement, drawn)[0] for _ in range(3)]))
    sample = boxes(args.naive_shapes, rng)
    plain, plain_matches = timed(naive, sample)
    _, sample_table = timed(agreement.shape_agreement, sample)
    plain_per_million = plain * 1e6 / args.naive_shapes
    print(json.dumps({
        "tags": {"labels": args.labels, "labelers": LABELERS, "ours_s": round(ours, 3),
                 "krippendorff_package_s": round(theirs, 3),
                 "ratio": round(theirs / ours, 2), "alpha": round(alpha, 6),
                 "same_alpha": bool(np.isclose(alpha, reference)), "goal": "under 2 s"},
        "shapes": {"shapes": args.shapes, "labeler_pairs": len(table),
                   "seconds": round(matching, 3), "first_call_s": round(first, 3),
                   "per_million_s": round(matching * 1e6 / args.shapes, 2),
                   "naive_per_million_s": round(plain_per_million, 1),
                   "ratio": round(plain_per_million / (matching * 1e6 / args.shapes), 1),
                   "same_matches_on_sample": int(sample_table["matches"].sum()) ==
                   plain_matches,
                   "mean_f1": round(float(table["f1"].mean()), 3), "goal": "under 2 s"},
    }, indent=1))


if __name__ == "__main__":
    main()
