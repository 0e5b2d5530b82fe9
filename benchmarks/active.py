"""Active learning with the built-in learner: how many labels it needs to reach 90%
accuracy when the labeler follows ``queue(order="uncertain")``, beside the plain
order (the order images were added), on the same synthetic scenes with a known truth.

The scenes are the demo's coastal scenes, each with a sediment plume of a random
strength on its water; an image's class is "plume" where the plume changes it more
than it changes the median scene, else "clear", so faint plumes on little water are
the hard ones. A simulated labeler tags ``--batch`` images at a time with their true
class; after each batch the learner fits again and predicts the rest. Accuracy is
measured on the images not yet labeled (the issue's measure) and, more strictly, on
held-out scenes never offered for labeling. Several seeds; prints JSON with the
medians and the ratio plain / uncertain.

Then the tagger's flip time (key to the frame showing the next image, measured in
the page as ``benchmarks/tagger.py`` does) with a model's class shown on every
image and taken with its key, beside plain tagging, in headless Chromium.

    python benchmarks/active.py
    python benchmarks/active.py --images 240 --seeds 3 --no-flip
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from geolabel_widgets import LabelStore  # noqa: E402
from geolabel_widgets.demo import coastal_scene  # noqa: E402
from geolabel_widgets.learn import Learner, add_image_features  # noqa: E402

TASK = "sediment plume"
CLASSES = ["plume", "clear"]
GOAL = 0.9


def scenes(folder: Path, count: int, seed: int) -> dict[str, str]:
    """``count`` scenes written to ``folder``: file name -> plume or clear."""
    rng = np.random.default_rng(seed)
    visible = {}
    for k in range(count):
        scene_seed, strength = int(rng.integers(2**32)), float(rng.uniform(0, 1))
        clear, _ = coastal_scene(np.random.default_rng(scene_seed), size=96)
        rgb, _ = coastal_scene(np.random.default_rng(scene_seed), size=96, plume=strength)
        name = f"scene_{k:04d}.png"
        Image.fromarray(rgb).save(folder / name)
        visible[name] = np.abs(rgb.astype(float) - clear).mean()  # how much it shows
    middle = np.median(list(visible.values()))
    return {name: "plume" if v > middle else "clear" for name, v in visible.items()}


def template(folder: Path, count: int, seed: int) -> tuple[Path, dict[str, str]]:
    """A store holding the scenes and their features, copied for each run."""
    images = folder / "images"
    images.mkdir()
    names = scenes(images, count, seed)
    path = folder / "template.sqlite"
    with LabelStore.open(path) as store:
        ids = store.add_images(sorted(images.iterdir()), dataset="synthetic scenes",
                               progress=False)
        store.add_task(TASK, classes=CLASSES)
        add_image_features(store, progress=False)
        truth = {image_id: names[store.image(image_id)["name"]] for image_id in ids}
    return path, truth


def labels_to_goal(path: Path, truth: dict[str, str], order: str, held_out: set[str],
                   batch: int) -> dict:
    """Label ``batch`` at a time in ``order`` until the learner is right on 90% of the
    rest; how many labels that took, and the held-out accuracy then."""
    with LabelStore.open(path) as store:
        learner = Learner(store, TASK)
        labeled: list[str] = []
        curve = []
        while True:
            queue = [i for i in store.queue(TASK, "sim", order=order) if i not in held_out]
            if not queue:
                break
            for image_id in queue[:batch]:
                store.tag(image_id, truth[image_id], task=TASK, labeler="sim")
                labeled.append(image_id)
            learner.fit_predict()
            predicted = store.predictions(task=TASK).drop_duplicates("image_id", keep="last")
            said = predicted.set_index("image_id")["value"]
            rest = [i for i in truth if i not in labeled and i not in held_out]
            rest_right = np.mean([said.get(i) == truth[i] for i in rest]) if rest else 1.0
            held_right = np.mean([said.get(i) == truth[i] for i in held_out])
            curve.append((len(labeled), round(float(rest_right), 3), round(float(held_right), 3)))
            if rest_right >= GOAL:
                break
    return {"labels": len(labeled), "rest_accuracy": curve[-1][1],
            "held_out_accuracy": curve[-1][2], "curve": curve}


def flip_times() -> dict:
    """Flip time with pre-labels shown (key g takes the model's class) and without."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).parent))
    import tagger as bench
    from tests.browser.harness import CHROMIUM, CHROMIUM_FLAGS, JupyterLab

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jpegs, _ = bench.make_images(folder / "images")
        plain = bench.ours(jpegs, folder / "plain.sqlite")
        modelled = bench.ours(jpegs, folder / "model.sqlite")
        modelled[1] = modelled[1].replace("tagger = ", (
            "import pandas as pd\nstore.add_task('plume')\n"
            "ids = store.queue('plume', 'bench')\n"
            "store.add_predictions(pd.DataFrame({'image_id': ids, 'value': 'present', "
            "'score': 0.8}), task='plume', model='bench')\ntagger = "), 1)
        with JupyterLab(folder / "lab") as lab, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_FLAGS)

            def page():
                return browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()

            without = bench.run_widget(lab, page(), "plain", plain,
                                       lambda p: p.keyboard.press("1"))
            with_model = bench.run_widget(lab, page(), "model", modelled,
                                          lambda p: p.keyboard.press("g"))
            browser.close()
    result = {"without_prelabels": bench.summary(without),
              "with_prelabels": bench.summary(with_model)}
    result["ratio_with_over_without_median"] = round(
        result["with_prelabels"]["median_ms"] / result["without_prelabels"]["median_ms"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-flip", action="store_true", help="skip the tagger's flip time")
    args = parser.parse_args()
    runs = {"stable": [], "uncertain": []}
    started = time.perf_counter()
    for seed in range(args.seeds):
        folder = Path(tempfile.mkdtemp(prefix="geolabel-active-"))
        try:
            path, truth = template(folder, args.images + args.held_out, seed)
            ids = list(truth)
            held_out = set(np.random.default_rng(seed).choice(ids, args.held_out,
                                                              replace=False))
            for order in runs:
                copy = folder / f"{order}.sqlite"
                shutil.copy(path, copy)
                runs[order].append(labels_to_goal(copy, truth, order, held_out, args.batch))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    plain = float(np.median([r["labels"] for r in runs["stable"]]))
    uncertain = float(np.median([r["labels"] for r in runs["uncertain"]]))
    flip = None if args.no_flip else flip_times()
    print(json.dumps({
        "images": args.images, "held_out": args.held_out, "batch": args.batch,
        "seeds": args.seeds, "goal": GOAL,
        "labels_to_goal": {"plain": plain, "uncertain": uncertain,
                           "per_seed_plain": [r["labels"] for r in runs["stable"]],
                           "per_seed_uncertain": [r["labels"] for r in runs["uncertain"]]},
        "held_out_accuracy_at_goal": {
            order: float(np.median([r["held_out_accuracy"] for r in found]))
            for order, found in runs.items()},
        "ratio_plain_to_uncertain": round(plain / uncertain, 2),
        "tagger_flip": flip,
        "seconds": round(time.perf_counter() - started, 1)}, indent=2))


if __name__ == "__main__":
    main()
