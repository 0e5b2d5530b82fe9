"""Every distribution figure's data: from the store, against the CoastTrainMetaPlots way.

The MetaPlots way is what its notebooks do: read each record's metadata CSV
with pandas and loop over the rows in Python to count classes, labelers,
pixels, doodling and locations. Ours reads the aggregates the store keeps
current as labels are written. Both run on the same synthetic records (ten of
them, Coast Train's columns and class lists) in one run; the store is bulk
loaded (setup, timed apart), then both ways are timed. Prints JSON.

    python benchmarks/plots.py                    # 100k and 1M images
    python benchmarks/plots.py --sizes 10000      # a smoke run
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geolabel_widgets import LabelStore
from geolabel_widgets.plots import frames
from geolabel_widgets.store import aggregates
from geolabel_widgets.store import schema as s

CLASSES = ["water", "whitewater", "sediment", "other_natural_terrain", "vegetated_surface",
           "agricultural", "development", "cloud", "nodata", "unusual", "unknown"]
ALIASES = {"whitewater": "water", "sediment": "sediment", "other_natural_terrain": "terrain",
           "agricultural": "terrain", "vegetated_surface": "vegetation",
           "cloud": "other", "nodata": "other", "unusual": "other", "unknown": "other"}
RECORDS = "ABCDEFGHIJ"


def make_records(folder: Path, n_images: int) -> list[Path]:
    """Ten metadata CSVs with Coast Train's columns: ~7 classes present per image."""
    rng = np.random.default_rng(0)
    paths = []
    per = n_images // len(RECORDS)
    for r, record in enumerate(RECORDS):
        labeler = rng.integers(1, 7, per)
        present = rng.random((per, len(CLASSES))) < 0.6
        present[:, 0] |= ~present.any(axis=1)  # every labeled image has some class
        lon = rng.uniform(-125, -70, per)
        lat = rng.uniform(25, 48, per)
        frame = pd.DataFrame({
            "image_filename": [f"images/{record}_{k:07d}_ID{i}.jpg"
                               for k, i in enumerate(labeler)],
            "classes_array": ", ".join(f"'{c}'" for c in CLASSES),
            "classes_present_array": [", ".join(f"'{c}'" for c, p in zip(CLASSES, row) if p)
                                      for row in present],
            "doodle_spatial_density": rng.uniform(0.02, 0.5, per).round(5),
            "LonMin": lon, "LonMax": lon + 0.01, "LatMin": lat, "LatMax": lat + 0.01,
            "ImageHeightPx": rng.integers(256, 1024, per),
            "ImageWidthPx": rng.integers(256, 1024, per),
        })
        path = folder / f"{record}_synthetic_meta_served.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def metaplots_way(paths: list[Path]) -> dict:
    """Read every CSV and loop over its rows, as the CoastTrainMetaPlots notebooks do
    (written here as a brisk Python loop over the columns, not row indexing)."""
    classes = defaultdict(Counter)
    superclasses = defaultdict(Counter)
    labelers, pixels = defaultdict(Counter), Counter()
    doodled, total = Counter(), Counter()
    lats, lons = [], []
    for path in paths:
        record = path.name[0]
        df = pd.read_csv(path)
        for present, filename, height, width, density, lat0, lat1, lon0, lon1 in zip(
                df["classes_present_array"], df["image_filename"], df["ImageHeightPx"],
                df["ImageWidthPx"], df["doodle_spatial_density"], df["LatMin"], df["LatMax"],
                df["LonMin"], df["LonMax"]):
            names = [c.strip(" '") for c in present.split(",")]
            for c in names:
                classes[record][c] += 1
            for c in set(ALIASES.get(c, c) for c in names):
                superclasses[record][c] += 1
            who = re.search(r"_ID(\d+)", filename).group(1)
            size = height * width
            labelers[record][who] += 1
            pixels[who] += size
            doodled[record] += density * size
            total[record] += size
            lats.append((lat0 + lat1) / 2)
            lons.append((lon0 + lon1) / 2)
    return dict(classes=classes, superclasses=superclasses, labelers=labelers, pixels=pixels,
                percent={r: 100 * doodled[r] / total[r] for r in total},
                lat_hist=np.histogram(lats, 20), lon_hist=np.histogram(lons, 20))


def our_way(store: LabelStore) -> dict:
    """Every figure's data frame, as the plots package makes them."""
    return dict(classes=frames.class_frame(store),
                superclasses=frames.class_frame(store, view="superclasses"),
                labelers=frames.labeler_frame(store), datasets=frames.dataset_frame(store),
                locations=frames.location_frame(store),
                class_pixels=frames.class_pixel_frame(store),
                agreement=frames.agreement_frame(store))


def bulk_store(folder: Path, paths: list[Path]) -> LabelStore:
    """The same records in a store: rows written in bulk, then the aggregates rebuilt."""
    store = LabelStore.open(folder / "store.sqlite")
    now = time.time()
    labelers = [f"ID{k}" for k in range(1, 7)]
    for labeler in labelers:
        store.add_labeler(labeler)
    for path in paths:
        store.add_task(f"{path.name[0]} classes", type="multilabel", classes=CLASSES)
        store.add_dataset(path.name[0], sensor="synthetic")
    with store.engine.connect() as conn:
        task_ids = dict(conn.execute(sa.select(s.tasks.c.title, s.tasks.c.task_id)).all())
        dataset_ids = dict(conn.execute(sa.select(s.datasets.c.name, s.datasets.c.dataset_id)
                                        ).all())
    raw = store.engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("BEGIN")
    for path in paths:
        record = path.name[0]
        df = pd.read_csv(path)
        task_id, dataset_id = task_ids[f"{record} classes"], dataset_ids[record]
        cursor.execute("INSERT INTO actions (task_id, labeler_id, kind, created_at) "
                       "VALUES (?, 'ID1', 'edit', ?)", (task_id, now))
        action = cursor.lastrowid
        ids = [f"{record}{k:063x}" for k in range(len(df))]
        lon = ((df["LonMin"] + df["LonMax"]) / 2).to_numpy()
        lat = ((df["LatMin"] + df["LatMax"]) / 2).to_numpy()
        cursor.executemany(
            "INSERT INTO images (image_id, dataset_id, name, uri, file_missing, width, height, "
            "lon, lat, added_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
            zip(ids, [dataset_id] * len(df), df["image_filename"],
                ("coasttrain://" + record + "/" + df["image_filename"]).tolist(),
                df["ImageWidthPx"].tolist(), df["ImageHeightPx"].tolist(), lon.tolist(),
                lat.tolist(), [now] * len(df)))
        who = df["image_filename"].str.extract(r"_(ID\d+)")[0].tolist()
        rows = []
        for image_id, labeler, names, density in zip(ids, who, df["classes_present_array"],
                                                      df["doodle_spatial_density"]):
            for c in ast.literal_eval(f"[{names}]"):
                rows.append((f"tag/{task_id}/{image_id}/{labeler}/{c}", action, image_id,
                             task_id, labeler, labeler, "tag", c, None, now))
            rows.append((f"doodles/{task_id}/{image_id}/{labeler}", action, image_id, task_id,
                         labeler, labeler, "doodles", None,
                         json.dumps({"doodled_fraction": density}), now))
            rows.append((f"status/{task_id}/{image_id}/{labeler}", action, image_id, task_id,
                         labeler, labeler, "status", "labeled", None, now))
        cursor.executemany(
            "INSERT INTO annotations (label_id, action_id, image_id, task_id, labeler_id, "
            "author_id, kind, value, props, created_at, deleted, is_current) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1)", rows)
    cursor.execute("COMMIT")
    raw.close()
    with store._writer.begin() as conn:
        aggregates.rebuild(conn)
    store.remap("superclasses", ALIASES)
    return store


def best_of(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def run(n_images: int, folder: Path) -> dict:
    paths = make_records(folder, n_images)
    start = time.perf_counter()
    store = bulk_store(folder, paths)
    build = time.perf_counter() - start
    theirs = metaplots_way(paths)
    ours = our_way(store)
    # the same answer both ways, on one record's class counts
    mine = ours["classes"].query("dataset == 'A'").set_index("class")["images"].to_dict()
    assert mine == dict(theirs["classes"]["A"]), "the two ways disagree"
    ours_s = best_of(lambda: our_way(store), 3)
    theirs_s = best_of(lambda: metaplots_way(paths), 1 if n_images >= 1_000_000 else 2)
    annotations = store.engine.connect().execute(sa.text("SELECT count(*) FROM annotations"))\
        .scalar()
    store.close()
    return {"images": n_images, "annotations": annotations, "store_bulk_load_s": round(build, 1),
            "ours_s": round(ours_s, 4), "metaplots_s": round(theirs_s, 3),
            "ratio_metaplots_over_ours": round(theirs_s / ours_s, 1)}


def real_records(folder: Path) -> dict | None:
    """Both ways on the real Coast Train CSVs, where ../shared/data is present."""
    from geolabel_widgets.formats import read_coasttrain

    metadata = Path(__file__).resolve().parents[2] / "shared" / "data" / "coasttrain" / "metadata"
    paths = sorted(metadata.glob("*.csv"))
    if not paths:
        return None
    store = LabelStore.open(folder / "real.sqlite")
    for path in paths:
        read_coasttrain(store, path)
    store.remap("superclasses", ALIASES)
    ours_s = best_of(lambda: our_way(store), 3)
    theirs_s = best_of(lambda: metaplots_way(paths), 3)
    return {"images": len(store.images), "records": len(paths), "ours_s": round(ours_s, 4),
            "metaplots_s": round(theirs_s, 3),
            "ratio_metaplots_over_ours": round(theirs_s / ours_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    results = {"sizes": []}
    with tempfile.TemporaryDirectory() as tmp:
        results["real_coasttrain"] = real_records(Path(tmp))
        for n in args.sizes:
            folder = Path(tmp) / str(n)
            folder.mkdir()
            results["sizes"].append(run(n, folder))
            print(json.dumps(results["sizes"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
