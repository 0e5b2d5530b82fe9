"""STAC: the label extension's real examples in, a COG read over HTTP, our catalogues out."""

import json
from datetime import datetime, timezone
import shutil

import jsonschema
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_bounds

from formats_helpers import SHAPES, labeled_store
from geolabel_widgets import LabelStore
from geolabel_widgets.formats import FormatError, read_stac, write_stac
from http_server import serving

ROADS_BBOX = (2.23379639995, 49.0178709, 2.23730639995, 49.0213809)


@pytest.fixture
def examples(shared_data):
    return shared_data / "real" / "stac_label" / "examples"


def test_a_label_collection_whose_source_cannot_be_read_is_catalogued_and_said(store,
                                                                               examples):
    with pytest.warns(UserWarning, match="AOI_3_Paris_img101: its source image https://"
                                         ".*img101.tif has no known pixel grid .*remote=False"):
        ids = read_stac(store, examples / "spacenet-roads" / "roads_collection.json",
                        remote=False, progress=False)
    image = store.images.loc[ids[0]]
    assert image["uri"].startswith("https://spacenet-dataset.s3.amazonaws.com/")
    assert image.geometry.bounds == pytest.approx(ROADS_BBOX)  # its open ring, closed
    assert image.geometry.exterior.is_closed
    assert str(image["acquired_at"])[:10] == "2016-02-29"  # the source item's time
    assert store.get_annotations().empty


def test_a_catalogue_of_two_collections_gives_every_label_items_source(store, examples):
    with pytest.warns(UserWarning, match=r"5 item\(s\) not imported whole") as said:
        ids = read_stac(store, examples / "multidataset" / "catalog.json", remote=False,
                        progress=False)
    assert len(ids) == 5 and store.images.geometry.notna().all()
    assert str(said[0].message).count("not a file here: download it first") == 5


def _served_roads(tmp_path, examples, url_of):
    folder = tmp_path / "roads"
    shutil.copytree(examples / "spacenet-roads", folder)
    source = json.loads((folder / "roads_source.json").read_text())
    source["assets"]["rgb"]["href"] = url_of("img101.tif")
    (folder / "roads_source.json").write_text(json.dumps(source))
    rng = np.random.default_rng(2)
    with rasterio.open(tmp_path / "plain.tif", "w", driver="GTiff", width=1300, height=1300,
                       count=3, dtype="uint8", crs="EPSG:4326",
                       transform=from_bounds(*ROADS_BBOX, 1300, 1300)) as dst:
        dst.write(rng.integers(0, 255, (3, 1300, 1300), dtype=np.uint8))
    (tmp_path / "served").mkdir()
    rasterio.shutil.copy(tmp_path / "plain.tif", tmp_path / "served" / "img101.tif",
                         driver="COG")
    return folder / "roads_collection.json"


def test_road_labels_land_on_a_cog_read_over_http_without_fetching_it_whole(store, tmp_path,
                                                                            examples):
    with serving(tmp_path / "served") as server:
        collection = _served_roads(tmp_path, examples, lambda name: f"{server.url}/{name}")
        ids = read_stac(store, collection, progress=False)
        size = (tmp_path / "served" / "img101.tif").stat().st_size
        assert 0 < server.sent < size / 10  # the header's ranges, not the file
    image = store.image(ids[0])
    assert (image["width"], image["height"]) == (1300, 1300) and image["crs"]
    labels = store.get_annotations(task="spacenet-roads-sample road_type")
    assert len(labels) == 19 and set(labels["kind"]) == {"line"}
    item = json.loads((examples / "spacenet-roads" / "roads_item.json").read_text())
    overview = {c["name"]: c["count"] for c in item["properties"]["label:overviews"][0]["counts"]
                if c["count"]}
    assert labels["value"].value_counts().to_dict() == overview  # {"5": 15, "6": 4}
    assert store.classes("spacenet-roads-sample road_type") == ["1", "2", "3", "4", "5", "6"]
    bounds = np.array([g.bounds for g in labels["geometry"]])
    assert bounds.min() >= -1e-6 and bounds.max() <= 1300 + 1e-6  # on the image's pixels


def test_our_catalogue_validates_against_the_label_schema_and_reads_back(tmp_path, shared_data):
    schema = json.loads((shared_data / "real" / "stac_label" / "json-schema" /
                         "schema.json").read_text())
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.split(SHAPES, train=0.5, val=0.5, test=0.0, seed=1)
    with pytest.warns(UserWarning, match="1 image.* no place on the Earth left out"):
        written = write_stac(store, tmp_path / "stac", task=SHAPES)
    assert written == {"images": 1, "labels": 1}  # the one georeferenced scene labeled
    items = sorted((tmp_path / "stac" / "labels").glob("*/*.json"))
    assert len(items) == 1
    for path in items:
        item = json.loads(path.read_text())
        jsonschema.validate(item, schema)
        assert item["properties"]["ml-aoi:split"] == {
            "train": "train", "val": "validate"}[store.splits(SHAPES)[ids[0]]]
        source = next(link for link in item["links"] if link["rel"] == "source")
        image_item = json.loads((path.parent / source["href"]).read_text())
        assert image_item["properties"]["proj:shape"] == [80, 120]  # the labels' pixel grid
        assert image_item["properties"]["proj:transform"] == list(
            store.image(ids[0])["transform"])[:6]
        features = json.loads((path.parent / item["assets"]["labels"]["href"]).read_text())
        assert sorted(f["properties"]["class"] for f in features["features"]) == [
            "road", "sand", "sand", "water"]
    import pystac

    catalog = pystac.read_file(str(tmp_path / "stac" / "catalog.json"))
    assert len(list(catalog.get_items(recursive=True))) == 2
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        back = read_stac(again, tmp_path / "stac" / "catalog.json", task=SHAPES,
                         progress=False)
        labels = again.get_annotations()
        assert len(back) == 1 and again.image(back[0])["sha256"] == store.image(ids[0])[
            "sha256"]
        assert sorted(labels["value"]) == ["road", "sand", "sand", "water"]
        water = labels[labels["value"] == "water"].iloc[0]["geometry"]
        assert water.bounds == pytest.approx((5.5, 6.25, 40, 30), abs=1e-6)
    store.close()


@pytest.mark.parametrize("text, says", [
    ("{not json", "not a STAC JSON file"),
    ('{"type": "Feature", "properties": {}}', "not a STAC catalogue pystac can read"),
])
def test_a_file_that_is_not_stac_is_a_clear_error(store, tmp_path, text, says):
    (tmp_path / "x.json").write_text(text)
    with pytest.raises(FormatError, match=says):
        read_stac(store, tmp_path / "x.json", progress=False)
    assert len(store.images) == 0


def test_a_raster_label_item_is_a_mask_on_its_source_image(store, tmp_path):
    import pystac
    from rasterio.transform import from_origin

    grid = dict(driver="GTiff", width=40, height=30, crs="EPSG:32617", count=1,
                transform=from_origin(500000, 3000000, 10, 10))
    with rasterio.open(tmp_path / "scene.tif", "w", dtype="uint8", **grid) as dst:
        dst.write(np.full((1, 30, 40), 90, np.uint8))
    values = np.zeros((30, 40), np.uint8)
    values[:, 20:] = 2
    values[:5] = 255  # nodata: not labeled
    with rasterio.open(tmp_path / "labels.tif", "w", dtype="uint8", nodata=255, **grid) as dst:
        dst.write(values[None])
    footprint = {"type": "Polygon", "coordinates": [[[-81, 27], [-80.99, 27], [-80.99, 27.01],
                                                     [-81, 27.01], [-81, 27]]]}
    when = datetime(2024, 5, 1, tzinfo=timezone.utc)
    source = pystac.Item("scene", footprint, [-81, 27, -80.99, 27.01], when, {})
    source.add_asset("data", pystac.Asset(str(tmp_path / "scene.tif"),
                                          media_type="image/tiff; application=geotiff"))
    label = pystac.Item("scene-labels", footprint, [-81, 27, -80.99, 27.01], when, {
        "label:properties": None, "label:description": "land cover", "label:type": "raster",
        "label:classes": [{"name": None, "classes": [0, 1, 2]}]},
        stac_extensions=["https://stac-extensions.github.io/label/v1.0.1/schema.json"])
    label.add_asset("labels", pystac.Asset(str(tmp_path / "labels.tif"),
                                           media_type="image/tiff; application=geotiff"))
    label.add_link(pystac.Link("source", source))
    source.set_self_href(str(tmp_path / "scene.json"))
    label.set_self_href(str(tmp_path / "scene-labels.json"))
    source.save_object()
    label.save_object()
    ids = read_stac(store, tmp_path / "scene-labels.json", task="cover", progress=False)
    mask, classes = store.mask(store.get_annotations(kinds=["mask"]).iloc[0]["annotation_id"])
    assert store.classes("cover") == ["0", "1", "2", "unlabeled"]
    assert [classes[v] for v in mask[[0, 10, 10], [0, 0, 30]]] == ["unlabeled", "0", "2"]
    assert store.image(ids[0])["width"] == 40
