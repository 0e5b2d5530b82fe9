"""Doodles to a dense label: ours against the Doodler engine, side by side in one run.

Real imagery (``../shared/data/imagery``): the same hand-placed strokes (below,
as fractions of the image so they fit both sizes) go to both; we time each and
measure how many pixels agree with Doodler's label. Synthetic demo scenes
(``geolabel_widgets.demo.coastal_scene``) have a known truth: strokes simulated
inside each class, and the mean IoU of both against the truth.

The Doodler engine runs with its defaults (``doodler_engine.defaults``) through
``image_segmentation.segmentation``. It is installed for this benchmark only:

    pip install --no-deps doodler-engine pydensecrf2
    python benchmarks/doodle.py [--data ../shared/data] [--scenes 6]

The canvas's kernel-side cost of an edit among 1,000 committed polygons (the
store write, re-reading the image's shapes, and the batched redraw) is measured
in the same run. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from shapely.geometry import LineString, box

from geolabel_widgets import CanvasLabeler, LabelStore
from geolabel_widgets.demo import coastal_scene, simulate_doodles
from geolabel_widgets.segment import doodle_raster, doodles_to_mask

# image -> (class names, [(class number, [(x, y) as fractions of width and height]), ...])
REAL_DOODLES = {
    "orthomosaic2.jpg": (
        ["water", "vegetation", "development", "nodata"],
        [(1, [(0.39, 0.06), (0.36, 0.36), (0.25, 0.62), (0.19, 0.76)]),
         (1, [(0.12, 0.92), (0.17, 0.84)]),
         (2, [(0.12, 0.20), (0.16, 0.49)]), (2, [(0.49, 0.39), (0.46, 0.58)]),
         (2, [(0.59, 0.29), (0.64, 0.49)]), (2, [(0.35, 0.68), (0.50, 0.72)]),
         (3, [(0.04, 0.80), (0.23, 0.84), (0.40, 0.88)]), (3, [(0.64, 0.08), (0.70, 0.12)]),
         (3, [(0.78, 0.12), (0.84, 0.16)]),
         (4, [(0.82, 0.40), (0.88, 0.88)]), (4, [(0.93, 0.25), (0.95, 0.60)])]),
    "orthomosaic.jpg": (
        ["water", "marsh", "nodata"],
        [(1, [(0.20, 0.17), (0.30, 0.30), (0.42, 0.40), (0.45, 0.52), (0.60, 0.52),
              (0.73, 0.53), (0.86, 0.59), (0.97, 0.59)]),
         (1, [(0.42, 0.58), (0.36, 0.66)]),
         (2, [(0.59, 0.10), (0.68, 0.29)]), (2, [(0.12, 0.35), (0.23, 0.45)]),
         (2, [(0.68, 0.74), (0.88, 0.82)]), (2, [(0.30, 0.06), (0.45, 0.12)]),
         (3, [(0.10, 0.68), (0.29, 0.88)]), (3, [(0.49, 0.92), (0.68, 0.98)])]),
}
STROKE_WIDTH = 6 / 1024  # of the image's width: Doodler's default pen on a 1024 px image


def real_doodles(name: str, width: int, height: int) -> np.ndarray:
    _, strokes = REAL_DOODLES[name]
    lines = [(LineString([(x * width, y * height) for x, y in points]), cls,
              STROKE_WIDTH * width) for cls, points in strokes]
    return doodle_raster(lines, (height, width))


def doodler(image: np.ndarray, doodles: np.ndarray) -> np.ndarray:
    from doodler_engine import defaults
    from doodler_engine.image_segmentation import segmentation

    return segmentation(image, doodles, defaults.DEFAULT_CRF_THETA, defaults.DEFAULT_CRF_MU,
                        defaults.DEFAULT_RF_DOWNSAMPLE, defaults.DEFAULT_CRF_DOWNSAMPLE,
                        defaults.DEFAULT_NUMSCALES, True, True, True, True, 0.5, 16)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def mean_iou(label: np.ndarray, truth: np.ndarray) -> float:
    scores = []
    for cls in np.unique(truth):
        union = np.logical_or(label == cls, truth == cls).sum()
        scores.append(np.logical_and(label == cls, truth == cls).sum() / union)
    return float(np.mean(scores))


def real_imagery(folder: Path) -> list[dict]:
    rows = []
    for name in REAL_DOODLES:
        image = np.asarray(Image.open(folder / name).convert("RGB"))  # the tiles are CMYK
        doodles = real_doodles(name, image.shape[1], image.shape[0])
        warm = np.zeros((64, 64), np.uint8)
        warm[8, 8], warm[56, 56] = 1, 2
        doodles_to_mask(image[:64, :64], warm)  # imports and thread pools, not timed
        runs = [timed(doodles_to_mask, image, doodles) for _ in range(3)]
        ours, ours_s = runs[0][0], statistics.median(t for _, t in runs)
        theirs, theirs_s = timed(doodler, image, doodles)
        rows.append({"image": name, "size": f"{image.shape[1]}x{image.shape[0]}",
                     "classes": len(REAL_DOODLES[name][0]),
                     "doodled_fraction": round(float((doodles > 0).mean()), 4),
                     "ours_s": round(ours_s, 3), "doodler_s": round(theirs_s, 3),
                     "speedup": round(theirs_s / ours_s, 1),
                     "agreement_with_doodler": round(float((ours == theirs).mean()), 4)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def synthetic_scenes(count: int, size: int) -> dict:
    rng = np.random.default_rng(7)
    ours_iou, theirs_iou, ours_s, theirs_s = [], [], [], []
    for _ in range(count):
        image, truth = coastal_scene(rng, size)
        doodles = simulate_doodles(truth, rng, width=max(2, size // 170))
        present = np.unique(doodles[doodles > 0]) - 1
        inside = np.isin(truth, present)  # a class no stroke reached cannot be predicted
        ours, t1 = timed(doodles_to_mask, image, doodles)
        theirs, t2 = timed(doodler, image, doodles)
        ours_iou.append(mean_iou(np.where(inside, ours, 255), np.where(inside, truth, 255)))
        theirs_iou.append(mean_iou(np.where(inside, theirs, 255), np.where(inside, truth, 255)))
        ours_s.append(t1)
        theirs_s.append(t2)
    return {"scenes": count, "size": f"{size}x{size}",
            "ours_mean_iou": round(float(np.mean(ours_iou)), 4),
            "doodler_mean_iou": round(float(np.mean(theirs_iou)), 4),
            "ours_s": round(float(np.mean(ours_s)), 3),
            "doodler_s": round(float(np.mean(theirs_s)), 3)}


def canvas_redraw(polygons: int = 1000, edits: int = 20) -> dict:
    """Move one polygon among ``polygons`` as the select tool does; time each step."""
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "scene.png"
        Image.fromarray(coastal_scene(np.random.default_rng(1), 1024)[0]).save(image)
        store = LabelStore.open(Path(folder) / "labels.sqlite")
        store.add_images(image, dataset="bench", progress=False)
        store.add_task("cover", type="instance_segmentation", classes=["a", "b", "c"])
        rng = np.random.default_rng(2)
        for k in range(polygons):
            x, y = rng.uniform(0, 1000, 2)
            store.annotate(store.images.index[0], box(x, y, x + 20, y + 15).buffer(3),
                           "abc"[k % 3], task="cover", labeler="bench", kind="polygon")
        canvas = CanvasLabeler(store, task="cover", labeler="bench")
        target = canvas.shapes[0]
        write, reload, redraw = [], [], []
        for k in range(edits):
            moved = target.geometry.buffer(0).buffer(0.1 * (k % 2))
            start = time.perf_counter()
            store.annotate(canvas.current, moved, target.value, task="cover",
                           labeler="bench", kind="polygon", label_id=target.label_id)
            write.append(time.perf_counter() - start)
            _, seconds = timed(canvas._reload)
            reload.append(seconds)
            _, seconds = timed(canvas._draw_labels)
            redraw.append(seconds)
        canvas.close()
        store.close()
    ms = lambda values: round(1000 * statistics.median(values), 1)  # noqa: E731
    return {"polygons": len(canvas.shapes), "store_write_ms": ms(write),
            "reload_shapes_ms": ms(reload), "redraw_ms": ms(redraw),
            "edit_total_ms": round(ms(write) + ms(reload) + ms(redraw), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--scene-size", type=int, default=1024)
    args = parser.parse_args()
    result = {"canvas_edit": canvas_redraw()}
    print(json.dumps(result["canvas_edit"]), file=sys.stderr, flush=True)
    result["real"] = real_imagery(args.data / "imagery")
    result["synthetic"] = synthetic_scenes(args.scenes, args.scene_size)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
