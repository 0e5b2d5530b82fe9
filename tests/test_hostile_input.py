"""Hostile and careless input: no file written or read outside its folder."""

import json
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geolabel_widgets import LabelStore
from geolabel_widgets.cli import main

from tests.conftest import files_under, write_images

# names an image may carry in from a GeoJSON, a Veda or a DataGym file
HOSTILE = ["../../../outside/x.png", "/tmp/geolabel-absolute/y.png", "C:\\Windows\\z.png",
           "..", "sub/../../w.png"]
TAGS, LAND = "tags", "land"
ONE_TASK = {"coasttrain": LAND, "doodler": LAND, "seggym": LAND, "coco": LAND,
            "datagym": TAGS, "folder": TAGS, "veda": LAND}


@pytest.fixture
def hostile_store(tmp_path):
    """A store whose images carry HOSTILE names, each tagged and with a mask."""
    source = tmp_path / "work" / "images"
    source.mkdir(parents=True)
    paths = []
    for k in range(len(HOSTILE)):
        path = source / f"real_{k}.png"
        Image.fromarray(np.full((16, 24, 3), 40 * k, np.uint8)).save(path)
        paths.append(str(path))
    store_path = tmp_path / "work" / "store.sqlite"
    with LabelStore.open(store_path) as store:
        ids = store.add_images(pd.DataFrame({"path": paths, "name": HOSTILE}),
                               dataset="hostile", progress=False)
        store.add_task(TAGS, type="tag", classes=["present", "not present"])
        store.add_task(LAND, type="semantic_segmentation", classes=["water", "sand"])
        for k, image_id in enumerate(ids):
            store.tag(image_id, "present" if k % 2 else "not present", task=TAGS,
                      labeler="ann")
            mask = np.zeros((16, 24), np.uint8)
            mask[:, 12:] = 1
            store.add_mask(image_id, mask, task=LAND, labeler="ann")
    assert sorted(store.images["name"]) == sorted(HOSTILE)  # kept as given, as names
    return store_path


@pytest.mark.parametrize("fmt", ["imagelabeler", *ONE_TASK])
def test_an_export_writes_only_inside_its_destination(fmt, hostile_store, tmp_path):
    Path("/tmp/geolabel-absolute/y.png").unlink(missing_ok=True)
    before = files_under(tmp_path)
    dest = tmp_path / "work" / "out" / fmt
    target = dest / "labels.json" if fmt in ("coco", "datagym") else dest  # one file
    dest.mkdir(parents=True)
    task = ["--task", ONE_TASK[fmt]] if fmt in ONE_TASK else []
    assert main(["export", fmt, str(target), "--store", str(hostile_store), *task]) == 0
    new = files_under(tmp_path) - before
    assert new and all(p.is_relative_to(dest) for p in new), sorted(map(str, new))
    assert not Path("/tmp/geolabel-absolute/y.png").exists()
    names = {p.name for p in new}
    assert not any(".." in p.relative_to(dest).parts for p in new)
    if fmt in ("imagelabeler", "coasttrain"):
        assert {"x.png", "y.png", "z.png", "w.png"} <= names  # the name's last part, kept


def test_a_coast_train_csv_naming_a_file_outside_its_record_is_refused(tmp_path, capsys):
    record = tmp_path / "record"
    (record / "npz").mkdir(parents=True)
    outside = tmp_path / "secret.npz"
    np.savez(outside, label=np.zeros((2, 2), np.uint8))
    pd.DataFrame({"image_filename": ["images/a_ID1.jpg"], "annotation_image_filename":
                  ["../secret.npz"], "classes_array": ["'water'"], "num_classes": [1],
                  "classes_present_array": ["'water'"], "ImageHeightPx": [2],
                  "ImageWidthPx": [2]}
                 ).to_csv(record / "R_meta.csv", index=False)
    store = tmp_path / "store.sqlite"
    assert main(["import", "coasttrain", str(record), "--store", str(store)]) == 1
    assert "secret.npz: outside" in capsys.readouterr().err


def test_a_datagym_name_that_climbs_out_reads_no_file_outside_the_export(tmp_path):
    """``..%2F`` decodes to ``../``: only the name's last part is looked for, beside the
    export (DataGym's own exports URL-encode their names)."""
    import json

    from geolabel_widgets.formats import read_datagym

    folder = tmp_path / "export"
    folder.mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "secret.png")  # outside the export's folder
    (folder / "x.json").write_text(json.dumps([  # the exporter's array
        {"label_classes": [{"class_name": "boat", "geometry_type": "point"}]},
        {"internal_media_ID": "m1", "external_media_ID": "..%2Fsecret.png",
         "labels": {"boat": [{"point": [{"x": 1, "y": 2}]}]}}]))
    with LabelStore.open(tmp_path / "store.sqlite") as store:
        read_datagym(store, folder / "x.json", progress=False)
        image = store.images.iloc[0]
    assert image["name"] == "secret.png" and image["uri"] == "datagym://m1/secret.png"


def write_zero_npz(path: Path, entries: dict[str, int]) -> Path:
    """An NPZ of uint8 zero arrays of the given lengths, streamed (never whole in memory)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, length in entries.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array_header_1_0(
                    entry, {"descr": "|u1", "fortran_order": False, "shape": (length,)})
                block = bytes(2**20)
                for start in range(0, length, len(block)):
                    entry.write(block[:length - start])
    return path


@pytest.mark.parametrize("entries, says", [
    ({"image": 24 * 2**20, "label": 24 * 2**20, "doodles": 24 * 2**20},
     "past the limit of 67,108,864"),  # each under the entry cap, all over the total
    ({"image": 40 * 2**20}, "a decompression bomb; refused"),
])
def test_an_npz_bomb_is_refused_before_its_arrays_are_loaded(entries, says, tmp_path,
                                                             monkeypatch, capsys):
    from geolabel_widgets.formats import safety

    # the real limits (4 GiB, 256 MiB) scaled down 64 times, so the bombs stay small
    monkeypatch.setattr(safety, "MAX_NPZ_BYTES", 64 * 2**20)
    monkeypatch.setattr(safety, "NPZ_BOMB_BYTES", 4 * 2**20)
    results = tmp_path / "results"
    results.mkdir()
    bomb = write_zero_npz(results / "scene_ann.npz", entries)
    assert bomb.stat().st_size < 2**20
    store = tmp_path / "store.sqlite"
    assert main(["import", "doodler", str(results), "--store", str(store)]) == 1
    error = capsys.readouterr().err
    assert str(bomb) in error and says in error
    with LabelStore.open(store) as opened:
        assert opened.images.empty


def test_odd_geotiffs_are_added_without_a_footprint_and_never_stop_the_folder(tmp_path,
                                                                              capsys):
    """A NaN or Inf in the geotransform, or a LOCAL_CS CRS, among good files."""
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import Affine

    folder = tmp_path / "odd"
    folder.mkdir()
    local = CRS.from_wkt('LOCAL_CS["unknown",UNIT["metre",1]]')
    for name, crs, transform in [
            ("nan.tif", "EPSG:4326", Affine(float("nan"), 0, 0, 0, -1, 8)),
            ("inf.tif", "EPSG:4326", Affine(1, 0, float("inf"), 0, -1, 8)),
            ("local.tif", local, Affine(1, 0, 0, 0, -1, 8)),
            ("good.tif", "EPSG:32618", Affine(10, 0, 400_000, 0, -10, 4_200_000))]:
        with rasterio.open(folder / name, "w", driver="GTiff", width=8, height=8, count=1,
                           dtype="uint8", crs=crs, transform=transform) as dst:
            dst.write(np.ones((1, 8, 8), np.uint8))
    store = tmp_path / "store.sqlite"
    assert main(["import", "folder", str(folder), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "4 images (4 new), 0 skipped" in out
    assert "nan.tif: added without a footprint: its geotransform holds numbers that are " \
           "not finite" in out and "inf.tif: added without a footprint" in out
    assert "local.tif: added without a footprint: its CRS is a local one" in out
    with LabelStore.open(store) as opened:
        images = opened.images.set_index("name")
    assert images.geometry.notna().to_dict() == {"good.tif": True, "inf.tif": False,
                                                 "local.tif": False, "nan.tif": False}


def test_another_applications_sqlite_file_is_refused_and_left_as_it_was(tmp_path, capsys):
    import sqlite3

    theirs = tmp_path / "crm.db"
    with sqlite3.connect(theirs) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'Ada')")
    conn.close()
    before = theirs.read_bytes()
    assert main(["stats", "--store", str(theirs)]) == 1
    assert f"{theirs} is another application's SQLite database (tables: customers)" in \
        capsys.readouterr().err
    assert theirs.read_bytes() == before  # not even switched to WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.db"]


def test_a_store_path_that_is_not_sqlite_is_refused(tmp_path, capsys):
    notes = tmp_path / "notes.sqlite"
    notes.write_text("my notes, not a database\n" * 50)
    assert main(["stats", "--store", str(notes)]) == 1
    assert f"{notes} is not an SQLite database" in capsys.readouterr().err
    assert notes.read_text() == "my notes, not a database\n" * 50


def test_opening_a_store_never_waits_for_a_writer(tmp_path):
    """A long import holds the write lock; a labeler opening the store meanwhile reads."""
    import sqlite3
    import subprocess
    import sys

    path = tmp_path / "store.sqlite"
    with LabelStore.open(path) as store:
        store.add_task("t", type="tag", classes=["a"])
    importer = sqlite3.connect(path, isolation_level=None)
    importer.execute("BEGIN IMMEDIATE")  # as a long import's transaction does
    try:
        labeler = subprocess.run(
            [sys.executable, "-c", "import sys; from geolabel_widgets import LabelStore; "
             "print(list(LabelStore.open(sys.argv[1]).tasks.index))", str(path)],
            capture_output=True, text=True, timeout=60)
    finally:
        importer.rollback()
        importer.close()
    assert labeler.returncode == 0, labeler.stderr
    assert labeler.stdout.strip() == "['t']"


FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)"]


def test_csv_exports_never_hold_a_cell_a_spreadsheet_would_run(tmp_path):
    import csv

    source = tmp_path / "images"
    source.mkdir()
    paths = []
    for k in range(len(FORMULAS)):
        paths.append(source / f"c{k}.png")
        Image.fromarray(np.full((8, 8, 3), 60 * k, np.uint8)).save(paths[-1])
    store_path = tmp_path / "store.sqlite"
    with LabelStore.open(store_path) as store:
        ids = store.add_images(pd.DataFrame({"path": list(map(str, paths)),
                                             "name": FORMULAS}), dataset="d", progress=False)
        store.add_task("t", type="tag", classes=["present", "not present"])
        for image_id, labeler in zip(ids, FORMULAS):
            store.tag(image_id, "present", task="t", labeler=labeler)
    for fmt in ("folder", "imagelabeler"):
        assert main(["export", fmt, str(tmp_path / fmt), "--store", str(store_path)]) == 0
    written = sorted((tmp_path / "folder").glob("*.csv")) + \
        sorted((tmp_path / "imagelabeler").rglob("*.csv"))
    assert len(written) == 2
    for path in written:
        with open(path, newline="") as f:
            cells = [cell for row in csv.reader(f) for cell in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], path
        assert any(c.startswith("'=HYPERLINK(") for c in cells), path
    again = tmp_path / "again.sqlite"  # what was escaped comes back as it was
    assert main(["import", "imagelabeler", str(tmp_path / "imagelabeler"), "--store",
                 str(again)]) == 0
    with LabelStore.open(again) as again:
        tags = again.get_annotations(kinds=["tag"])
    from geolabel_widgets.formats.safety import file_name

    assert sorted(again.images["name"]) == sorted(map(file_name, FORMULAS))  # as files
    assert sorted(tags["labeler"]) == sorted(FORMULAS)


@pytest.fixture
def segmentation_store(tmp_path):
    """A store of one 48 x 64 image ('a.png') and a segmentation task 'land'."""
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(path)
    with LabelStore.open(tmp_path / "store.sqlite") as store:
        [image_id] = store.add_images(path, dataset="d", progress=False)
        store.add_task("land", type="semantic_segmentation", classes=["water", "sand"])
        yield store, image_id


def test_a_mask_that_does_not_fit_its_image_is_refused(segmentation_store):
    store, image_id = segmentation_store
    for shape in [(64, 48), (4, 4), (48, 64, 3)]:
        with pytest.raises(ValueError, match="does not fit image 'a.png', which is 48 x 64"
                           if len(shape) == 2 else "one value per pixel"):
            store.add_mask(image_id, np.zeros(shape, np.uint8), task="land",
                           labeler="ann")
    assert store.get_annotations().empty
    assert not store.mask_dir.exists() or not any(store.mask_dir.iterdir())
    store.add_mask(image_id, np.zeros((48, 64), np.uint8), task="land", labeler="ann")
    assert len(store.get_annotations(kinds=["mask"])) == 1


@pytest.mark.parametrize("column, value, says", [
    ("width", -5, "width -5 is not a positive whole number"),
    ("height", 2.5, "height 2.5 is not a positive whole number"),
    ("bands", "three", "bands 'three' is not a positive whole number"),
    ("width", 1e300, "width 1e+300 is not a positive whole number"),  # past any integer
    ("geometry", "POLYGON ((530 10, 532 10, 532 11, 530 11, 530 10))",
     "spans longitude 530..532"),
    ("geometry", "POLYGON ((10 95, 11 95, 11 96, 10 96, 10 95))", "latitude 95..96"),
])
def test_impossible_values_in_a_catalogue_are_refused(column, value, says, tmp_path):
    import geopandas as gpd
    import shapely

    frame = pd.DataFrame({"path": ["/archive/a.tif", "/archive/b.tif"],
                          "geometry": [shapely.box(10, 10, 11, 11)] * 2})
    if column == "geometry":  # the second row's
        frame[column] = [frame[column][0], shapely.from_wkt(value)]
    else:
        frame[column] = pd.Series([value, None], dtype=object)
    catalogue = tmp_path / "catalogue.parquet"
    gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326").to_parquet(catalogue)
    with LabelStore.open(tmp_path / "store.sqlite") as store:
        with pytest.raises(ValueError, match="row") as refused:
            store.add_images(gpd.read_parquet(catalogue), dataset="cat", progress=False)
        assert says in str(refused.value)
        assert store.images.empty


def test_a_failed_import_leaves_no_mask_file_behind(segmentation_store):
    """An import is one transaction: the PNGs it wrote go when it rolls back."""
    store, image_id = segmentation_store
    kept = np.eye(48, 64, dtype=np.uint8)
    store.add_mask(image_id, kept, task="land", labeler="ann")
    before = sorted(store.mask_dir.iterdir())
    with pytest.raises(RuntimeError, match="the next file is bad"):
        with store.transaction():
            store.add_mask(image_id, 1 - kept, task="land", labeler="bo")
            store.add_mask(image_id, kept, task="land", labeler="cy")  # already a file
            raise RuntimeError("the next file is bad")
    assert sorted(store.mask_dir.iterdir()) == before  # the kept mask's file too
    [row] = store.get_annotations(kinds=["mask"]).itertuples()
    assert np.array_equal(store.mask(row.annotation_id)[0], kept)


@pytest.mark.parametrize("region, says", [
    (None, "no vector file at"),
    ('{"type": "FeatureCollection", "features": [', "not a vector file GeoPandas can read"),
    ('{"type": "FeatureCollection", "features": []}', "no feature with a geometry"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
     '"geometry": {"type": "Point", "coordinates": [400100, 4199900]}}]}',
     "its coordinates are not lon/lat and it names no CRS"),
])
def test_a_bad_chips_region_is_refused_before_any_chip_is_cut(region, says, tmp_path,
                                                              capsys):
    import rasterio
    from rasterio.transform import Affine

    scene = tmp_path / "scene.tif"
    with rasterio.open(scene, "w", driver="GTiff", width=64, height=64, count=1,
                       dtype="uint8", crs="EPSG:32618",
                       transform=Affine(10, 0, 400_000, 0, -10, 4_200_000)) as dst:
        dst.write(np.ones((1, 64, 64), np.uint8))
    path = tmp_path / "region.geojson"
    if region is not None:
        path.write_text(region)
    before = files_under(tmp_path)
    assert main(["chips", str(scene), "--store", str(tmp_path / "store.sqlite"),
                 "--size", "32", "--region", str(path)]) == 1
    assert f"{path}" in (error := capsys.readouterr().err) and says in error
    assert files_under(tmp_path) == before


def test_coast_train_class_names_with_quotes_and_commas_survive_their_round_trip(
        segmentation_store, tmp_path):
    from geolabel_widgets.formats import read_coasttrain, write_coasttrain

    store, image_id = segmentation_store
    classes = ["it's wet", 'the "dry" sand', "rocks, gravel"]
    store.add_task("odd", type="semantic_segmentation", classes=classes)
    mask = np.repeat(np.arange(3, dtype=np.uint8), [16, 16, 32])[None].repeat(48, axis=0)
    store.add_mask(image_id, mask, task="odd", labeler="ann")
    write_coasttrain(store, tmp_path / "Odd_1_001", task="odd", progress=False)
    with LabelStore.open(tmp_path / "again.sqlite") as again:
        read_coasttrain(again, tmp_path / "Odd_1_001", task="odd", progress=False)
        assert again.classes("odd") == classes
        [row] = again.get_annotations(kinds=["mask"]).itertuples()
        array, names = again.mask(row.annotation_id)
    assert names == classes and np.array_equal(array, mask)


@pytest.mark.parametrize("dest", ["notes.txt/out", "notes.txt/out/labels.json"])
def test_an_export_destination_that_cannot_be_made_is_one_clear_line(dest, hostile_store,
                                                                     tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    fmt = "coco" if dest.endswith(".json") else "folder"
    task = TAGS if fmt == "folder" else LAND
    assert main(["export", fmt, str(tmp_path / dest), "--store", str(hostile_store),
                 "--task", task]) == 1
    error = capsys.readouterr().err
    assert error == f"geolabel export: {tmp_path / dest}: {tmp_path / 'notes.txt'} is a " \
        "file, not a folder to export into\n"
    assert (tmp_path / "notes.txt").read_text() == "a file, not a folder"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_text_a_server_cannot_keep_is_refused_on_both_backends(store):
    """PostgreSQL refuses NUL characters and names past their column's length; SQLite
    would keep them. Both refuse them in one line, and nothing is written."""
    import geopandas as gpd
    import shapely

    store.add_task("flood", classes=["flooded", "dry"])
    [image_id] = store.add_images(gpd.GeoDataFrame(
        {"path": ["/archive/a.tif"]}, geometry=[shapely.box(10, 10, 11, 11)],
        crs="EPSG:4326"), dataset="chips", progress=False)
    with pytest.raises(ValueError, match="is 300 characters long; a name or id is at most 255"):
        store.tag(image_id, "dry", task="flood", labeler="a" * 300)
    with pytest.raises(ValueError, match=r"'ann\\x00' holds a NUL character"):
        store.tag(image_id, "dry", task="flood", labeler="ann\x00")
    with pytest.raises(ValueError, match="holds a NUL character"):
        store.comment(image_id, "see\x00here", task="flood", labeler="ann")
    with pytest.raises(ValueError, match="holds a NUL character"):
        store.add_images(gpd.GeoDataFrame(
            {"path": ["/archive/b.tif", "/archive/c\x00.tif"]},
            geometry=[shapely.box(10, 10, 11, 11)] * 2, crs="EPSG:4326"),
            dataset="chips", progress=False)
    with pytest.raises(ValueError, match="at most 255"):
        store.add_task("t" * 256, classes=["a"])
    assert store.get_annotations().empty and len(store.images) == 1
    assert list(store.tasks.index) == ["flood"] and store.labelers.empty
    store.tag(image_id, "dry", task="flood", labeler="ann")  # and the store still works
    assert store.current_values("flood", [image_id], kinds=["tag"]) == [
        (image_id, "ann", "tag", "dry")]


@pytest.mark.parametrize("reader", ["read_geojson", "read_coco", "read_datagym"])
def test_json_nested_past_the_bound_is_refused_before_it_is_parsed(reader, tmp_path):
    """Nesting is counted on the bytes (brackets inside strings aside), so a deep file is
    one clear line, never a RecursionError or minutes of walking its objects."""
    from geolabel_widgets import formats

    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    with LabelStore.open(tmp_path / "store.sqlite") as store:
        with pytest.raises(formats.FormatError, match="deep.json: JSON nested deeper than 64"):
            getattr(formats, reader)(store, deep, progress=False)
        assert store.images.empty
    shallow = tmp_path / "shallow.json"  # brackets in strings, quotes escaped in them
    document = {"name": "[" * 500 + '\\"{' * 100 + "\\", "deep": [[[["}}}"]]]]}
    shallow.write_text(json.dumps(document))
    assert formats.safety.read_json(shallow) == document


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_shape_with_a_coordinate_that_is_no_number_is_refused(bad, store):
    """A NaN or infinite corner (a box from a division by zero, a blank cell read as
    NaN) is no place on the image: refused in one line, by a single shape and by a
    batch, and the labels already made stay."""
    import geopandas as gpd
    import shapely

    store.add_task("flood", classes=["flooded", "dry"])
    [image_id] = store.add_images(gpd.GeoDataFrame(
        {"path": ["/archive/a.tif"], "width": [100], "height": [80]},
        geometry=[shapely.box(10, 10, 11, 11)], crs="EPSG:4326"),
        dataset="chips", progress=False)
    kept = store.annotate(image_id, shapely.box(5, 5, 20, 20), "dry", task="flood",
                          labeler="ann")
    odd = shapely.Polygon([(0, 0), (bad, 0), (10, 10)])
    with pytest.raises(ValueError, match="not a finite number"):
        store.annotate(image_id, odd, "flooded", task="flood", labeler="ann")
    labels = pd.DataFrame({"image_id": [image_id] * 2, "labeler": ["bo"] * 2,
                           "kind": ["box", "polygon"], "value": ["dry", "flooded"],
                           "geometry": [shapely.box(1, 1, 9, 9), odd]})
    with pytest.raises(ValueError, match="not a finite number"):
        store.add_labels(labels, task="flood")
    assert list(store.get_annotations()["label_id"]) == [kept]
    assert store.labelers.index.tolist() == ["ann"]


def test_a_read_only_store_is_read_and_a_write_to_it_says_so(tmp_path):
    """A store on a read-only disk (or shared read-only) opens and reads; a write says
    in one line that the store is read-only, and the file is as it was."""
    import os
    import shutil
    import stat
    import subprocess
    import sys

    path = tmp_path / "shared" / "store.sqlite"
    with LabelStore.open(path) as store:
        store.add_task("t", type="tag", classes=["a"])
        store.add_images(write_images(tmp_path / "images", 1), dataset="d", progress=False)
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    path.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    # root writes through file modes; without CAP_DAC_OVERRIDE it cannot
    as_reader = [shutil.which("setpriv"), "--bounding-set=-dac_override,-dac_read_search"] \
        if os.geteuid() == 0 else []
    try:
        run = subprocess.run([*as_reader, sys.executable, "-c", (
            "import sys\nfrom geolabel_widgets import LabelStore\n"
            "store = LabelStore.open(sys.argv[1])\n"
            "print(list(store.tasks.index), len(store.images))\n"
            "store.tag(store.images.index[0], 'a', task='t', labeler='ann')"), str(path)],
            capture_output=True, text=True, timeout=60)
    finally:
        path.parent.chmod(stat.S_IRWXU)
    assert run.stdout.strip() == "['t'] 1", run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        f"geolabel_widgets.store.types.StoreError: the store {path} is read-only (its file "
        "or folder cannot be written): nothing of this call was written")
    assert path.read_bytes() == before


def test_a_full_disk_says_so_and_keeps_every_label_already_made(tmp_path):
    """SQLite out of room (its page limit stands in for the disk) mid-import, alone or
    inside a transaction (where SQLite reports only "no such savepoint"): one line,
    nothing of the call written, the earlier labels kept, and the store still works."""
    import sqlite3

    import shapely
    from sqlalchemy import event

    path = tmp_path / "store.sqlite"
    store = LabelStore.open(path)
    store.add_task("t", classes=["a", "b"])
    ids = store.add_images(write_images(tmp_path / "images", 2), dataset="d", progress=False)
    store.tag(ids[0], "a", task="t", labeler="ann")
    with closing(sqlite3.connect(path)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    event.listen(store.engine, "connect", lambda dbapi, _record: dbapi.execute(
        f"PRAGMA max_page_count={pages + 2}"))
    store.engine.dispose()  # new connections: the disk is full now
    labels = pd.DataFrame({"image_id": ids[1], "labeler": "bo", "kind": "point",
                           "value": "b", "geometry": [shapely.Point(k % 60, 5)
                                                      for k in range(2000)],
                           "props": [{"note": "x" * 2000}] * 2000})
    says = f"the disk holding the store {path} is full: nothing of this call was written"
    with pytest.raises(ValueError, match=says):
        store.add_labels(labels, task="t")
    with pytest.raises(ValueError, match=says):
        with store.transaction():
            store.tag(ids[1], "b", task="t", labeler="cy")
            store.add_labels(labels, task="t")
    kept = store.get_annotations()
    assert kept[["image_id", "labeler", "value"]].values.tolist() == [[ids[0], "ann", "a"]]
    store.tag(ids[1], "b", task="t", labeler="cy")  # a small write still fits
    assert len(store.get_annotations()) == 2
    store.close()


def test_a_large_datagym_export_costs_memory_in_proportion_to_its_size(tmp_path):
    """A DataGym export of polygons (the 126 MB one of the issue took 6 GB): the import's
    peak is a small multiple of the file (0.9 GB at 126 MB, 6.8x at 3 MB)."""
    import tracemalloc

    from geolabel_widgets.formats.datagym import read_datagym

    rng = np.random.default_rng(0)
    path = tmp_path / "export.json"
    with path.open("w") as out:
        out.write(json.dumps([{"label_classes": [{"class_name": "water",
                                                  "geometry_type": "polygon"}]}])[:-1])
        for k in range(50):
            labels = {"water": [{"polygon": [{"x": float(x), "y": float(y)} for x, y in
                                             rng.uniform(0, 1000, (40, 2)).round(2)]}
                                for _ in range(10)]}
            out.write("," + json.dumps({"internal_media_ID": f"m{k}", "labels": labels,
                                        "external_media_ID": f"img_{k}.jpg",
                                        "labeler": f"l{k % 5}", "status": "completed"},
                                       indent=2))
        out.write("]")
    size = path.stat().st_size
    assert size > 1_000_000
    with LabelStore.open(tmp_path / "store.sqlite") as store:
        tracemalloc.start()
        try:
            read_datagym(store, path, progress=False)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(store.get_annotations()) == 500
    assert peak < 12 * size, f"peak {peak / size:.1f}x the file's size"
