"""DataGym exports: every geometry type, holes, nested geometries and classifications."""

import copy
import json

import pytest

from conftest import write_images
from formats_helpers import snapshot
from geolabel_widgets import LabelStore
from geolabel_widgets.formats import FormatError, read_datagym, write_datagym

EXPORT = {
    "label_classes": [
        {"class_name": "boat", "geometry_type": "rectangle"},
        {"class_name": "island", "geometry_type": "image_segmentation"},
        {"class_name": "buoy", "geometry_type": "point"},
        {"class_name": "shore", "geometry_type": "line"},
        {"class_name": "pier", "geometry_type": "polygon"},
        {"class_name": "weather", "classification_type": "radio"},
        {"class_name": "seen", "classification_type": "checklist"},
        {"class_name": "note", "classification_type": "text"},
    ],
    "tasks": [
        {"internal_media_ID": "m1", "external_media_ID": "img_001.png", "labeler": "ann",
         "status": "completed",
         "global_classifications": {"weather": "sunny", "seen": ["gulls", "seals"],
                                    "note": "low tide", "sky": {"clouds": "few"}},
         "labels": {
             "boat": [{"rectangle": [{"x": 5, "y": 6, "w": 20, "h": 10}],
                       "classifications": {"colour": "red"},
                       "nested_geometries": {
                           "buoy": [{"point": [{"x": 8, "y": 9}]}]}}],
             "island": [{"image_segmentation": [
                 [{"x": 30, "y": 30}, {"x": 60, "y": 30}, {"x": 60, "y": 50}, {"x": 30, "y": 50}],
                 [{"x": 35, "y": 35}, {"x": 40, "y": 35}, {"x": 40, "y": 40}]]}],
             "shore": [{"line": [{"x": 0, "y": 55}, {"x": 30, "y": 58}, {"x": 63, "y": 59}]}],
             "pier": [{"polygon": [{"x": 1, "y": 1}, {"x": 4, "y": 1}, {"x": 4, "y": 3}]}]}},
        {"internal_media_ID": "m2", "external_media_ID": "img_002.jpg", "labeler": "ben",
         "status": "skipped", "global_classifications": {}, "labels": {}},
    ],
}


@pytest.fixture
def export_file(tmp_path):
    write_images(tmp_path, 3, size=(64, 60))  # img_001.png and img_002.jpg beside the JSON
    path = tmp_path / "harbour.json"
    path.write_text(json.dumps(EXPORT))
    return path


def test_every_geometry_and_classification_reads_and_round_trips(export_file, tmp_path):
    with LabelStore.open(tmp_path / "a.sqlite") as store:
        read_datagym(store, export_file, progress=False)
        shapes = store.get_annotations(task="harbour", kinds=["box", "polygon", "point",
                                                               "line"]).set_index("value")
        assert shapes.loc["island", "geometry"].interiors[0].coords[0] == (35, 35)
        assert shapes.loc["boat", "geometry"].bounds == (5, 6, 25, 16)
        assert shapes.loc["buoy", "props"]["parent"] == shapes.loc["boat", "label_id"]
        assert shapes.loc["boat", "props"]["classifications"] == {"colour": "red"}
        tags = sorted(store.get_annotations(task="harbour classifications")["value"])
        assert tags == ["note=low tide", "seen=gulls", "seen=seals", "sky/clouds=few",
                        "weather=sunny"]
        statuses = store.statuses("harbour").set_index("labeler")["status"].to_dict()
        assert statuses == {"ann": "labeled", "ben": "skipped"}
        document = write_datagym(store, tmp_path / "out.json", task="harbour")
        first = snapshot(store)
    media = {m["internal_media_ID"]: m for m in document["tasks"]}
    assert len(media) == 2
    mine = next(m for m in document["tasks"] if m["labeler"] == "ann")
    assert mine["global_classifications"] == EXPORT["tasks"][0]["global_classifications"]
    assert mine["labels"]["boat"][0]["nested_geometries"] == {
        "buoy": [{"point": [{"x": 8.0, "y": 9.0}]}]}
    assert "buoy" not in mine["labels"]  # only under its parent
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_datagym(again, tmp_path / "out.json", task="harbour", dataset="harbour",
                     progress=False)
        assert snapshot(again) == first


@pytest.mark.parametrize("change, message", [
    (lambda d: d["tasks"][0]["labels"]["boat"][0]["rectangle"][0].update(x=None),
     "a coordinate is None"),
    (lambda d: d["tasks"][0]["labels"]["island"][0]["image_segmentation"][1].pop(),
     "fewer than 3 points"),
    (lambda d: d["tasks"][0].update(status="finished"), "status 'finished'"),
    (lambda d: d["tasks"][0]["labels"].update(whale=[]), "class 'whale' is not among"),
    (lambda d: d["tasks"][0]["global_classifications"].update(weather=3), "neither text"),
])
def test_a_malformed_export_is_named_and_nothing_is_written(export_file, tmp_path, change,
                                                             message):
    document = copy.deepcopy(EXPORT)
    change(document)
    export_file.write_text(json.dumps(document))
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        with pytest.raises(FormatError, match=message):
            read_datagym(store, export_file, progress=False)
        assert len(store.images) == 0 and len(store.get_annotations(history=True)) == 0
