"""Every real file or folder in ``../shared/data/real/`` imported through the CLI, and
checked against what ``../shared/FORMATS_REAL.md`` says it holds."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import shapely
from PIL import Image
from shapely.geometry import box

from geolabel_widgets import LabelStore
from geolabel_widgets.cli import main


@dataclass
class Real:
    """A real source: its format, its path under ``real/``, the CLI's extra arguments
    and what the store must then hold."""
    format: str
    path: str
    check: Callable[[LabelStore, Path], None] | None  # None: refused with ``error``
    args: list[str] = field(default_factory=list)
    copy: bool = False  # the reader writes beside its source: import a copy
    error: str = ""  # what the one line on stderr says of a file that is not one
    says: list[str] = field(default_factory=list)  # lines the import prints
    before: list[list[str]] = field(default_factory=list)  # CLI commands run first

    def resolve(self, args: list[str], real: Path) -> list[str]:
        return [a.replace("{real}", str(real)) for a in args]

    @property
    def id(self) -> str:
        return f"{self.format}:{self.path}"


def masks_of(store: LabelStore, history: bool = False):
    masks = store.get_annotations(kinds=["mask", "doodles"], history=history)
    return masks.join(store.images["name"], on="image_id")


# -- Doodler result folders (FORMATS_REAL.md 1.1) ------------------------------------------
def doodler_npz_truth(folder: Path):
    """(file, final label as class indices, doodles, classes), read with numpy alone."""
    for path in sorted(folder.rglob("*.npz")):
        with np.load(path, allow_pickle=False) as npz:
            yield path, np.argmax(npz["label"], -1), npz["doodles"], list(npz["classes"])


def check_doodler_sessions(store: LabelStore, source: Path) -> None:
    # 9 files, 7 stems; test_Enter-user-ID and 2014-02-23-..._db are the same pixels
    assert len(store.images) == 6
    assert set(store.tasks.index) == {
        "Doodler: water, surf, sand, dev", "Doodler: water, surf, sand, other",
        "Doodler: water, land", "Doodler: water, surf, sand, land", "Doodler: water, surf, land"}
    masks = masks_of(store)
    final = masks[masks["kind"] == "mask"]
    # no two files share image, class set and labeler: each is a labeling of its own
    assert len(final) == 9
    s2 = final[final["name"] == "2017-12-21-19-00-36_S2_rgb_03.tif"]
    assert sorted(s2["task"]) == ["Doodler: water, land", "Doodler: water, surf, sand, land"]
    assert set(final["labeler"]) == {"db", "anon"}  # Enter-user-ID is anonymous
    by_file = {(m.props["doodler_file"], m.task): m for m in masks.itertuples()
               if m.kind == "mask"}
    doodles = {(m.props["doodler_file"], m.task): m for m in masks.itertuples()
               if m.kind == "doodles"}
    for path, label, doodled, classes in doodler_npz_truth(source):
        key = (path.name, f"Doodler: {', '.join(classes)}")
        mask, names = store.mask(by_file[key].annotation_id)
        assert names == classes and np.array_equal(mask, label), path.name
        got, _ = store.mask(doodles[key].annotation_id)
        assert np.array_equal(got, doodled), path.name


def check_doodler_trials(store: LabelStore, source: Path) -> None:
    (path, label, _, classes), = doodler_npz_truth(source)
    history = masks_of(store, history=True)
    masks = history[history["kind"] == "mask"].sort_values("annotation_id")
    assert len(masks) == 6 and masks["is_current"].sum() == 1  # 5 earlier trials + final
    assert [p["npz_key"] for p in masks["props"]] == [
        "00000label", "0000label", "000label", "00label", "0label", "label"]
    scales = [p["doodler_settings"]["num_of_scales"] for p in masks["props"]]
    downsample = [p["doodler_settings"]["Classifier_downsample_factor"] for p in masks["props"]]
    assert scales == [3, 2, 2, 2, 2, 2] and downsample == [4, 4, 6, 1, 1, 1]
    current = masks[masks["is_current"]].iloc[0]
    mask, names = store.mask(current.annotation_id)
    assert names == classes == ["water", "land"] and np.array_equal(mask, label)
    with np.load(path) as npz:
        oldest, _ = store.mask(masks.iloc[0].annotation_id)
        assert np.array_equal(oldest, np.argmax(npz["00000label"], -1))


# -- COCO (FORMATS_REAL.md 6) -------------------------------------------------------------
def coco_document(source: Path) -> dict:
    return json.loads(source.read_text())


def shapes_by_class(store: LabelStore) -> dict:
    return store.get_annotations().groupby("value").size().to_dict()


def check_coco_stuff(store: LabelStore, source: Path) -> None:
    """17 compressed RLE annotations (iscrowd 0) on 2 images: one mask each whose
    class pixel counts are the annotations' areas, the rest unlabeled."""
    document = coco_document(source)
    names = {c["id"]: c["name"] for c in document["categories"]}
    assert len(store.images) == 2
    assert store.tasks["type"].tolist() == ["semantic_segmentation"]
    masks = masks_of(store)
    assert len(masks) == 2
    for row in masks.itertuples():
        image = next(i for i in document["images"] if i["file_name"] == row.name)
        want = Counter()
        for item in document["annotations"]:
            if item["image_id"] == image["id"]:
                want[names[item["category_id"]]] += int(item["area"])
        mask, classes = store.mask(row.annotation_id)
        assert mask.shape == (image["height"], image["width"])
        got = Counter({classes[k]: int(n) for k, n in zip(*np.unique(mask, return_counts=True))})
        unlabeled = got.pop("unlabeled", 0)
        assert got == want and unlabeled == mask.size - sum(want.values())


def check_coco_counts(images: int, shapes: dict, kind: str, missing: int = 0):
    def check(store: LabelStore, source: Path) -> None:
        assert len(store.images) == images
        assert int(store.images["file_missing"].sum()) == missing
        assert shapes_by_class(store) == shapes
        assert set(store.get_annotations()["kind"]) == {kind}
        document = coco_document(source)
        names = {c["id"]: str(c["name"]) for c in document["categories"]}
        assert store.classes(store.tasks.index[0]) == list(names.values())
    return check


def check_solaris_flat_rings(store: LabelStore, source: Path) -> None:
    """One flat list per segmentation (not a list of rings), clipped at y = 90.0."""
    check_coco_counts(2, {"other": 3}, "polygon", missing=2)(store, source)
    polygons = store.get_annotations()["geometry"]
    assert all(p.is_valid and p.area > 0 for p in polygons)
    assert max(p.bounds[3] for p in polygons) == 90.0


# -- odd GeoTIFFs (FORMATS_REAL.md 10) -----------------------------------------------------
def check_imagery(store: LabelStore, source: Path) -> None:
    import rasterio

    images = store.images.reset_index().set_index("name")
    assert len(images) == 20
    assert images.loc[["goes.tif", "cog_hirise_mars.tif"], "geometry"].isna().all()
    dateline = images.loc["cog_dateline.tif", "geometry"]
    assert dateline.geom_type == "MultiPolygon" and len(dateline.geoms) == 2
    assert dateline.bounds[0] == pytest.approx(-180) and dateline.bounds[2] == pytest.approx(180)
    assert abs(images.loc["cog_dateline.tif", "lon"]) > 170  # by the antimeridian
    with rasterio.open(source / "rio-tiler/cog_gcps.tif") as src:
        lons = [g.x for g in src.gcps[0]]
        lats = [g.y for g in src.gcps[0]]
    west, south, east, north = images.loc["cog_gcps.tif", "geometry"].bounds
    assert (west, south, east, north) == pytest.approx(
        (min(lons), min(lats), max(lons), max(lats)), abs=0.05)
    assert images.loc["inverted_lat.tif", "geometry"].bounds == pytest.approx((-180, -90, 180, 90))
    # labels still go on an image with no place on the Earth's map, in its pixels
    store.add_task("craters", type="detection", classes=["crater"])
    store.annotate(images.loc["cog_hirise_mars.tif", "image_id"], box(10, 10, 50, 50), "crater",
                   task="craters", labeler="ann", kind="box")
    assert len(store.get_annotations(task="craters")) == 1


# -- plain vector labels (FORMATS_REAL.md 10) ----------------------------------------------
SOLARIS = "{real}/spacenet_solaris"
WORLD = "{real}/imagery/rio-tiler/inverted_lat.tif"  # EPSG:4326, 0.5 degree, south-up


def check_solaris_buildings(store: LabelStore, source: Path) -> None:
    """43 buildings in UTM 16N (a legacy crs member) on a 900 x 900 raster whose bounds
    they were clipped to: each shape equals the file's mapped by the raster's inverse
    transform."""
    import geopandas as gpd
    import rasterio

    labels = store.get_annotations()
    assert len(labels) == 43 and set(labels["value"]) == {"yes"}
    assert set(labels["kind"]) == {"polygon"}
    with rasterio.open(source.parent / "sample_geotiff.tif") as src:
        inverse = ~src.transform
    truth = gpd.read_file(source).geometry
    assert truth.crs.to_epsg() == 32616
    a, b, c, d, e, f = tuple(inverse)[:6]
    want = sorted(round(shapely.transform(g, lambda xy: np.column_stack(
        [a * xy[:, 0] + b * xy[:, 1] + c, d * xy[:, 0] + e * xy[:, 1] + f])).area, 3)
        for g in truth)
    assert sorted(round(g.area, 3) for g in labels["geometry"]) == want
    assert all(0 <= v <= 900 for g in labels["geometry"] for v in g.bounds)


def check_custom_projection(store: LabelStore, source: Path) -> None:
    labels = store.get_annotations()
    assert len(labels) == 19  # 4 of them cut at the raster's right edge (warned)
    width = store.images["width"].iloc[0]
    assert max(g.bounds[2] for g in labels["geometry"]) == pytest.approx(width)


def check_on_the_world(count: int, kind: str, by_class: dict | None = None):
    def check(store: LabelStore, source: Path) -> None:
        labels = store.get_annotations()
        assert len(labels) == count and set(labels["kind"]) == {kind}
        if by_class is not None:
            assert labels.groupby("value").size().to_dict() == by_class
        # south-up: pixel row = (lat + 90) / 0.5, column = (lon + 180) / 0.5
        for row in labels.itertuples():
            lon, lat = shapely.transform(row.geometry, lambda xy: np.column_stack(
                [xy[:, 0] * 0.5 - 180, xy[:, 1] * 0.5 - 90])).centroid.coords[0]
            world = row.world_geometry.centroid
            assert (lon, lat) == pytest.approx((world.x, world.y), abs=1e-6)
    return check


# -- Veda API datapoints (FORMATS_REAL.md 5) ----------------------------------------------
def veda_datapoints(source: Path) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in source.glob("*.json")
            if not p.name.startswith("collection")}


def check_veda_classification(store: LabelStore, source: Path) -> None:
    points = veda_datapoints(source)
    assert len(points) == 5 and len(store.images) == 5
    [task] = store.tasks.index
    collection = json.loads(next(source.glob("collection_*.json")).read_text())
    assert task == collection["properties"]["name"]
    present = {k for k, p in points.items() if p["properties"]["label"]["building"]}
    tags = store.get_annotations(kinds=["tag"]).join(store.images["name"], on="image_id")
    assert sorted(tags["name"]) == sorted(f"{k}.tif" for k in present)
    images = store.images.set_index("name")
    for key, point in points.items():  # the TIFFs have no georeference: the feature's
        footprint = shapely.geometry.shape(point["geometry"])
        assert images.loc[f"{key}.tif", "geometry"].bounds == pytest.approx(footprint.bounds)


def check_veda_segmentation(store: LabelStore, source: Path) -> None:
    points = veda_datapoints(source)
    assert len(store.images) == len(points) == 10
    labels = store.get_annotations().join(store.images["name"], on="image_id")
    want = sorted((f"{k}.tif", round(shapely.geometry.shape(g).area, 6))
                  for k, p in points.items() for g in p["properties"]["label"]["building"]
                  if g["type"] != "GeometryCollection")
    assert len(labels) == len(want) == 20  # one empty GeometryCollection left out
    assert sorted((r.name, round(r.geometry.area, 6)) for r in labels.itertuples()) == want
    images = store.images
    for row in labels.itertuples():  # pixels, put on the footprint
        assert images.loc[row.image_id, "geometry"].buffer(1e-9).covers(row.world_geometry)


def check_veda_responses(store: LabelStore, source: Path) -> None:
    """250 datapoints (one repeated in datapoint.json), all {"building": 0}, their
    images at the API: looked at, nothing there."""
    assert len(store.images) == 250 and store.images["file_missing"].all()
    assert store.images["uri"].str.startswith("https://").all()
    assert store.tasks.index.tolist() == ["Austin Buildings Classification"]
    assert len(store.get_annotations()) == 0
    assert store.statuses()["status"].value_counts().to_dict() == {"labeled": 250}


# -- DataGym's internal model (FORMATS_REAL.md 2) -----------------------------------------
def check_datagym(images: int, statuses: dict):
    """The Dummy Project's one completed task, as DataGym's exporter would give it: 87
    rectangles (85 cyclist, 2 pedestrian), 44 polygons (37 car, 2 bus, 5 ped_cross), a
    car_type on each car, the selects tod and weather; invalid entries left out."""
    def check(store: LabelStore, source: Path) -> None:
        shapes = store.get_annotations(kinds=["box", "polygon"])
        assert shapes.groupby(["kind", "value"]).size().to_dict() == {
            ("box", "cyclist"): 85, ("box", "pedestrian"): 2, ("polygon", "bus"): 2,
            ("polygon", "car"): 37, ("polygon", "ped_cross"): 5}
        cars = shapes[shapes["value"] == "car"]
        assert all(list(p["classifications"]) == ["car_type"] for p in cars["props"])
        tags = store.get_annotations(kinds=["tag"])["value"]
        assert sorted(t.split("=")[0] for t in tags) == ["tod", "weather"]
        task = source.stem  # WAITING tasks: images with no status of their own
        assert store.statuses(task)["status"].value_counts().to_dict() == statuses
        assert len(store.images) == images
        assert store.images["name"].str.startswith("Sequenz 01.").all()  # URL-decoded
        assert store.images["uri"].str.startswith("https://media.datagym.ai/").all()
        rectangle = shapes[shapes["kind"] == "box"].iloc[0]["geometry"]
        assert rectangle.bounds[0] != int(rectangle.bounds[0])  # floats, not truncated
    return check


# -- NASA IMPACT Image Labeler (FORMATS_REAL.md 4) ----------------------------------------
def check_event_shapes(store: LabelStore, source: Path) -> None:
    """One event shape (a clockwise ring of 9 points in lon/lat, an ESRI .prj) on the GIBS
    picture of its box on its day."""
    import geopandas as gpd

    [shp] = source.rglob("*.shp")
    truth = gpd.read_file(shp).to_crs("EPSG:4326").geometry.iloc[0]
    image = store.images.iloc[0]
    assert len(store.images) == 1 and image["file_missing"]
    assert image["uri"].startswith("https://gibs.earthdata.nasa.gov/wms/")
    assert "TIME=2020-08-12" in image["uri"]
    assert image["geometry"].bounds == pytest.approx(
        (48.49288, 41.173349, 60.273914, 49.006437), abs=1e-6)
    assert image["acquired_at"] == pd.Timestamp("2020-08-12", tz="UTC")
    [label] = store.get_annotations().itertuples()
    assert (label.task, label.value, label.labeler) == ("Image Labeler events", "test", "test")
    assert label.world_geometry.symmetric_difference(truth).area < 1e-9 * truth.area + 1e-9
    assert 0 <= label.geometry.bounds[0] and label.geometry.bounds[2] <= image["width"]


REAL_FILES = [
    Real("imagelabeler", "impact_image_labeler/space-apps_shapefile_download",
         check_event_shapes),
    Real("imagelabeler", "impact_image_labeler/data_share_examples", None,
         error="not an Image Labeler dataset or download (a plain folder of images imports "
               "as 'folder')"),
    Real("datagym", "datagym/dummy_project", check_datagym(5, {"labeled": 1})),
    Real("datagym", "datagym/frontend_demo_task.json", check_datagym(1, {"in_progress": 1})),
    Real("veda", "veda/api_classification_austin", check_veda_classification),
    Real("veda", "veda/api_segmentation_austin", check_veda_segmentation),
    Real("veda", "veda/api_responses", check_veda_responses),
    Real("vector", "spacenet_solaris/geotiff_labels.geojson", check_solaris_buildings,
         args=["--image", f"{SOLARIS}/sample_geotiff.tif", "--class-property", "building"]),
    Real("vector", "spacenet_solaris/geotiff_custom_proj_labels.geojson", None,
         args=["--image", f"{SOLARIS}/sample_geotiff_custom_proj.tif"],
         error="says nothing of its CRS: give --crs"),
    Real("vector", "spacenet_solaris/geotiff_custom_proj_labels.geojson",
         check_custom_projection,
         args=["--image", f"{SOLARIS}/sample_geotiff_custom_proj.tif", "--crs", "image"]),
    Real("vector", "geoparquet/example.parquet",  # onto the store's images under it
         check_on_the_world(5, "polygon"), args=["--class-property", "name"],
         before=[["import", "folder", WORLD]]),
    Real("vector", "geoparquet/data_crs_null.parquet", None, args=["--image", WORLD],
         error="says nothing of its CRS"),
    Real("vector", "geoparquet/data_crs_null.parquet", check_on_the_world(3, "point"),
         args=["--image", WORLD, "--crs", "EPSG:4326"]),
    Real("vector", "geoparquet/data_geometry_column_name.parquet",
         check_on_the_world(3, "point"), args=["--image", WORLD]),
    Real("vector", "geoparquet/data_orientation.parquet", check_on_the_world(3, "point"),
         args=["--image", WORLD]),
    Real("vector", "geoparquet/data-polygon-encoding_native.parquet",  # GeoArrow, an empty
         check_on_the_world(2, "polygon"), args=["--image", WORLD]),  # and a null row out
    Real("vector", "geoparquet/data-polygon-encoding_wkb.parquet",
         check_on_the_world(2, "polygon"), args=["--image", WORLD]),
    Real("vector", "geoparquet/data-multipolygon-encoding_wkb.parquet",
         check_on_the_world(3, "polygon"), args=["--image", WORLD]),
    # Coast Train's site boxes carry no class: regions for chips (test_chips), not labels
    Real("vector", "coasttrain_site/geospatial/coastTrain_sites.geojson", None,
         error="no image of the store lies under its shapes"),
    Real("folder", "imagery", check_imagery, says=[
        "  goes.tif: added without a footprint: its corners lie off the Earth's disk "
        "(a geostationary full disk?)",
        "  cog_hirise_mars.tif: added without a footprint: its CRS is of Mars, not the Earth"]),
    Real("doodler", "doodler", check_doodler_sessions, copy=True),
    Real("doodler", "doodler/results2022-05-04-14-34", check_doodler_trials, copy=True),
    Real("coco", "coco/cocoapi/stuff_examples.json", check_coco_stuff),
    Real("coco", "coco/cocoapi/instances_val2014_fakebbox100_results.json", None,
         error="a COCO results file (734 detections with scores"),
    Real("coco", "coco/sahi/terrain1.json", None, error="a LabelMe file"),
    Real("coco", "coco/sahi/terrain1_coco.json", check_coco_counts(1, {"human": 7}, "polygon")),
    Real("coco", "coco/sahi/terrain2_coco.json", check_coco_counts(1, {"car": 5}, "polygon")),
    Real("coco", "coco/sahi/terrain_all_coco.json",  # terrain3.png is not there
         check_coco_counts(3, {"human": 17, "car": 5}, "polygon", missing=1)),
    Real("coco", "coco/sahi/visdrone2019-det-train-first50image.json",  # ids from 0, boxes
         check_coco_counts(50, {"vehicle": 2118, "human": 1208}, "box", missing=50)),
    Real("coco", "spacenet_solaris/coco_sample_1.json", check_solaris_flat_rings),
    Real("coco", "spacenet_solaris/coco_sample_2.json",  # class names 1.0 and 0.0
         check_coco_counts(1, {"0.0": 37, "1.0": 6}, "polygon")),
]


@pytest.mark.parametrize("real", REAL_FILES, ids=lambda r: r.id)
def test_a_real_file_imports_and_holds_what_it_should(real, shared_data, tmp_path, capsys):
    source = shared_data / "real" / real.path
    if real.copy:
        source = Path(shutil.copytree(source, tmp_path / "source" / source.name))
    store = tmp_path / "store.sqlite"
    for command in real.before:
        assert main([*real.resolve(command, shared_data / "real"), "--store", str(store)]) == 0
    code = main(["import", real.format, str(source), "--store", str(store),
                 *real.resolve(real.args, shared_data / "real")])
    if real.check is None:
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert code == 1 and real.error in error and str(source) in error
        return
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [line for line in real.says if line not in out.splitlines()] == []
    with LabelStore.open(store) as opened:
        real.check(opened, source)


def test_doodler_outputs_match_what_doodlers_own_scripts_wrote(shared_data, tmp_path):
    """``results2021-10-16-14-20`` holds Doodler's own ``images/`` and ``labels/`` of its
    two NPZs (lossy JPEGs): ours have the same names and agree with the NPZ at least
    as well as theirs; Segmentation Gym's folders hold the exact classes."""
    source = shutil.copytree(shared_data / "real/doodler/results2021-10-16-14-20",
                             tmp_path / "results")
    store, task = str(tmp_path / "s.sqlite"), "Doodler: water, surf, sand, other"
    remap = shared_data / "real/doodler/scripts/superclasses_example.json"
    assert main(["import", "doodler", str(source), "--store", store]) == 0
    assert main(["export", "doodler", str(tmp_path / "out"), "--store", store, "--task", task,
                 "--remap", str(remap)]) == 0
    assert main(["export", "seggym", str(tmp_path / "gym"), "--store", store,
                 "--task", task]) == 0
    out, gym = tmp_path / "out", tmp_path / "gym"
    for folder in ("images", "labels"):
        assert sorted(p.name for p in (out / folder).iterdir()) == \
            sorted(p.name for p in (Path(source) / folder).iterdir())
    for path, label, doodles, classes in doodler_npz_truth(Path(source)):
        stem = path.stem
        with np.load(path) as npz:
            image = npz["image"].astype(int)
        ours = np.asarray(Image.open(out / "labels" / f"{stem}_label.jpg"))
        theirs = np.asarray(Image.open(Path(source) / "labels" / f"{stem}_label.jpg"))
        assert (ours == label).mean() >= max((theirs == label).mean(), 0.97)
        pixels = np.asarray(Image.open(out / "images" / f"{stem}.jpg")).astype(int)
        assert np.abs(pixels - image).max() <= 17  # theirs differ by up to 17 DN
        remapped = np.asarray(Image.open(out / "labels_remap" / f"{stem}_remap_label.jpg"))
        assert (remapped == np.where(label == 0, 1, 2)).mean() >= 0.99  # water 1, land 2
        assert (out / "overlays" / f"{stem}_overlay.png").is_file()
        assert (out / "doodles" / f"{stem}_doodles.png").is_file()
        assert np.array_equal(np.asarray(Image.open(gym / "labels" / f"{stem}.png")), label)
        assert np.array_equal(np.asarray(Image.open(gym / "images" / f"{stem}.png")), image)
    assert (gym / "classes.txt").read_text().split("\n") == ["water", "surf", "sand", "other"]


def test_a_yes_no_dataset_reads_and_event_shapes_round_trip(shared_data, tmp_path):
    """NASA's labeled sets are ``<event>/yes/`` and ``no/``; smoke's file names carry
    their time and box. Written out and read back, event shapes stay where they were."""
    samples = shared_data / "real/impact_image_labeler/data_share_examples"
    event = tmp_path / "Cloud Streets"
    for folder, name, target in [("yes", "cloudstreet_sample.jpg", "cloudstreet_sample.jpg"),
                                 ("no", "transverse_band.jpg", "transverse_band.jpg"),
                                 ("yes", "smoke_goes.png",
                                  "time-20200912180000-loc--124.5_38_-117_46.png")]:
        (event / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(samples / name, event / folder / target)
    store = str(tmp_path / "s.sqlite")
    assert main(["import", "imagelabeler", str(event), "--store", store]) == 0
    with LabelStore.open(store) as opened:
        tags = opened.get_annotations().join(opened.images["name"], on="image_id")
        assert dict(zip(tags["name"], tags["value"])) == {
            "cloudstreet_sample.jpg": "present", "transverse_band.jpg": "not present",
            "time-20200912180000-loc--124.5_38_-117_46.png": "present"}
        smoke = opened.images.set_index("name").loc[
            "time-20200912180000-loc--124.5_38_-117_46.png"]
        assert smoke["geometry"].bounds == (-124.5, 38, -117, 46)
        assert smoke["acquired_at"] == pd.Timestamp("2020-09-12 18:00", tz="UTC")
    shapes = shared_data / "real/impact_image_labeler/space-apps_shapefile_download"
    assert main(["import", "imagelabeler", str(shapes), "--store", store]) == 0
    assert main(["export", "imagelabeler", str(tmp_path / "out"), "--store", store]) == 0
    assert (tmp_path / "out" / "Cloud Streets" / "yes").is_dir()
    [written] = (tmp_path / "out" / "downloaded_layers").rglob("*.shp")
    assert written.parent.name == written.stem and written.stem.startswith("test_")
    again = str(tmp_path / "again.sqlite")
    assert main(["import", "imagelabeler", str(tmp_path / "out" / "downloaded_layers"),
                 "--store", again]) == 0
    with LabelStore.open(store) as first, LabelStore.open(again) as second:
        [a] = first.get_annotations(task="Image Labeler events")["world_geometry"]
        [b] = second.get_annotations(task="Image Labeler events")["world_geometry"]
        assert a.symmetric_difference(b).area < 1e-9
