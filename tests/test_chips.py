"""Chips from big scenes: pixel for pixel, in the right place, in little memory."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely.geometry import box

from geolabel_widgets.imagery.chips import offsets

BIG = 20_000
CHIP = 1024


def test_offsets_tile_an_axis_with_the_last_chip_flush():
    assert offsets(500, 128, 0) == [0, 128, 256, 372]
    assert offsets(500, 128, 28) == [0, 100, 200, 300, 372]
    assert offsets(100, 128, 0) == [0]
    with pytest.raises(ValueError, match="overlap"):
        offsets(500, 128, 128)


def test_the_real_geotiff_is_cut_pixel_for_pixel_with_true_footprints(store, shared_data):
    scene = shared_data / "imagery" / "examplegeotiff.tif"
    ids = store.add_chips(scene, size=128, progress=False)
    assert len(ids) == 4 * 4  # 500 x 400 pixels: 4 columns, 4 rows, the last ones flush
    images = store.images.loc[ids]
    with rasterio.open(scene) as src:
        to_lonlat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True)
        for image_id, image in images.iterrows():
            col, row, width, height = image["props"]["window"]
            window = Window(col, row, width, height)
            with rasterio.open(image["uri"]) as chip:
                assert np.array_equal(chip.read(), src.read(window=window))
                assert chip.crs == src.crs
            x0, y0, x1, y1 = rasterio.windows.bounds(window, src.transform)
            corners = np.array(to_lonlat.transform([x0, x1, x1, x0], [y0, y0, y1, y1])).T
            assert np.allclose(image["geometry"].bounds, [*corners.min(axis=0),
                                                          *corners.max(axis=0)], atol=1e-8)
        whole = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    assert np.allclose(images.union_all().bounds, whole, atol=1e-7)
    assert set(images["dataset"]) == {"examplegeotiff"}


def test_a_region_keeps_only_the_chips_that_meet_it(store, shared_data):
    scene = shared_data / "imagery" / "examplegeotiff.tif"
    with rasterio.open(scene) as src:
        west, south, east, north = rasterio.warp.transform_bounds(src.crs, "EPSG:4326",
                                                                  *src.bounds)
    corner = box(west, north - (north - south) * 0.2, west + (east - west) * 0.2, north)
    ids = store.add_chips(scene, size=128, region=corner, progress=False)
    assert len(ids) == 1 and store.last_chips.outside_region == 15
    assert store.images.loc[ids[0], "props"]["window"] == [0, 0, 128, 128]


def test_coast_trains_own_site_boxes_choose_the_chips(tmp_path, shared_data, capsys):
    """The release's San Diego site boxes (``sandiego.geojson``, WGS84, empty
    properties) as ``--region`` over a 30 m UTM scene spanning them."""
    import geopandas as gpd

    from geolabel_widgets import LabelStore
    from geolabel_widgets.cli import main

    sites = shared_data / "real/coasttrain_site/geospatial/sandiego.geojson"
    boxes = gpd.read_file(sites)
    utm = boxes.to_crs("EPSG:32611")
    west, south, east, north = utm.total_bounds
    scene = tmp_path / "sandiego.tif"
    width, height = int((east - west) // 30) + 20, int((north - south) // 30) + 20
    with rasterio.open(scene, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="uint8", crs="EPSG:32611",
                       transform=from_origin(west - 300, north + 300, 30, 30)) as dst:
        dst.write(np.full((1, height, width), 7, np.uint8))
    store_path = tmp_path / "store.sqlite"
    assert main(["chips", str(scene), "--region", str(sites), "--size", "64",
                 "--store", str(store_path)]) == 0
    kept, outside = map(int, re.findall(r"(\d+) (?:chips added|outside)",
                                        capsys.readouterr().out))
    every = len(offsets(width, 64, 0)) * len(offsets(height, 64, 0))
    with LabelStore.open(store_path) as store:
        chips = store.images.to_crs("EPSG:4326")
    assert len(chips) == kept and kept + outside == every and 0 < kept < every
    assert chips.intersects(boxes.union_all()).all()
    assert boxes.within(chips.union_all().buffer(1e-9)).all()  # no site left uncut


def write_big_scene(path):
    """A 20000 x 20000, 3-band, tiled, zstd GeoTIFF written block by block, with a
    nodata corner. Each pixel's value follows from its position, so chips can be checked."""
    transform = from_origin(400_000, 4_200_000, 1.0, 1.0)
    y = np.arange(1000)[:, None]
    x = np.arange(BIG, dtype=np.int32)[None, :]
    # the pattern repeats every 250 rows, so every band of 1000 rows is the same one
    band = np.stack([(x + y) % 250 + 1, (x * 3 + y) % 250 + 1, (x + 7 * y) % 250 + 1]
                    ).astype(np.uint8)
    corner = band.copy()
    corner[:, :, :3000] = 0  # the top-left 3000 x 3000 is nodata
    with rasterio.open(path, "w", driver="GTiff", width=BIG, height=BIG, count=3,
                       dtype="uint8", crs="EPSG:32618", transform=transform, tiled=True,
                       blockxsize=512, blockysize=512, compress="zstd", nodata=0) as dst:
        for row in range(0, BIG, 1000):
            dst.write(corner if row < 3000 else band, window=Window(0, row, BIG, 1000))


# The child's own peak resident memory: VmHWM belongs to its address space, unlike
# ru_maxrss, which a forked child inherits from the (large) test process.
MEASURE = """
import re, sys
from geolabel_widgets.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
print("maxrss_kb", re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
sys.exit(code)
"""


@pytest.mark.slow
def test_a_20000_pixel_scene_is_chipped_in_under_500_mb(tmp_path):
    scene = tmp_path / "big.tif"
    write_big_scene(scene)
    store = tmp_path / "chips.sqlite"
    done = subprocess.run([sys.executable, "-c", MEASURE, "chips", str(scene), "--store",
                           str(store), "--size", str(CHIP)],
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stdout.split("maxrss_kb")[1]) / 1024
    print(f"peak memory chipping a {BIG} x {BIG} scene: {peak_mb:.0f} MB")
    assert peak_mb < 500
    assert "Chipping big" in done.stderr  # the progress bar
    per_axis = len(offsets(BIG, CHIP, 0))
    nodata = 2 * 2  # chips wholly inside the 3000 x 3000 nodata corner
    assert f"{per_axis ** 2 - nodata} chips added" in done.stdout
    assert f"skipped {nodata} of nodata only" in done.stdout

    from geolabel_widgets import LabelStore

    with LabelStore.open(store) as opened, rasterio.open(scene) as src:
        images = opened.images
        assert len(images) == per_axis ** 2 - nodata
        for _, image in images.sample(5, random_state=0).iterrows():
            col, row, width, height = image["props"]["window"]
            with rasterio.open(image["uri"]) as chip:
                assert np.array_equal(chip.read(), src.read(window=Window(col, row, width,
                                                                          height)))
                assert chip.transform == src.window_transform(Window(col, row, width, height))


def test_a_scene_that_is_missing_broken_or_not_georeferenced_is_a_clear_error(store, tmp_path,
                                                                             shared_data):
    from geolabel_widgets.imagery.header import UnreadableImage

    (tmp_path / "broken.tif").write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(UnreadableImage, match="missing.tif: not a raster"):
        store.add_chips(tmp_path / "missing.tif", progress=False)
    with pytest.raises(UnreadableImage, match="broken.tif: not a raster"):
        store.add_chips(tmp_path / "broken.tif", progress=False)
    with pytest.raises(ValueError, match="not georeferenced"):
        store.add_chips(shared_data / "imagery" / "example1.jpg", progress=False)
    assert len(store.images) == 0


def write_scene(path, seed: int, size: int = 300):
    """A small 3-band UTM scene with a nodata corner, its pixels from ``seed``."""
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 255, (3, size, size), dtype=np.uint8)
    data[:, :150, :150] = 0  # the first 128 px chip holds nothing
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3,
                       dtype="uint8", crs="EPSG:32618", nodata=0,
                       transform=from_origin(400_000 + seed * 5_000, 4_200_000, 10, 10)) as dst:
        dst.write(data)
    return path


def test_many_scenes_cut_on_a_cluster_are_the_chips_cut_here(tmp_path, dask_cluster, capsys):
    from geolabel_widgets import LabelStore
    from geolabel_widgets.cli import main

    scenes = [str(write_scene(tmp_path / f"scene_{k}.tif", k)) for k in range(5)]
    with LabelStore.open(tmp_path / "here.sqlite") as store:
        here = store.add_chips(scenes, size=128, folder=tmp_path / "here", progress=False)
        here_images = store.images.sort_index()
        here_report = store.last_chips
    assert main(["chips", *scenes, "--size", "128", "--folder", str(tmp_path / "there"),
                 "--scheduler", dask_cluster, "--store", str(tmp_path / "there.sqlite")]) == 0
    assert f"{len(here)} chips added; skipped 5 of nodata only" in capsys.readouterr().out
    with LabelStore.open(tmp_path / "there.sqlite") as store:
        there_images = store.images.sort_index()
    assert len(here) == 5 * 8 and here_report.nodata_only == 5  # 3 x 3 chips, one nodata
    assert here_images.index.equals(there_images.index)  # the same bytes: the same ids
    assert here_images["dataset"].value_counts().to_dict() == {f"scene_{k}": 8
                                                              for k in range(5)}
    assert (here_images["dataset"] == there_images["dataset"]).all()
    assert here_images.geometry.geom_equals_exact(there_images.geometry, 1e-12).all()
    assert {Path(p).parent.name for p in there_images["uri"]} == {
        f"scene_{k}_chips" for k in range(5)}


def test_a_folder_of_many_images_is_read_on_a_cluster_as_here(tmp_path, dask_cluster):
    from PIL import Image

    from geolabel_widgets import LabelStore
    from geolabel_widgets.store.ingest import CHUNK

    folder = tmp_path / "many"
    folder.mkdir()
    for k in range(CHUNK * 2 + 7):
        Image.new("RGB", (8, 8), (k % 256, k // 256, 0)).save(folder / f"{k:05d}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    stores = {}
    for where in (None, dask_cluster):
        with LabelStore.open(tmp_path / f"{bool(where)}.sqlite") as store, \
                pytest.warns(UserWarning, match="broken.png"):
            store.add_images(folder, dataset="many", progress=False, scheduler=where)
            stores[where] = (store.images.drop(columns="added_at").sort_index(),
                             [f.path for f in store.last_ingest.failures])
    here, there = stores[None], stores[dask_cluster]
    assert len(here[0]) == CHUNK * 2 + 7 and here[1] == there[1] == [str(folder / "broken.png")]
    pd.testing.assert_frame_equal(here[0], there[0])


def test_a_scene_that_fails_among_many_leaves_no_chip_files_of_the_others(store, tmp_path):
    from geolabel_widgets.imagery.header import UnreadableImage

    scenes = [write_scene(tmp_path / f"scene_{k}.tif", k) for k in range(2)]
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(UnreadableImage, match="broken.tif: not a raster"):
        store.add_chips([*scenes, tmp_path / "broken.tif"], size=128,
                        folder=tmp_path / "chips", progress=False)
    assert not (tmp_path / "chips").exists() and store.images.empty
    store.add_chips(scenes, size=128, folder=tmp_path / "chips", progress=False)
    kept = {p for p in (tmp_path / "chips").rglob("*.tif")}
    with pytest.raises(UnreadableImage):  # a failure now removes no file the store holds
        store.add_chips([*scenes, tmp_path / "broken.tif"], size=128,
                        folder=tmp_path / "chips", progress=False)
    assert {p for p in (tmp_path / "chips").rglob("*.tif")} == kept
    assert len(kept) == len(store.images) == 16


def test_a_jpeg_ycbcr_scene_in_an_unusual_crs_is_cut_pixel_for_pixel(store, shared_data):
    """The real goes.tif (GOES geostationary CRS, JPEG in YCbCr): its chips are the
    pixels GDAL reads from it, stored as deflate RGB, which YCbCr cannot be."""
    scene = shared_data / "real/imagery/rasterio/goes.tif"
    ids = store.add_chips(scene, size=256, progress=False)
    assert len(ids) == 9
    with rasterio.open(scene) as src:
        for _, image in store.images.loc[ids].iterrows():
            col, row, width, height = image["props"]["window"]
            with rasterio.open(image["uri"]) as chip:
                assert [c.name for c in chip.colorinterp] == ["red", "green", "blue"]
                assert np.array_equal(chip.read(), src.read(window=Window(col, row, width,
                                                                          height)))
