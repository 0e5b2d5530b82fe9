"""Label Studio's JSON export: its real files (label-studio-converter's), and ours."""

import json
import math

import numpy as np
import pytest
from shapely.geometry import Polygon

from formats_helpers import SHAPES, TAGS, labeled_store, snapshot
from geolabel_widgets import LabelStore, rotated_box
from geolabel_widgets.cli import main
from geolabel_widgets.formats import FormatError, read_labelstudio, write_labelstudio
from geolabel_widgets.formats.labelstudio import label_config
from geolabel_widgets.store import box_of


@pytest.fixture
def real(shared_data):
    return shared_data / "real" / "labelstudio"


def test_rectangles_by_two_annotators_are_two_labelers_in_pixels(store, real):
    ids = read_labelstudio(store, real / "test_export_yolo_data.json",
                           config=real / "test_export_yolo_label_config.xml", progress=False)
    assert len(ids) == 2
    assert store.classes("test_export_yolo_data") == ["parasites", "white"]
    labels = store.get_annotations()
    assert labels.groupby("labeler").size().to_dict() == {"labelstudio-user-1": 4,
                                                          "labelstudio-user-2": 2}
    assert set(labels["kind"]) == {"box"}
    image = store.image(ids[0])
    assert (image["uri"], image["width"], image["height"]) == ("/image1", 2800, 2800)
    first = json.loads((real / "test_export_yolo_data.json").read_text())[0]
    value = first["annotations"][0]["result"][0]["value"]
    x, y = value["x"] * 28, value["y"] * 28  # percent of 2800 px
    ours = labels[labels["label_id"].str.endswith(first["annotations"][0]["result"][0]["id"])]
    assert ours.iloc[0]["geometry"].bounds == pytest.approx(
        (x, y, x + value["width"] * 28, y + value["height"] * 28))
    assert (store.statuses()["status"] == "labeled").all()  # submitted annotations


def test_turned_rectangles_are_rotated_boxes_turned_about_their_top_left(store, real):
    with pytest.warns(UserWarning, match="'Butterfly' as 'butterfly'"):
        read_labelstudio(store, real / "test_export_yolo_data_obb.json",
                         config=real / "test_export_yolo_label_config_obb.xml",
                         progress=False)
    labels = store.get_annotations()
    assert len(labels) == 25 and set(labels["kind"]) == {"rotated_box"}
    assert set(labels["value"]) == {"butterfly"}  # the config's spelling, whatever the case
    tasks = json.loads((real / "test_export_yolo_data_obb.json").read_text())
    result = tasks[0]["annotations"][0]["result"][0]
    width, height = result["original_width"], result["original_height"]
    v = result["value"]
    ours = box_of(labels[labels["label_id"].str.endswith(result["id"])].iloc[0]["geometry"])
    assert ours.angle == pytest.approx(328.33240366032834)
    assert (ours.width, ours.height) == pytest.approx((v["width"] * width / 100,
                                                       v["height"] * height / 100))
    top_left = ours.corners()[0]
    assert top_left == pytest.approx([v["x"] * width / 100, v["y"] * height / 100])
    turn = math.radians(v["rotation"])  # the top-right corner, turned clockwise (y down)
    assert ours.corners()[1] == pytest.approx(top_left + ours.width * np.array(
        [math.cos(turn), math.sin(turn)]))
    angles = sorted(round(box_of(g).angle) for g in labels["geometry"])
    assert angles[0] == 20 and angles[-1] == 358


def test_polygons_in_percent_and_an_upload_path(store, real):
    read_labelstudio(store, real / "test_export_json_min_data.json", progress=False)
    polygon = store.get_annotations().iloc[0]
    points = json.loads((real / "test_export_json_min_data.json").read_text())[0][
        "annotations"][0]["result"][0]["value"]["points"]
    assert polygon["value"] == "Airplane" and polygon["kind"] == "polygon"
    assert polygon["geometry"].equals_exact(Polygon(np.asarray(points) * 1.28), 1e-9)
    assert store.image(polygon["image_id"])["uri"] == "/data/upload/29/example.png"
    read_labelstudio(store, real / "test_export_yolo_data_polygons.json", progress=False)
    assert len(store.get_annotations()) == 2


def test_predictions_are_left_out_and_said_and_a_text_project_is_refused(store, real):
    with pytest.warns(UserWarning, match="left out 2 model prediction"):
        read_labelstudio(store, real / "test_export_csv_csv_test.json", progress=False)
    labels = store.get_annotations()
    assert len(labels) == 3 and set(labels["labeler"]) == {"hakan@heartex.com"}
    assert store.images["uri"].str.startswith("https://data.heartex.net/").all()
    with pytest.raises(FormatError, match=r"no task with an image \(their data hold text\)"):
        read_labelstudio(store, real / "test_export_csv_csv_test_history.json",
                         progress=False)


def test_our_export_reads_back_with_its_rotated_boxes_points_and_tags(tmp_path):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.annotate(ids[2], rotated_box(45, 30, 30, 12, 35), "road", task=SHAPES, labeler="ann",
                   kind="rotated_box")
    for name in (SHAPES, TAGS):
        with pytest.warns(UserWarning) if name == SHAPES else _no_warning():
            write_labelstudio(store, tmp_path / f"{name}.json", task=name)
    kept = snapshot(store, digits=4, kinds=["box", "rotated_box", "point", "polygon", "tag"])
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        for name in (SHAPES, TAGS):
            read_labelstudio(again, tmp_path / f"{name}.json", task=name, progress=False)
        got = snapshot(again, digits=4)
    unholed = [(*r[:5], r[5].split("), (")[0] + "))") if "), (" in (r[5] or "") else r
               for r in kept["labels"] if r[1] in (SHAPES, TAGS)]
    assert got["labels"] == sorted(unholed)  # Label Studio polygons have no holes
    skipped = [s for s in got["statuses"] if s[3] == "skipped"]
    assert skipped == [s for s in kept["statuses"] if s[3] == "skipped"]
    store.close()


def test_the_config_we_write_names_every_class_and_control(tmp_path):
    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    from geolabel_widgets.formats.labelstudio import config_classes

    (tmp_path / "config.xml").write_text(label_config(store, SHAPES))
    found = config_classes(tmp_path / "config.xml")
    assert found["*"] == ["water", "sand", "road"] * 4 and found["$image"] == "image"
    assert found[("choices", "choice")] == ["water", "sand", "road"]
    store.close()


@pytest.mark.parametrize("document, says", [
    ({"tasks": []}, "not a Label Studio export"),
    ([{"id": 4, "data": {"image": "/a.png"}, "annotations": [{"id": 1, "result": [
        {"id": "r", "type": "rectanglelabels", "value": {
            "x": 1, "y": 1, "width": 2, "height": 2, "rectanglelabels": ["a"]}}]}]}],
     "task 4, annotation 1, result 0 gives no original_width"),
    ([{"id": 4, "data": {"image": "/a.png"}, "annotations": [{"id": 1, "result": [
        {"id": "r", "type": "polygonlabels", "original_width": 10, "original_height": 10,
         "value": {"points": [[1, 2], [3]], "polygonlabels": ["a"]}}]}]}],
     "points are not a list of at least 3"),
    ([{"id": 4, "data": {"image": "/a.png"}, "annotations": [{"id": 1, "result": [
        {"id": "r", "type": "rectanglelabels", "original_width": 10, "original_height": 10,
         "image_rotation": 90, "value": {"x": 1, "y": 1, "width": 2, "height": 2,
                                         "rectanglelabels": ["a"]}}]}]}],
     "drawn on the image turned 90 degrees"),
    ([{"id": 4, "data": {"image": "/a.png"}, "annotations": [{"id": 1, "result": [
        {"id": "r", "type": "rectanglelabels", "original_width": 10, "original_height": 10,
         "value": {"x": "1", "y": 1, "width": 2, "height": 2, "rectanglelabels": ["a"]}}]}]}],
     "x, y, width, height are not all numbers"),
])
def test_a_malformed_export_names_the_task_and_writes_nothing(store, tmp_path, document, says):
    (tmp_path / "export.json").write_text(json.dumps(document))
    with pytest.raises(FormatError, match=says):
        read_labelstudio(store, tmp_path / "export.json", progress=False)
    assert len(store.images) == 0 and store.get_annotations().empty


def test_the_cli_reads_an_export_with_its_config(tmp_path, real, capsys):
    store = str(tmp_path / "labels.sqlite")
    assert main(["import", "labelstudio", str(real / "test_export_yolo_data.json"),
                 "--store", store, "--config",
                 str(real / "test_export_yolo_label_config.xml")]) == 0
    assert "2 images" in capsys.readouterr().out
    assert main(["export", "labelstudio", str(tmp_path / "out.json"), "--store", store]) == 0
    assert len(json.loads((tmp_path / "out.json").read_text())) == 2


def _no_warning():
    import warnings
    from contextlib import contextmanager

    @contextmanager
    def strict():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield
    return strict()


def test_brush_rle_reads_a_hand_made_code_and_our_own(tmp_path):
    from geolabel_widgets.formats.labelstudio_brush import decode_brush, encode_brush

    # 2 x 2 RGBA = 16 values; word 8 bits; run sizes 3, 4, 8, 16. First pixel painted:
    # a literal block of 4 words (255 x 4), then a run of 12 zeros.
    bits = (f"{16:032b}" f"{7:05b}" "0010" "0011" "0111" "1111"
            "0" "00" f"{3:03b}" + f"{255:08b}" * 4 + "1" "01" f"{11:04b}" f"{0:08b}")
    bits += "0" * (-len(bits) % 8)
    rle = [int(bits[k:k + 8], 2) for k in range(0, len(bits), 8)]
    assert decode_brush(rle, 2, 2, "here").tolist() == [[1, 0], [0, 0]]
    painted = np.random.default_rng(4).random((37, 53)) > 0.6
    painted[5:30, 10:50] = True  # long runs as well as short ones
    assert (decode_brush(encode_brush(painted), 37, 53, "here") == painted).all()
    with pytest.raises(FormatError, match="holds 7844 values, not the 10 x 10 x 4"):
        decode_brush(encode_brush(painted), 10, 10, "here")
    with pytest.raises(FormatError, match="ends too soon"):
        decode_brush(encode_brush(painted)[:20], 37, 53, "here")


def test_a_mask_goes_out_as_brushes_and_comes_back_the_same(tmp_path):
    from conftest import write_images

    with LabelStore.open(tmp_path / "a.sqlite") as store:
        [image] = store.add_images(write_images(tmp_path / "im", 1), dataset="d",
                                   progress=False)
        store.add_task("cover", type="semantic_segmentation", classes=["water", "sand",
                                                                    "unlabeled"])
        mask = np.zeros((48, 64), np.uint8)
        mask[10:30, 20:60] = 1
        mask[40:, :] = 2  # unlabeled
        store.add_mask(image, mask, task="cover", labeler="ann",
                       classes=["water", "sand", "unlabeled"])
        document = write_labelstudio(store, tmp_path / "ls.json", task="cover")
        results = document[0]["annotations"][0]["result"]
        assert [r["value"]["brushlabels"] for r in results] == [["water"], ["sand"]]
        with LabelStore.open(tmp_path / "b.sqlite") as again:
            read_labelstudio(again, tmp_path / "ls.json", task="cover", progress=False)
            row = again.get_annotations(kinds=["mask"]).iloc[0]
            back, classes = again.mask(row["annotation_id"])
            assert again.tasks.loc["cover", "type"] == "semantic_segmentation"
            assert [classes[v] for v in back.ravel()] == [
                ["water", "sand", "unlabeled"][v] for v in mask.ravel()]
