"""Several kernels writing one store (a SQLite file, or PostgreSQL), kernels killed
mid-labeling, and a server restarted under a labeling loop."""

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from geolabel_widgets import LabelStore

pytestmark = pytest.mark.both_backends

WORKER = Path(__file__).with_name("store_worker.py")


def _catalogue_store(path, n: int, labels_per_image: int = 1) -> list[str]:
    catalogue = gpd.GeoDataFrame({"path": [f"/archive/{k}.tif" for k in range(n)]},
                                 geometry=gpd.points_from_xy([k * 0.01 for k in range(n)],
                                                             [0] * n), crs="EPSG:4326")
    with LabelStore.open(path) as store:
        store.add_task("flood", labels_per_image=labels_per_image)
        return store.add_images(catalogue, dataset="archive", progress=False)


def _worker(path, labeler: str, count: int, offset: int = 0) -> subprocess.Popen:
    return _run_worker("tag", path, labeler, count, offset)


def _claiming_workers(path, count: int, batch: int) -> list[subprocess.Popen]:
    """``count`` labelers claiming ``batch`` images at a time, set off together."""
    workers = [_run_worker("claim", path, f"labeler{k}", "flood", batch, stdin=subprocess.PIPE)
               for k in range(count)]
    for worker in workers:
        assert worker.stdout.readline() == "ready\n", worker.stderr.read()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    return workers


def _run_worker(*args, stdin=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_kernel_killed_at_random_moments_loses_no_returned_tag(tmp_path, soak):
    path = tmp_path / "kill.sqlite"
    _catalogue_store(path, 500)
    rng = random.Random(7)
    offset = 0
    for round_ in range(20 if soak else 6):
        worker = _worker(path, "ann", 100_000, offset)
        # wait for the first tag, then kill at a random moment while it tags
        first = worker.stdout.readline()
        assert first, worker.stderr.read()
        time.sleep(rng.uniform(0.0, 0.4))
        worker.send_signal(signal.SIGKILL)
        rest, _ = worker.communicate()
        returned = [line.split() for line in [first, *rest.splitlines()] if line.strip()]
        returned = [parts for parts in returned if len(parts) == 2]  # a half-printed line
        offset = int(returned[-1][1]) + 1

        # the store opens cleanly, and every tag whose call returned is there
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with LabelStore.open(path) as store:
            history = store.get_annotations(history=True, kinds=["tag"])
        written = set(zip(history["image_id"], history["value"]))
        for image_id, k in returned:
            assert (image_id, "present" if int(k) % 2 else "not present") in written, round_
        assert offset > 0


def _labels_per_image(path, ids) -> pd.Series:
    with LabelStore.open(path) as store:
        tags = store.get_annotations(task="flood", kinds=["tag"])
        history = store.get_annotations(task="flood", kinds=["tag"], history=True)
    assert len(history) == len(tags)  # no image was tagged twice by one labeler
    assert not tags.duplicated(["image_id", "labeler"]).any()
    return tags.groupby("image_id")["labeler"].nunique().reindex(ids, fill_value=0)


@pytest.mark.slow
def test_eight_labelers_claiming_many_images_label_each_exactly_once(postgres_url, soak):
    count = 20_000 if soak else 800
    ids = _catalogue_store(postgres_url, count)
    workers = _claiming_workers(postgres_url, 8, 50 if soak else 10)
    done = []
    for worker in workers:
        out, err = worker.communicate(timeout=1200)
        assert worker.returncode == 0, err
        done.append(out.split())
    per_image = _labels_per_image(postgres_url, ids)
    assert (per_image == 1).all(), per_image.value_counts()
    assert sum(map(len, done)) == count  # what the labelers say they did: the same
    assert all(len(d) > count / 40 for d in done)  # every one of them had work


@pytest.mark.slow
def test_eight_labelers_give_a_task_asking_three_labels_exactly_three(new_target, soak):
    path = new_target("agreement")
    ids = _catalogue_store(path, 2_400 if soak else 240, labels_per_image=3)
    workers = _claiming_workers(path, 8, 10)
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
        assert "locked" not in err  # SQLite's writers waited their turn, none gave up
    assert (_labels_per_image(path, ids) == 3).all()  # three writers on each image at once


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_server_restarted_mid_loop_loses_no_returned_label(postgres, mode, soak):
    url = postgres.new_database()
    _catalogue_store(url, 1000)
    loop = 10_000 if soak else 1_200
    worker = _worker(url, "ann", loop)
    for _ in range(300):  # well into the loop
        assert worker.stdout.readline(), worker.stderr.read()
    postgres.stop(mode)
    time.sleep(1.0)
    postgres.start()
    out, err = worker.communicate(timeout=600)
    assert worker.returncode == 0, err  # the loop carried on after the restart
    returned = [line.split() for line in out.splitlines()]
    assert len(returned) == loop - 300
    with LabelStore.open(url) as store:
        history = store.get_annotations(history=True, kinds=["tag"])
    written = set(zip(history["image_id"], history["value"]))
    for image_id, k in returned:
        assert (image_id, "present" if int(k) % 2 else "not present") in written
