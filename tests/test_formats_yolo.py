"""YOLO folders: the real ones (Label Studio's, sahi's, solaris'), rotated boxes, and ours."""

import shutil

import numpy as np
import pytest
import yaml
from PIL import Image
from shapely.geometry import box

from conftest import write_images
from formats_helpers import SHAPES, labeled_store, snapshot
from geolabel_widgets import LabelStore, rotated_box
from geolabel_widgets.cli import main
from geolabel_widgets.formats import FormatError, read_yolo, write_yolo
from geolabel_widgets.store import StoreError, box_of


def test_label_studios_folder_reads_by_stem_across_extensions(store, shared_data):
    folder = shared_data / "real" / "yolo" / "labelstudio_test_import_yolo_data"
    ids = read_yolo(store, folder, progress=False)  # CRLF lines, .jpg .png .jpeg
    assert len(ids) == 5
    task = "labelstudio_test_import_yolo_data objects"
    assert store.classes(task) == ["closed_door", "opened_door", "bus", "number"]
    labels = store.get_annotations(task=task)
    assert len(labels) == 17 and set(labels["kind"]) == {"box"}
    assert labels["value"].value_counts().to_dict() == {"bus": 6, "closed_door": 6,
                                                        "number": 4, "opened_door": 1}
    image = store.images.reset_index().set_index("name").loc["img_1.jpg"]
    width, height = Image.open(folder / "images" / "img_1.jpg").size
    assert (image["width"], image["height"]) == (width, height)
    bus = labels[(labels["image_id"] == image["image_id"]) & (labels["value"] == "bus")]
    cx, cy, w, h = 0.49765625 * width, 0.46200607902735563 * height, 0.9640625 * width, \
        0.8693009118541033 * height  # img_1.txt, line 1
    assert bus.iloc[0]["geometry"].equals_exact(box(cx - w / 2, cy - h / 2, cx + w / 2,
                                                    cy + h / 2), 1e-9)


def test_sahis_export_needs_its_images_and_keeps_its_shifted_indices(store, shared_data):
    real = shared_data / "real"
    folder = real / "yolo" / "sahi_export_coco_as_yolov5"
    with pytest.raises(FormatError, match="terrain1.jpg.SYMLINK_TARGET.txt says it was a "
                                          "link to /mnt/d/Users/.*which is not here"):
        read_yolo(store, folder, progress=False)
    assert len(store.images) == 0
    ids = read_yolo(store, folder, images_dir=real / "coco" / "sahi", progress=False)
    assert len(ids) == 2  # train/ and val/ hold the same two images, read once
    labels = store.get_annotations().join(store.images["name"], on="image_id")
    assert store.classes("sahi_export_coco_as_yolov5 objects") == ["human", "car",
                                                                   "big_vehicle"]
    by_image = labels.groupby("name")["value"].agg(lambda v: sorted(set(v))).to_dict()
    assert by_image == {"terrain1.jpg": ["car"], "terrain2.png": ["big_vehicle"]}  # as written
    assert labels["name"].value_counts().to_dict() == {"terrain1.jpg": 7, "terrain2.png": 5}


def test_solaris_labels_without_a_class_list_are_named_by_index(store, shared_data):
    folder = shared_data / "real" / "spacenet_solaris"
    with pytest.warns(UserWarning, match="classes are named by their index, 0..0"):
        ids = read_yolo(store, folder, progress=False)  # sample_geotiff.tif.txt
    labels = store.get_annotations()
    assert len(ids) == 1 and len(labels) == 43 and set(labels["value"]) == {"0"}
    image = store.image(ids[0])
    assert (image["width"], image["height"]) == (900, 900)
    assert labels["world_geometry"].notna().all()  # on the Earth: the GeoTIFF's place


def _rotated_store(tmp_path):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.annotate(ids[2], rotated_box(45, 30, 30, 12, 35), "road", task=SHAPES, labeler="ann",
                   kind="rotated_box")
    return store, ids


def test_our_export_reads_back_as_it_was_written(tmp_path):
    store, ids = _rotated_store(tmp_path)
    with pytest.warns(UserWarning, match="4 point"):
        written = write_yolo(store, tmp_path / "yolo", task=SHAPES)
    assert sorted(written["objects"]) == [2, 3]  # a box, a holed polygon (and a rotated box)
    lines = (tmp_path / "yolo" / written.iloc[-1]["labels"]).read_text().splitlines()
    # detect, OBB, and segment (four corners and the closing point: not read as an OBB)
    assert sorted(len(line.split()) for line in lines) == [5, 9, 11]
    document = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert document["names"] == {0: "water", 1: "sand", 2: "road"}
    kept = snapshot(store, digits=3, kinds=["box", "polygon", "rotated_box"], task=SHAPES)
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_yolo(again, tmp_path / "yolo", task=SHAPES, labeler="ann", progress=False)
        got = snapshot(again, digits=3)
    holed = [r for r in kept["labels"] if "), (" in r[5]]  # polygons of four corners
    assert len(holed) == 2  # YOLO keeps one ring: the holes are lost, the rest is kept
    unholed = [(*r[:5], r[5].split("), (")[0] + "))") if r in holed else r
               for r in kept["labels"]]
    assert got["labels"] == sorted(unholed)
    assert got["tasks"] == {SHAPES: ("instance_segmentation", ["road", "sand", "water"])}
    store.close()


def test_a_rotated_box_keeps_its_corners_through_yolo_obb(tmp_path):
    store, ids = _rotated_store(tmp_path)
    drawn = store.get_annotations(kinds=["rotated_box"]).iloc[0]["geometry"]
    assert box_of(drawn) == pytest.approx((45, 30, 30, 12, 35))
    with pytest.warns(UserWarning):
        write_yolo(store, tmp_path / "yolo", task=SHAPES)
    width, height = store.image(ids[2])["width"], store.image(ids[2])["height"]
    name = store.image(ids[2])["name"].rsplit(".", 1)[0]
    obb = next(line.split() for line in (tmp_path / "yolo" / "labels" / f"{name}.txt")
               .read_text().splitlines() if len(line.split()) == 9)
    corners = np.asarray(obb[1:], float).reshape(4, 2) * [width, height]
    assert np.abs(corners - np.asarray(drawn.exterior.coords)[:4]).max() < 1e-3
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_yolo(again, tmp_path / "yolo", task=SHAPES, progress=False)
        back = again.get_annotations(kinds=["rotated_box"])
        assert len(back) == 1 and box_of(back.iloc[0]["geometry"]) == pytest.approx(
            (45, 30, 30, 12, 35), abs=1e-3)
    store.close()


def test_the_store_refuses_a_rotated_box_that_is_not_a_rectangle(store, tmp_path):
    ids = store.add_images(write_images(tmp_path / "im", 1), dataset="d", progress=False)
    store.add_task("t", type="detection", classes=["a"])
    skewed = [(0, 0), (10, 0), (12, 5), (0, 5)]
    with pytest.raises(StoreError, match="four corners make a rectangle"):
        store.annotate(ids[0], {"type": "Polygon", "coordinates": [skewed + [(0, 0)]]}, "a",
                       task="t", labeler="ann", kind="rotated_box")
    with pytest.raises(StoreError, match="kind is one of"):
        store.annotate(ids[0], box(0, 0, 1, 1), "a", task="t", labeler="ann", kind="circle")
    assert store.get_annotations().empty


def test_splits_become_yolos_train_val_and_test_folders(tmp_path):
    store, ids = _rotated_store(tmp_path)
    store.set_status(ids[1], "labeled", task=SHAPES, labeler="ann")  # looked at: no objects
    store.split(SHAPES, train=0.34, val=0.33, test=0.33, seed=3)
    splits = store.splits(SHAPES)
    with pytest.warns(UserWarning):
        written = write_yolo(store, tmp_path / "yolo", task=SHAPES)
    assert len(written) == 3  # the two drawn on and the one labeled with nothing on it
    for row in written.itertuples():
        part = splits[row.image_id]
        assert row.image.startswith(f"images/{part}/") and row.labels.startswith(
            f"labels/{part}/")
    empty = written.set_index("image_id").loc[ids[1]]
    assert (tmp_path / "yolo" / empty["labels"]).read_text() == ""
    document = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert {k: v for k, v in document.items() if k in ("train", "val", "test")} == {
        part: f"images/{part}" for part in set(splits[written["image_id"]])}
    store.close()


@pytest.mark.parametrize("line, says", [
    ("7 0.5 0.5 0.1 0.1", r"class 7 is not an index of the 2 classes named \(0..1\)"),
    ("0 0.5 0.5 0.1 0.1 0.93", "a confidence score"),
    ("1 250 120 40 30", r"fractions of the image size \(0..1\), got 250: pixel"),
    ("0 0.5 0.5 oops 0.1", "not numbers"),
    ("0 0.5 0.5 0.1", "3 numbers after the class"),
    ("0 nan 0.5 0.1 0.1", "not a finite number"),
])
def test_a_bad_line_names_its_file_and_line_and_writes_nothing(store, tmp_path, line, says):
    folder = tmp_path / "set"
    write_images(folder / "images", 3)
    shutil.rmtree(folder / "images" / "sub")
    (folder / "labels").mkdir()
    (folder / "classes.txt").write_text("water\nsand\n")
    first, second = sorted(p.stem for p in (folder / "images").iterdir())
    (folder / "labels" / f"{first}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (folder / "labels" / f"{second}.txt").write_text(f"1 0.5 0.5 0.2 0.2\n{line}\n")
    with pytest.raises(FormatError, match=f"{second}.txt, line 2: .*{says}"):
        read_yolo(store, folder, progress=False)
    assert len(store.images) == 0 and store.get_annotations().empty


def test_a_names_file_that_is_not_a_class_list_is_a_clear_error(store, tmp_path):
    write_images(tmp_path / "set", 2)
    (next((tmp_path / "set").glob("*.png")).with_suffix(".txt")).write_text("0 .5 .5 .1 .1\n")
    (tmp_path / "set" / "data.yaml").write_text("names: [a, b\n")
    with pytest.raises(FormatError, match="data.yaml: not YAML"):
        read_yolo(store, tmp_path / "set", progress=False)
    (tmp_path / "set" / "data.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(FormatError, match="data.yaml: not YAML"):  # safe_load runs nothing
        read_yolo(store, tmp_path / "set", progress=False)
    (tmp_path / "set" / "data.yaml").write_text("nc: 2\n")
    with pytest.raises(FormatError, match="no 'names'"):
        read_yolo(store, tmp_path / "set", progress=False)
    assert len(store.images) == 0


def test_the_cli_imports_a_yolo_folder_with_its_images_elsewhere(tmp_path, shared_data, capsys):
    real = shared_data / "real"
    store = str(tmp_path / "labels.sqlite")
    assert main(["import", "yolo", str(real / "yolo" / "sahi_export_coco_as_yolov5"),
                 "--store", store, "--images", str(real / "coco" / "sahi")]) == 0
    assert "2 images" in capsys.readouterr().out
    assert main(["export", "yolo", str(tmp_path / "out"), "--store", store]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "labels").iterdir()) == [
        "terrain1.txt", "terrain2.txt"]
    assert main(["import", "veda", str(tmp_path), "--store", store, "--images",
                 str(tmp_path)]) == 1
    assert "--images does not apply to veda imports" in capsys.readouterr().err


def test_a_rotated_box_is_a_coco_polygon_with_its_angle_and_a_geojson_polygon(tmp_path):
    from geolabel_widgets.formats import read_coco, read_geojson, write_coco, write_geojson

    store, ids = _rotated_store(tmp_path)
    with pytest.warns(UserWarning):
        document = write_coco(store, tmp_path / "coco.json", task=SHAPES)
    turned = next(a for a in document["annotations"] if a["geolabel_kind"] == "rotated_box")
    assert turned["geolabel_angle"] == pytest.approx(35) and len(turned["segmentation"][0]) == 8
    write_geojson(store, tmp_path / "labels.geojson", task=SHAPES)
    for read, source in ((read_coco, "coco.json"), (read_geojson, "labels.geojson")):
        with LabelStore.open(tmp_path / f"{source}.sqlite") as again:
            read(again, tmp_path / source, progress=False)
            back = again.get_annotations(kinds=["rotated_box"]).iloc[0]["geometry"]
            assert box_of(back) == pytest.approx((45, 30, 30, 12, 35)), source
    store.close()
