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
        assert shapes.loc["boat", "props"]["classifications"] == {"colour": ["red"]}
        tags = sorted(store.get_annotations(task="harbour classifications")["value"])
        assert tags == ["note=low tide", "seen=gulls", "seen=seals", "sky/clouds=few",
                        "weather=sunny"]
        statuses = store.statuses("harbour").set_index("labeler")["status"].to_dict()
        assert statuses == {"ann": "labeled", "ben": "skipped"}
        document = write_datagym(store, tmp_path / "out.json", task="harbour")
        first = snapshot(store)
    head, *media = document  # DataGym's exporter writes an array, label classes first
    assert list(head) == ["label_classes"] and len(media) == 2
    mine = next(m for m in media if m["labeler"] == "ann")
    assert mine["global_classifications"] == {  # every value an array, children inside
        "note": ["low tide"], "seen": ["gulls", "seals"], "sky": [None, {"clouds": ["few"]}],
        "weather": ["sunny"]}
    assert mine["labels"]["boat"][0]["nested_geometries"] == {
        "buoy": [{"point": [{"x": 8, "y": 9}]}]}
    assert "buoy" not in mine["labels"]  # only under its parent
    assert [c.get("geometry_type") or c["classification_type"] for c in head["label_classes"]
            ] == ["point", "line", "polygon", "image_segmentation", "rectangle", "select",
                  "select", "select", "select"]
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_datagym(again, tmp_path / "out.json", task="harbour", dataset="harbour",
                     progress=False)
        assert snapshot(again) == first


@pytest.mark.parametrize("change, message", [
    (lambda d: d["tasks"][0]["labels"]["boat"][0]["rectangle"][0].update(x="-3"),
     "a coordinate is '-3'"),
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


def test_the_exporters_array_reads_with_nulls_left_out_and_truncated_coordinates(tmp_path):
    """What DataGym's exporter writes: an array, values as arrays with children inside,
    integers, null for an invalid coordinate (that geometry is left out, and said)."""
    document = [
        {"label_classes": [{"class_name": "car", "geometry_type": "polygon"},
                           {"class_name": "cyclist", "geometry_type": "rectangle"},
                           {"class_name": "mask", "classification_type": "image_segmentation"},
                           {"class_name": "car_type", "classification_type": "select"},
                           {"class_name": "weather", "classification_type": "select"}]},
        {"internal_media_ID": "u-1", "external_media_ID": "Sequenz%2001.jpg", "labeler": None,
         "status": "completed", "global_classifications": {"weather": ["fair"], "tod": [None]},
         "labels": {
             "car": [{"polygon": [{"x": 1, "y": 1}, {"x": 9, "y": 1}, {"x": 9, "y": 7}],
                      "classifications": {"car_type": ["sedan", {"colour": ["red"]}]},
                      "nested_geometries": {}}],
             "cyclist": [{"rectangle": [{"x": 2, "y": 3, "w": 4, "h": 5}]},
                         {"rectangle": [{"x": None, "y": None, "w": None, "h": None}]}],
             "mask": [{"image_segmentation": [[{"x": 0, "y": 0}, {"x": 5, "y": 0},
                                               {"x": 5, "y": 5}]]}]}}]
    (tmp_path / "datagym_export_1_p.json").write_text(json.dumps(document))
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        with pytest.warns(UserWarning, match="1 geometries with a null coordinate"):
            read_datagym(store, tmp_path / "datagym_export_1_p.json", progress=False)
        shapes = store.get_annotations(kinds=["box", "polygon"])
        assert sorted(shapes["value"]) == ["car", "cyclist", "mask"]
        assert store.images["name"].tolist() == ["Sequenz 01.jpg"]
        assert store.get_annotations(kinds=["tag"])["value"].tolist() == ["weather=fair"]
        car = shapes[shapes["value"] == "car"].iloc[0]
        assert car["props"]["classifications"] == {"car_type": ["sedan", {"colour": ["red"]}]}
    (tmp_path / "empty.json").write_text("[]")  # nothing exportable
    with LabelStore.open(tmp_path / "e.sqlite") as store:
        assert read_datagym(store, tmp_path / "empty.json", progress=False) == []


def test_an_export_for_datagyms_import_validates_against_its_schema(export_file, tmp_path,
                                                                    shared_data):
    import jsonschema
    from shapely.geometry import box

    schema = json.loads((shared_data / "real/datagym/JsonSchemaImportValidation.json")
                        .read_text())
    with LabelStore.open(tmp_path / "a.sqlite") as store:
        read_datagym(store, export_file, progress=False)
        image = store.images.index[0]
        store.annotate(image, box(-4.5, 2, 10, 8), "boat", task="harbour", labeler="cy",
                       kind="box")  # dragged off the left edge
        exported = write_datagym(store, tmp_path / "out.json", task="harbour")
        for_import = write_datagym(store, tmp_path / "in.json", task="harbour", for_import=True)
    with pytest.raises(jsonschema.ValidationError, match="None is not valid"):
        jsonschema.validate(exported, schema)  # DataGym's own nulls: its import refuses
    jsonschema.validate(for_import, schema)
    boat = next(m for m in for_import[1:] if m["labeler"] == "cy")["labels"]["boat"][0]
    assert boat["rectangle"] == [{"x": 0, "y": 2, "w": 14, "h": 6}]
