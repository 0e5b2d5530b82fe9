"""Re-segmenting a task's images from their doodles: one process against a Dask
LocalCluster of two workers, on the same store in one run.

The images are synthetic scenes drawn with their truth and doodled from it, as the
demo draws its own (``demo.add_doodled_scenes``). The one-process run is what a user
would write without Dask: ``resegment(..., scheduler=None)``, whose image features
already use a thread per core. The LocalCluster's time includes starting it; a
cluster already running (given by address, as a real one is) is timed too. Prints
JSON: the times, the speed-ups, and whether the masks are identical pixel for pixel.

    python benchmarks/segment_batch.py                 # 200 images, 256 px
    python benchmarks/segment_batch.py --images 20     # a smoke run
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from geolabel_widgets import LabelStore
from geolabel_widgets.batch import local_cluster
from geolabel_widgets.demo import add_doodled_scenes
from geolabel_widgets.segment.resegment import resegment

TASK = "doodled scenes (synthetic)"


def masks(store: LabelStore, ids: list[int]) -> list[np.ndarray]:
    return [store.mask(i)[0] for i in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            LabelStore.open(Path(tmp) / "store.sqlite") as store:
        truth = add_doodled_scenes(store, Path(tmp) / "scenes", args.images, size=args.size)
        start = time.perf_counter()
        alone = resegment(store, task=TASK, scheduler=None, progress=False)
        alone_s = time.perf_counter() - start
        start = time.perf_counter()
        spread = resegment(store, task=TASK, workers=args.workers, progress=False)
        cluster_s = time.perf_counter() - start
        with local_cluster(args.workers) as running:  # started before the clock
            start = time.perf_counter()
            warm = resegment(store, task=TASK, scheduler=running.scheduler_address,
                             progress=False)
            warm_s = time.perf_counter() - start
        first, second, third = masks(store, alone), masks(store, spread), masks(store, warm)
        accuracy = np.mean([np.mean(m == t) for m, t in zip(first, truth.values())])
    print(json.dumps({
        "images": args.images, "size_px": args.size, "workers": args.workers,
        "one_process_s": round(alone_s, 2), "local_cluster_s": round(cluster_s, 2),
        "speedup_cluster_over_one_process": round(alone_s / cluster_s, 2),
        "running_cluster_s": round(warm_s, 2),
        "speedup_running_cluster_over_one_process": round(alone_s / warm_s, 2),
        "identical_masks": all(np.array_equal(a, b) and np.array_equal(a, c)
                               for a, b, c in zip(first, second, third)),
        "pixel_accuracy_against_truth": round(float(accuracy), 3)}, indent=2))


if __name__ == "__main__":
    main()
