"""COCO: boxes and polygons (holes kept on the side) in pixels, and files from elsewhere."""

import json

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


@pytest.mark.parametrize("change, message", [
    (lambda d: d["annotations"][0].update(category_id=9), "annotation 0 has category 9"),
    (lambda d: d["annotations"][1].update(segmentation=[[1, 2, 3]]), "annotation 1 has a ring"),
    (lambda d: d["annotations"][1].update(segmentation={"counts": "x", "size": [8, 8]}),
     "annotation 1 is an RLE mask"),
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
