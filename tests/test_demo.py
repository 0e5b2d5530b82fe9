"""The synthetic demo dataset."""

import numpy as np

from geolabel_widgets import demo


def test_scenes_are_deterministic_and_hold_every_zone():
    first, truth = demo.coastal_scene(np.random.default_rng(3))
    again, truth_again = demo.coastal_scene(np.random.default_rng(3))
    assert np.array_equal(first, again) and np.array_equal(truth, truth_again)
    assert first.shape == (demo.SIZE, demo.SIZE, 3) and first.dtype == np.uint8
    # water looks like water: bluer than the sand
    water, sand = truth == 0, truth == 2
    assert first[water][:, 2].mean() > first[sand][:, 2].mean() - 40
    assert first[sand][:, 0].mean() > first[water][:, 0].mean()


def test_simulated_doodles_lie_inside_their_class():
    _, truth = demo.coastal_scene(np.random.default_rng(5))
    doodles = demo.simulate_doodles(truth, np.random.default_rng(5))
    doodled = doodles > 0
    assert 0 < doodled.mean() < 0.2
    assert np.array_equal(doodles[doodled] - 1, truth[doodled])


def test_the_demo_store_is_labelled_synthetic_and_has_work_for_every_widget(demo_copy):
    store = demo.demo_store(demo_copy, progress=False)
    datasets = store.datasets
    assert datasets["synthetic"].all()
    assert all("synthetic" in name.lower() for name in datasets.index)
    assert all("SYNTHETIC" in text for text in datasets["description"])
    images = store.images
    assert len(images) == 300 and images.geometry.notna().all()
    # every image lies near its real coast
    assert images.groupby("dataset")["lat"].mean().between(28, 48).all()
    assert set(images["dtype"]) == {"uint8", "uint16"}
    stats = store.stats()
    assert len(stats["labelers"]) >= 5
    labels = store.annotations
    assert {"mask", "doodles", "tag"} <= set(labels["kind"])
    # and work left to do
    assert store.queue(demo.SEGMENTATION_TASK, "you")
    assert store.queue(demo.EVENT_TASK, "you")
    # opening again does not rebuild
    mtime = demo_copy.stat().st_mtime
    demo.demo_store(demo_copy).close()
    assert demo_copy.stat().st_mtime == mtime
    store.close()
