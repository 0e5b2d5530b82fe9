"""Hostile and careless input: no file written or read outside its folder."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geolabel_widgets import LabelStore
from geolabel_widgets.cli import main

# names an image may carry in from a GeoJSON, a Veda or a DataGym file
HOSTILE = ["../../../outside/x.png", "/tmp/geolabel-absolute/y.png", "C:\\Windows\\z.png",
           "..", "sub/../../w.png"]
TAGS, LAND = "tags", "land"
ONE_TASK = {"coasttrain": LAND, "doodler": LAND, "seggym": LAND, "coco": LAND,
            "datagym": TAGS, "folder": TAGS, "veda": LAND}


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


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
