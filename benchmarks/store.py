"""The label store against the naive pandas way, side by side in one run.

The naive way is what a notebook does without a store: keep labels in a
DataFrame, append a row per label and write the CSV after each one (so a
crash loses nothing). Prints JSON with both timings and their ratio.

    python benchmarks/store.py            # 1k and 100k images, 1M annotations
    python benchmarks/store.py --quick    # smaller, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa

from geolabel_widgets import LabelStore
from geolabel_widgets.store import schema

TASK = "flood"


def catalogue(n: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-125, -70, n), rng.uniform(25, 48, n)
    return gpd.GeoDataFrame({"path": [f"/archive/scene_{k:06d}.tif" for k in range(n)],
                             "width": 512, "height": 512, "date": "2021-06-01"},
                            geometry=gpd.points_from_xy(lon, lat).buffer(0.005),
                            crs="EPSG:4326")


def store_with(folder: Path, n_images: int) -> tuple[LabelStore, list[str]]:
    store = LabelStore.open(folder / f"store_{n_images}.sqlite")
    store.add_task(TASK)
    ids = store.add_images(catalogue(n_images), dataset="archive")
    return store, ids


def time_tags(store: LabelStore, ids: list[str], count: int) -> dict:
    latencies = []
    for k in range(count):
        start = time.perf_counter()
        store.tag(ids[k % len(ids)], "present" if k % 2 else "not present", task=TASK,
                  labeler="bench")
        latencies.append(time.perf_counter() - start)
    return _summary(latencies)


def time_naive_tags(folder: Path, existing: int, count: int) -> dict:
    """Append a row and rewrite the CSV after each label, over ``existing`` labels."""
    labels = pd.DataFrame({"image_id": [f"{k:064x}" for k in range(existing)],
                           "labeler": "old", "value": "present",
                           "created_at": pd.Timestamp("2021-01-01", tz="UTC")})
    path = folder / f"naive_{existing}.csv"
    latencies = []
    for k in range(count):
        start = time.perf_counter()
        row = pd.DataFrame({"image_id": [f"{k:064x}"], "labeler": ["bench"],
                            "value": ["present"], "created_at": [pd.Timestamp.now(tz="UTC")]})
        labels = pd.concat([labels, row], ignore_index=True)
        labels.to_csv(path, index=False)
        latencies.append(time.perf_counter() - start)
    return _summary(latencies)


def bulk_annotations(store: LabelStore, ids: list[str], total: int) -> None:
    """About ten current annotations per image, written in bulk (the setup, not measured)."""
    rng = np.random.default_rng(1)
    now = time.time()
    labelers = [f"ID{k}" for k in range(10)]
    with store.engine.begin() as conn:
        task_id = conn.execute(sa.select(schema.tasks.c.task_id)).scalar()
        for labeler in labelers:
            conn.execute(sa.insert(schema.labelers).values(labeler_id=labeler, created_at=now))
        action = conn.execute(sa.insert(schema.actions).values(
            task_id=task_id, labeler_id="ID0", kind="edit", created_at=now)).inserted_primary_key[0]
        batch = []
        for k in range(total):
            image_id, labeler = ids[k % len(ids)], labelers[(k // len(ids)) % 10]
            batch.append(dict(label_id=f"tag/{task_id}/{image_id}/{labeler}", action_id=action,
                              image_id=image_id, task_id=task_id, labeler_id=labeler,
                              author_id=labeler, kind="tag",
                              value="present" if rng.random() < 0.3 else "not present",
                              created_at=now, deleted=False, is_current=True))
            if len(batch) == 50_000:
                conn.execute(sa.insert(schema.annotations), batch)
                batch = []
        if batch:
            conn.execute(sa.insert(schema.annotations), batch)


def time_loads(store: LabelStore, folder: Path) -> dict:
    start = time.perf_counter()
    images = store.images
    images_s = time.perf_counter() - start
    start = time.perf_counter()
    annotations = store.annotations
    annotations_s = time.perf_counter() - start

    # the naive way: the same tables as CSV files, read back with pandas
    images_csv, labels_csv = folder / "images.csv", folder / "labels.csv"
    images.to_wkt().to_csv(images_csv)
    annotations[["image_id", "labeler", "kind", "value", "created_at"]].to_csv(labels_csv)
    start = time.perf_counter()
    naive_images = pd.read_csv(images_csv)
    naive_images["geometry"] = gpd.GeoSeries.from_wkt(naive_images["geometry"])
    naive_images_s = time.perf_counter() - start
    start = time.perf_counter()
    naive_annotations = pd.read_csv(labels_csv, parse_dates=["created_at"])
    naive_annotations_s = time.perf_counter() - start
    assert len(naive_images) == len(images) and len(naive_annotations) == len(annotations)
    return {"images": len(images), "annotations": len(annotations),
            "store_images_s": round(images_s, 3), "naive_images_s": round(naive_images_s, 3),
            "store_annotations_s": round(annotations_s, 3),
            "naive_annotations_s": round(naive_annotations_s, 3),
            "images_ratio_naive_over_store": round(naive_images_s / images_s, 2),
            "annotations_ratio_naive_over_store": round(naive_annotations_s / annotations_s, 2)}


def _summary(latencies: list[float]) -> dict:
    ms = np.array(latencies) * 1000
    return {"count": len(ms), "per_second": round(len(ms) / (ms.sum() / 1000), 1),
            "median_ms": round(float(np.median(ms)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    small, large = (1_000, 10_000) if args.quick else (1_000, 100_000)
    annotations = 100_000 if args.quick else 1_000_000
    tags = 300 if args.quick else 1_000
    result: dict = {"machine_note": "compare ratios, not absolute times"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in (small, large):
            store, ids = store_with(folder, n)
            ours = time_tags(store, ids, tags)
            naive = time_naive_tags(folder, n, tags)
            result[f"tag_with_{n}_images"] = {
                "store": ours, f"naive_csv_with_{n}_labels": naive,
                "p95_ratio_naive_over_store": round(naive["p95_ms"] / ours["p95_ms"], 2)}
            if n == large:
                bulk_annotations(store, ids, annotations)
                result[f"load_{n}_images_{annotations}_annotations"] = time_loads(store, folder)
            store.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
