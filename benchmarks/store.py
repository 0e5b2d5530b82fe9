"""The label store against the naive pandas way, and on SQLite against PostgreSQL,
side by side in one run.

The naive way is what a notebook does without a store: keep labels in a
DataFrame, append a row per label and write the CSV after each one (so a
crash loses nothing). The same store calls then run on a PostgreSQL server, and
a team of labeler processes claims and tags one task on each backend. Prints
JSON with the timings and their ratios.

    python benchmarks/store.py            # 1k and 100k images, 1M annotations
    python benchmarks/store.py --quick    # smaller, for a smoke run
    python benchmarks/store.py --postgresql postgresql://user@host/db  # that server
                                          # (default: a throwaway one, as the tests start)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
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


def store_with(target, n_images: int) -> tuple[LabelStore, list[str]]:
    store = LabelStore.open(target)
    store.add_task(TASK)
    ids = store.add_images(catalogue(n_images), dataset="archive", progress=False)
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


def time_team(target, n_images: int, labelers: int) -> dict:
    """``labelers`` processes, each with its own connection, claim and tag one task
    (one label per image) until nothing is left: labels per second, all together."""
    store, ids = store_with(target, n_images)
    for k in range(labelers):
        store.assign(TASK, f"labeler{k}")
    start = time.perf_counter()
    workers = [subprocess.Popen([sys.executable, __file__, "--claim-and-tag", str(target),
                                 f"labeler{k}"], stdout=subprocess.PIPE, text=True)
               for k in range(labelers)]
    done = sum(int(worker.communicate()[0]) for worker in workers)
    seconds = time.perf_counter() - start
    labeled = store.statuses(TASK)["status"].eq("labeled").sum()
    store.close()
    assert done == labeled == n_images, (done, labeled, n_images)
    return {"labelers": labelers, "images": n_images, "seconds": round(seconds, 2),
            "labels_per_second": round(n_images / seconds, 1)}


def claim_and_tag(target: str, labeler: str) -> None:
    """One labeler of ``time_team``: prints how many images it tagged."""
    store, done = LabelStore.open(target), 0
    while claimed := store.claim(TASK, labeler, 20):
        for image_id in claimed:
            store.tag(image_id, "present", task=TASK, labeler=labeler)
            done += 1
    print(done)


@contextmanager
def postgres_server(url: str | None):
    """Where new databases come from: the server at ``url``, or a throwaway one."""
    if url is not None:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        counter = iter(range(1_000_000))

        def new_database() -> str:
            name = f"geolabel_bench_{int(time.time())}_{next(counter)}"
            with engine.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
            return sa.make_url(url).set(database=name).render_as_string(hide_password=False)
        yield new_database
        engine.dispose()
        return
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from postgres import PostgresServer  # the tests' throwaway server (Debian's postgresql)

    with PostgresServer() as server:
        yield server.new_database


def backend_figures(folder: Path, new_database, small: int, large: int, annotations: int,
                    tags: int, team_images: int) -> dict:
    """The same calls on a SQLite file and on a PostgreSQL database."""
    result: dict = {}
    targets = {"sqlite": lambda name: folder / f"{name}.sqlite",
               "postgresql": lambda name: new_database()}
    for n in (small, large):
        row = {}
        for backend, target in targets.items():
            store, ids = store_with(target(f"tags_{n}"), n)
            row[backend] = time_tags(store, ids, tags)
            if n == large:
                bulk_annotations(store, ids, annotations)
                loads = time_loads(store, folder)
                result.setdefault(f"load_{n}_images_{annotations}_annotations", {})[backend] = {
                    k: loads[k] for k in ("store_images_s", "store_annotations_s")}
            store.close()
        row["p95_ratio_postgresql_over_sqlite"] = round(
            row["postgresql"]["p95_ms"] / row["sqlite"]["p95_ms"], 2)
        result[f"tag_with_{n}_images"] = row
    team = {backend: time_team(target(f"team_{team_images}"), team_images, 8)
            for backend, target in targets.items()}
    team["throughput_ratio_postgresql_over_sqlite"] = round(
        team["postgresql"]["labels_per_second"] / team["sqlite"]["labels_per_second"], 2)
    result[f"team_of_8_claiming_{team_images}_images"] = team
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgresql", metavar="URL",
                        help="a server to create the benchmark's databases on")
    parser.add_argument("--claim-and-tag", nargs=2, metavar=("STORE", "LABELER"),
                        help=argparse.SUPPRESS)  # one labeler process of the team figures
    args = parser.parse_args()
    if args.claim_and_tag:
        claim_and_tag(*args.claim_and_tag)
        return
    small, large = (1_000, 10_000) if args.quick else (1_000, 100_000)
    annotations = 100_000 if args.quick else 1_000_000
    tags = 300 if args.quick else 1_000
    team_images = 1_000 if args.quick else 5_000
    result: dict = {"machine_note": "compare ratios, not absolute times"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in (small, large):
            store, ids = store_with(folder / f"store_{n}.sqlite", n)
            ours = time_tags(store, ids, tags)
            naive = time_naive_tags(folder, n, tags)
            result[f"tag_with_{n}_images"] = {
                "store": ours, f"naive_csv_with_{n}_labels": naive,
                "p95_ratio_naive_over_store": round(naive["p95_ms"] / ours["p95_ms"], 2)}
            if n == large:
                bulk_annotations(store, ids, annotations)
                result[f"load_{n}_images_{annotations}_annotations"] = time_loads(store, folder)
            store.close()
        with postgres_server(args.postgresql) as new_database:
            result["sqlite_and_postgresql"] = backend_figures(
                folder, new_database, small, large, annotations, tags, team_images)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
