"""Agreement at scale: Krippendorff's alpha of 1M tags from 8 labelers, ours (a
groupby over the ratings) beside the ``krippendorff`` package (a units x coders
matrix) on the same data, and shapes matched between 8 labelers. Prints JSON.

    python benchmarks/agreement.py
    python benchmarks/agreement.py --labels 200000 --shapes 20000
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


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    import krippendorff

    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--shapes", type=int, default=40_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ratings = tags(args.labels, rng)
    ours, alpha = timed(agreement.krippendorff_alpha, ratings)
    matrix = ratings.pivot(index="labeler", columns="unit", values="value").to_numpy(float)
    theirs, reference = timed(lambda: krippendorff.alpha(reliability_data=matrix,
                                                         level_of_measurement="nominal"))
    drawn = boxes(args.shapes, rng)
    matching, table = timed(agreement.shape_agreement, drawn)
    print(json.dumps({
        "tags": {"labels": args.labels, "labelers": LABELERS, "ours_s": round(ours, 3),
                 "krippendorff_package_s": round(theirs, 3),
                 "ratio": round(theirs / ours, 2), "alpha": round(alpha, 6),
                 "same_alpha": bool(np.isclose(alpha, reference)), "goal": "under 2 s"},
        "shapes": {"shapes": args.shapes, "labeler_pairs": len(table),
                   "seconds": round(matching, 3),
                   "per_million_s": round(matching * 1e6 / args.shapes, 1),
                   "mean_f1": round(float(table["f1"].mean()), 3)},
    }, indent=1))


if __name__ == "__main__":
    main()
