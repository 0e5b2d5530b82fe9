"""COCO: boxes and polygons (holes kept on the side) in pixels, and files from elsewhere."""

import itertools
import json

import numpy as np
import pytest

from formats_helpers import SHAPES, labeled_store, snapshot
from geolabel_widgets import LabelStore
from geolabel_widgets.formats import FormatError, read_coco, write_coco


def test_boxes_and_polygons_round_trip_with_their_holes(tmp_path):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    with pytest.warns(UserWarning, match="4 point"):
        document = write_coco(store, tmp_path / "coco.json", task=SHAPES)
    polygon = next(a for a in document["annotations"] if a["geolabel_kind"] == "polygon")
    assert len(polygon["segmentation"][0]) == 8 and polygon["area"] == 50 * 40 - 100
    assert polygon["bbox"] == [10.0, 10.0, 50.0, 40.0]
    kept = snapshot(store, kinds=["box", "polygon"])
    kept["statuses"] = []
    kept["tasks"] = {SHAPES: kept["tasks"][SHAPES]}
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_coco(again, tmp_path / "coco.json", progress=False)
        got = snapshot(again)
        got["statuses"] = []  # COCO has no statuses
        assert got == kept
        write_coco(again, tmp_path / "again.json", task=SHAPES)  # nothing left out now
    with LabelStore.open(tmp_path / "c.sqlite") as third:
        read_coco(third, tmp_path / "again.json", progress=False)
        got = snapshot(third)
        got["statuses"] = []
        assert got == kept
    store.close()


def test_a_plain_coco_file_reads_with_its_images_beside_it(tmp_path):
    from conftest import write_images

    [photo] = write_images(tmp_path, 1, size=(100, 80))
    (tmp_path / "instances.json").write_text(json.dumps({
        "images": [{"id": 7, "file_name": str(photo.relative_to(tmp_path)), "width": 100,
                    "height": 80}],
        "categories": [{"id": 1, "name": "boat"}, {"id": 2, "name": "pier"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 20, 30, 15]},
            {"id": 2, "image_id": 7, "category_id": 2, "iscrowd": 0, "bbox": [0, 0, 50, 10],
             "segmentation": [[0, 0, 50, 0, 50, 10, 0, 10], [60, 60, 70, 60, 70, 70]]}]}))
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        [image_id] = read_coco(store, tmp_path / "instances.json", progress=False)
        labels = store.annotations.sort_values("kind")
        assert labels["kind"].tolist() == ["box", "polygon"]
        assert labels["geometry"].iloc[0].bounds == (10, 20, 40, 35)
        assert labels["geometry"].iloc[1].geom_type == "MultiPolygon"
        assert store.tasks.loc["instances objects", "type"] == "instance_segmentation"
        assert not store.images.loc[image_id, "file_missing"]


def test_rle_masks_compressed_or_not_are_one_mask_per_image(tmp_path):
    """Column-major runs, 0s first; an uncompressed and a compressed RLE of the same
    pixels read alike, later annotations over earlier, ``unlabeled`` where none lies."""
    from pycocotools import mask as coco_mask

    sand = np.zeros((6, 5), np.uint8)
    sand[1:4, 1:3] = 1
    water = np.zeros((6, 5), np.uint8)
    water[3:, :] = 1
    runs = [len(list(run)) for _, run in itertools.groupby(sand.ravel(order="F"))]
    compressed = coco_mask.encode(np.asfortranarray(water))["counts"].decode()
    (tmp_path / "stuff.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "absent.jpg", "width": 5, "height": 6}],
        "categories": [{"id": 0, "name": "sand"}, {"id": 5, "name": "water"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 0, "iscrowd": 1,
             "segmentation": {"size": [6, 5], "counts": runs}},
            {"id": 2, "image_id": 1, "category_id": 5, "iscrowd": 0,
             "segmentation": {"size": [6, 5], "counts": compressed}}]}))
    assert runs[0] == 7 and sum(runs) == 30
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        read_coco(store, tmp_path / "stuff.json", progress=False)
        [row] = store.get_annotations(kinds=["mask"]).itertuples()
        mask, classes = store.mask(row.annotation_id)
        assert classes == ["sand", "water", "unlabeled"]
        want = np.full((6, 5), 2)
        want[sand == 1] = 0
        want[water == 1] = 1
        assert np.array_equal(mask, want)
        assert store.tasks.loc["stuff objects", "type"] == "semantic_segmentation"


@pytest.mark.parametrize("change, message", [
    (lambda d: d["annotations"][0].update(category_id=9), "annotation 0 has category 9"),
    (lambda d: d["annotations"][1].update(segmentation=[[1, 2, 3]]), "annotation 1 has a ring"),
    (lambda d: d["annotations"][1].update(segmentation={"counts": "x", "size": [8, 8]}),
     "annotation 1's RLE size is \\[8, 8\\], its image 80 x 120"),
    (lambda d: d["annotations"][1].update(segmentation={"counts": [5, 3], "size": [80, 120]}),
     "annotation 1's uncompressed RLE counts are not non-negative integers summing to 9600"),
    (lambda d: d["annotations"][1].update(segmentation={"counts": "a b", "size": [80, 120]}),
     "annotation 1's RLE counts are neither"),
    (lambda d: d["images"][0].pop("width"), "image 0 has no int 'width'"),
    (lambda d: d.pop("categories"), "no 'categories' list"),
])
def test_a_malformed_file_is_named_and_nothing_is_written(tmp_path, change, message):
    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    with pytest.warns(UserWarning):
        document = write_coco(store, tmp_path / "coco.json", task=SHAPES)
    store.close()
    change(document)
    (tmp_path / "coco.json").write_text(json.dumps(document))
    with LabelStore.open(tmp_path / "b.sqlite") as target:
        with pytest.raises(FormatError, match=message):
            read_coco(target, tmp_path / "coco.json", progress=False)
        assert len(target.images) == 0 and len(target.get_annotations(history=True)) == 0
