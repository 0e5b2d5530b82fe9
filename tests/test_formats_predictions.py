"""Files that carry scores are a model's predictions: YOLO lines with a confidence, COCO
results files, Label Studio's predictions, vector shapes with a score property."""

import json

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box

from conftest import write_images
from formats_helpers import write_geotiffs
from geolabel_widgets import LabelStore
from geolabel_widgets.cli import main
from geolabel_widgets.formats.coco import read_coco, write_coco
from geolabel_widgets.formats.safety import FormatError
from geolabel_widgets.formats.vector import read_vector
from geolabel_widgets.formats.yolo import read_yolo


@pytest.fixture
def store(tmp_path):
    with LabelStore.open(tmp_path / "labels.sqlite") as opened:
        yield opened


def test_yolo_lines_with_a_confidence_are_predictions(store, tmp_path):
    folder = tmp_path / "runs"
    (image,) = write_images(folder, 1, size=(100, 50))
    image.with_suffix(".txt").write_text(
        "0 0.5 0.5 0.2 0.4 0.93\n1 0.1 0.1 0.3 0.1 0.2 0.3 0.4\n")
    (folder / "classes.txt").write_text("hut\nboat\n")
    with pytest.raises(FormatError, match="--predictions"):
        read_yolo(store, folder, progress=False)
    read_yolo(store, folder, predictions=True, model="yolov8n", progress=False)
    predicted = store.predictions(task="runs objects").sort_values("score")
    assert predicted[["model", "kind", "value"]].values.tolist() == [
        ["yolov8n", "polygon", "boat"], ["yolov8n", "box", "hut"]]
    assert predicted["score"].tolist() == [0.4, 0.93]
    assert predicted["geometry"].iloc[1].equals(box(40, 15, 60, 35))
    assert store.annotations.empty
    image.with_suffix(".txt").write_text("0 0.5 0.5 0.2 0.4 1.7\n")
    with pytest.raises(FormatError, match="a confidence of 1.7"):
        read_yolo(store, folder, predictions=True, progress=False)


def test_a_coco_results_file_reads_on_its_dataset_files_images(store, tmp_path):
    ids = store.add_images(write_images(tmp_path / "photos", 2, size=(90, 60)),
                           dataset="photos", progress=False)
    store.add_task("boats", type="detection", classes=["boat", "hut"])
    store.annotate(ids[0], box(1, 1, 20, 20), "boat", task="boats", labeler="ann")
    document = write_coco(store, tmp_path / "gt.json", task="boats")
    image_number = document["images"][0]["id"]
    results = tmp_path / "results.json"
    results.write_text(json.dumps([
        {"image_id": image_number, "category_id": 2, "bbox": [5, 5, 10, 20], "score": 0.61},
        {"image_id": image_number, "category_id": 1, "bbox": [1, 1, 19, 19], "score": 0.97}]))
    with pytest.raises(FormatError, match="--ground-truth"):
        read_coco(store, results, predictions=True, progress=False)
    with pytest.raises(FormatError, match="a COCO results file"):
        read_coco(store, results, progress=False)  # not as labels
    read_coco(store, results, predictions=True, ground_truth=tmp_path / "gt.json",
              task="boats", progress=False)
    predicted = store.predictions(task="boats")
    assert predicted[["image_id", "model", "value", "score"]].values.tolist() == [
        [ids[0], "results", "hut", 0.61], [ids[0], "results", "boat", 0.97]]
    assert predicted["geometry"].iloc[0].equals(box(5, 5, 15, 25))
    assert len(store.annotations) == 1  # the dataset file's own labels were not read again


def test_the_real_coco_results_file_needs_the_file_it_was_made_for(shared_data, tmp_path,
                                                                   capsys):
    results = shared_data / "real" / "coco" / "cocoapi" / \
        "instances_val2014_fakebbox100_results.json"
    store = str(tmp_path / "s.sqlite")
    assert main(["import", "coco", str(results), "--store", store, "--predictions"]) == 1
    assert "give that file (--ground-truth)" in capsys.readouterr().err
    # a dataset file that is not the one: the first image it lacks is named
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"images": [], "categories": [{"id": 1, "name": "person"}],
                                 "annotations": []}))
    assert main(["import", "coco", str(results), "--store", store, "--predictions",
                 "--ground-truth", str(other)]) == 1
    assert "detection 0 is on image" in capsys.readouterr().err
    with LabelStore.open(store) as opened:
        assert opened.images.empty


def test_label_studio_predictions_of_the_real_export_keep_model_and_score(shared_data,
                                                                          tmp_path):
    export = shared_data / "real" / "labelstudio" / "test_export_csv_csv_test.json"
    store = str(tmp_path / "s.sqlite")
    assert main(["import", "labelstudio", str(export), "--store", store,
                 "--predictions"]) == 0
    with LabelStore.open(store) as opened:
        predicted = opened.predictions(task="test_export_csv_csv_test")
        labels = opened.get_annotations(task="test_export_csv_csv_test")
    assert predicted[["model", "kind", "value"]].values.tolist() == [
        ["model 0", "box", "Car"]] * 2
    assert predicted["score"].round(4).tolist() == [0.2305, 0.2962]  # each result's own
    # percent of the size the annotations give: x 3.63 % of 768 px
    assert predicted["geometry"].iloc[0].bounds[0] == pytest.approx(0.0363 * 768)
    assert len(labels) == 3  # the people's boxes, as without --predictions


def test_vector_shapes_with_a_score_are_predictions(store, tmp_path):
    (scene,) = write_geotiffs(tmp_path / "geo", 1)
    store.add_images([scene], dataset="scenes", progress=False)
    footprint = store.images.geometry.iloc[0]
    west, south, east, north = footprint.bounds
    cells = [shapely.box(west, south, (west + east) / 2, north),
             shapely.box((west + east) / 2, south, east, (south + north) / 2)]
    frame = gpd.GeoDataFrame({"class": ["water", "sand"], "confidence": [0.8, None]},
                             geometry=cells, crs="EPSG:4326")
    frame.to_file(tmp_path / "detections.geojson")
    source = str(tmp_path / "detections.geojson")
    base = ["import", "vector", source, "--store", str(store.location), "--predictions"]
    with pytest.raises(FormatError, match="--score-property"):
        read_vector(store, source, predictions=True)
    assert main([*base, "--score-property", "confidence", "--model", "segformer"]) == 0
    predicted = store.predictions(task="detections shapes").sort_values("value")
    assert predicted[["model", "kind", "value"]].values.tolist() == [
        ["segformer", "polygon", "sand"], ["segformer", "polygon", "water"]]
    assert predicted["score"].iloc[1] == 0.8 and predicted["score"].isna().iloc[0]
    assert predicted["geometry"].iloc[1].area == pytest.approx(60 * 80, rel=0.02)
    assert store.annotations.empty


def test_predictions_from_a_format_that_has_none_is_one_clear_line(tmp_path, capsys):
    source = tmp_path / "labels.geojson"
    source.write_text('{"type": "FeatureCollection", "features": []}')
    assert main(["import", "geojson", str(source), "--store", str(tmp_path / "s.sqlite"),
                 "--predictions"]) == 1
    assert "--predictions does not apply to geojson imports" in capsys.readouterr().err
