"""A task's masks predicted again from their doodles on Dask: the same masks as in one
process, written in one transaction, a worker's error leaving the store as it was."""

import numpy as np
import pytest
from PIL import Image

from geolabel_widgets import LabelStore, StoreError
from geolabel_widgets.cli import main
from geolabel_widgets.demo import add_doodled_scenes
from geolabel_widgets.segment.resegment import resegment

TASK = "doodled scenes (synthetic)"


def masks_by_image(store: LabelStore) -> dict:
    rows = store.get_annotations(task=TASK, kinds=["mask"])
    return {row.image_id: store.mask(row.annotation_id)[0] for row in rows.itertuples()}


@pytest.fixture
def scenes(tmp_path):
    path = tmp_path / "store.sqlite"
    with LabelStore.open(path) as store:
        truth = add_doodled_scenes(store, tmp_path / "scenes", 6, size=128)
    return path, truth


def test_a_two_worker_cluster_makes_the_masks_one_process_makes(scenes, capsys):
    path, truth = scenes
    with LabelStore.open(path) as store:
        here = resegment(store, task=TASK, scheduler=None, progress=False)
        alone = masks_by_image(store)
    assert len(here) == len(alone) == 6
    accuracy = [np.mean(alone[image] == true) for image, true in truth.items()]
    assert min(accuracy) > 0.8  # the doodles' own scenes, recovered

    assert main(["segment", "--store", str(path), "--workers", "2", "--seed", "3"]) == 0
    assert "6 masks predicted again" in capsys.readouterr().out
    with LabelStore.open(path) as store:
        spread = masks_by_image(store)
        rows = store.get_annotations(task=TASK, kinds=["mask"])
        history = store.get_annotations(task=TASK, kinds=["mask"], history=True)
        again = resegment(store, task=TASK, seed=3, scheduler=None, progress=False)
        here_seed_3 = masks_by_image(store)
    assert rows["props"].map(lambda p: p["resegmented"]).tolist() == \
        [{"work_size": 512, "seed": 3}] * 6
    assert len(history) == 12  # the first masks are kept
    assert len(again) == 6 and spread.keys() == here_seed_3.keys()
    assert all(np.array_equal(spread[k], here_seed_3[k]) for k in spread)  # bit for bit


def test_a_worker_that_fails_stops_the_batch_and_nothing_is_written(scenes, dask_cluster):
    path, _ = scenes
    with LabelStore.open(path) as store:
        broken = store.images.sort_values("name")["uri"].iloc[4]
        Image.new("RGB", (64, 64)).save(broken)  # the doodles no longer fit it
        before = len(store.get_annotations(history=True))
        with pytest.raises(StoreError, match="the image is 64 x 64 px but its doodles are "
                                             "128 x 128"):
            resegment(store, task=TASK, scheduler=dask_cluster, progress=False)
        assert len(store.get_annotations(history=True)) == before


def test_what_cannot_be_segmented_is_named_before_any_work(scenes, tmp_path):
    path, _ = scenes
    with LabelStore.open(path) as store:
        with pytest.raises(StoreError, match="no doodles by zoe"):
            resegment(store, task=TASK, labeler="zoe", scheduler=None)
        with pytest.raises(ValueError, match="scheduler must be 'local', None or a scheduler"):
            resegment(store, task=TASK, scheduler="localhost:8786")
        gone = store.images.sort_values("name")["uri"].iloc[0]
        (tmp_path / "scenes" / "scene_0000.png").unlink()
        with pytest.raises(StoreError, match=f"its file {gone} is not here to segment"):
            resegment(store, task=TASK, scheduler=None)


def test_segment_on_a_store_without_tasks_says_so(tmp_path, capsys):
    LabelStore.open(tmp_path / "empty.sqlite").close()
    assert main(["segment", "--store", str(tmp_path / "empty.sqlite")]) == 1
    assert "segment is of one task and the store has none" in capsys.readouterr().err


def test_a_local_clusters_workers_keep_glibcs_own_malloc_trimming():
    """Dask would start them with MALLOC_TRIM_THRESHOLD_=65536, under which every
    image's arrays are mapped afresh (benchmarks/segment_batch.py: twice as slow)."""
    import os

    from geolabel_widgets.batch import run_batch

    assert run_batch(os.getenv, ["MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS"],
                     workers=1, progress=False) == [None, "1"]
