"""Several kernels writing one store (a SQLite file, or PostgreSQL), and kernels killed
mid-labeling."""

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pytest

from geolabel_widgets import LabelStore

WORKER = Path(__file__).with_name("store_worker.py")


def _catalogue_store(path, n: int) -> list[str]:
    catalogue = gpd.GeoDataFrame({"path": [f"/archive/{k}.tif" for k in range(n)]},
                                 geometry=gpd.points_from_xy(range(n), [0] * n), crs="EPSG:4326")
    with LabelStore.open(path) as store:
        store.add_task("flood")
        return store.add_images(catalogue, dataset="archive")


def _worker(path, labeler: str, count: int, offset: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), str(path), labeler, str(count),
                             str(offset)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
def test_four_processes_tagging_at_once_lose_nothing(new_target):
    path = new_target("team")
    ids = _catalogue_store(path, 2500)
    workers = [_worker(path, f"labeler{k}", 2500) for k in range(4)]
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
        assert "locked" not in err
        assert len(out.splitlines()) == 2500
    with LabelStore.open(path) as store:
        current = store.annotations
        assert len(current) == 10_000
        assert current.groupby("labeler")["image_id"].nunique().tolist() == [2500] * 4
        assert set(current["image_id"]) == set(ids)


@pytest.mark.slow
def test_a_kernel_killed_at_random_moments_loses_no_returned_tag(tmp_path):
    path = tmp_path / "kill.sqlite"
    _catalogue_store(path, 500)
    rng = random.Random(7)
    offset = 0
    for round_ in range(20):
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
