"""Splits: proportions, history, and no train chip touching a test chip."""

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from geolabel_widgets.store import StoreError

pytestmark = pytest.mark.both_backends


@pytest.fixture
def chipped(store, tmp_path):
    """A 40 x 40 grid of 32-pixel chips cut from one synthetic GeoTIFF (1600 chips)."""
    scene = tmp_path / "scene.tif"
    rng = np.random.default_rng(0)
    with rasterio.open(scene, "w", driver="GTiff", width=1280, height=1280, count=1,
                       dtype="uint8", crs="EPSG:32618", transform=from_origin(500_000,
                       4_000_000, 10, 10)) as dst:
        dst.write(rng.integers(1, 255, (1, 1280, 1280), dtype=np.uint8))
    ids = store.add_chips(scene, size=32, folder=tmp_path / "chips", progress=False)
    store.add_task("land", classes=["sand", "water"])
    return store, ids


def test_a_split_by_image_has_the_proportions_and_history(chipped):
    store, ids = chipped
    splits = store.split("land", train=0.7, val=0.1, test=0.2, seed=1)
    assert splits.value_counts().to_dict() == {"train": 1120, "test": 320, "val": 160}
    again = store.split("land", train=0.7, val=0.1, test=0.2, seed=1)
    assert again.equals(splits)  # the same seed, the same split, nothing rewritten
    rows = store.get_annotations(task="land", kinds=["split"], history=True)
    assert len(rows) == len(ids)
    store.split("land", train=0.5, val=0.0, test=0.5, seed=2)
    assert len(store.get_annotations(task="land", kinds=["split"], history=True)) > len(ids)
    assert set(store.splits("land")) == {"train", "test"}
    assert store.annotations.empty  # splits are not labels


def test_a_spatial_split_never_lets_a_train_chip_touch_a_test_chip(chipped):
    store, ids = chipped
    splits = store.split("land", by="location", seed=3)
    footprints = store.images.loc[splits.index].geometry
    train = footprints[splits == "train"].to_numpy()
    test = footprints[splits == "test"].to_numpy()
    assert len(train) > 600 and len(test) > 100
    tree = shapely.STRtree(shapely.buffer(test, 1e-7))  # wider than the split's own margin
    assert len(tree.query(train, predicate="intersects")[0]) == 0
    # a split by image, on the same chips, does let them touch: the test above means something
    mixed = store.split("land", by="image", seed=3)
    tree = shapely.STRtree(shapely.buffer(footprints[mixed == "test"].to_numpy(), 1e-7))
    assert len(tree.query(footprints[mixed == "train"].to_numpy(), predicate="intersects")[0])


def test_split_fractions_are_checked(chipped):
    store, _ = chipped
    with pytest.raises(StoreError, match="sum to 1"):
        store.split("land", train=0.8, val=0.3, test=0.1)
    with pytest.raises(StoreError, match="'image' or 'location'"):
        store.split("land", by="dataset")


def test_splits_survive_a_folder_export(store, image_folder, tmp_path):
    import pandas as pd

    from geolabel_widgets.formats import write_folder

    ids = store.add_images(image_folder, dataset="event", progress=False)
    store.add_task("flood")
    for image_id in ids:
        store.tag(image_id, "present", task="flood", labeler="ann")
    splits = store.split("flood", train=0.5, val=0.0, test=0.5, seed=0)
    write_folder(store, tmp_path / "out", task="flood", progress=False)
    table = pd.read_csv(tmp_path / "out" / "labels.csv")
    assert table.set_index("image_id")["split"].to_dict() == splits.to_dict()
    for image_id, split in splits.items():
        name = store.images.loc[image_id, "name"]
        assert (tmp_path / "out" / split / "event" / "present" / name).is_file()


def test_the_split_figure_counts_classes_per_split(store, image_folder):
    from geolabel_widgets.plots import figures, frames

    ids = store.add_images(image_folder, dataset="event", progress=False)
    store.add_task("flood")
    for k, image_id in enumerate(ids):
        store.tag(image_id, "present" if k % 2 else "not present", task="flood", labeler="ann")
    splits = store.split("flood", train=0.5, val=0.0, test=0.5, seed=4)
    frame = frames.split_frame(store, "flood").set_index(["split", "class"])["images"]
    values = store.annotations.set_index("image_id")["value"]
    for split in ("train", "test"):
        members = splits.index[splits == split]
        assert frame[(split, "(all)")] == len(members)
        for cls, n in values[members].value_counts().items():
            assert frame[(split, cls)] == n
    assert len(figures.images_per_split(store, "flood").axes[0].patches) > 0
