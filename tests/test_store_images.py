"""Adding images by reference: folders, bad files, catalogues, georeference."""

import hashlib
import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import box

from conftest import write_images
from geolabel_widgets import LabelStore
from geolabel_widgets.store import UnreadableImagesWarning

pytestmark = pytest.mark.both_backends


def test_a_folder_is_found_recursively_hashed_and_not_copied(store, image_folder):
    ids = store.add_images(image_folder, dataset="event", progress=False)
    files = sorted(p for p in image_folder.rglob("*") if p.is_file())
    assert len(ids) == 6
    assert sorted(ids) == sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in files)
    images = store.images
    assert set(images["uri"]) == {str(p) for p in files}
    assert images[["width", "height", "bands", "dtype"]].drop_duplicates().values.tolist() == [
        [64, 48, 3, "uint8"]]
    assert not images["file_missing"].any()
    assert store.mask_dir is None or not (store.mask_dir.exists()
                                          and any(store.mask_dir.iterdir()))


def test_not_recursive_skips_subfolders(store, image_folder):
    assert len(store.add_images(image_folder, dataset="d", recursive=False,
                                progress=False)) == 4


def test_adding_twice_is_harmless_and_returns_every_id(store, image_folder):
    first = store.add_images(image_folder, dataset="event", progress=False)
    again = store.add_images(image_folder, dataset="event", progress=False)
    assert again == first and store.last_ingest.added == 0
    assert len(store.images) == 6
    assert repr(first) == "<6 images: 6 new, 0 skipped>"
    assert repr(again) == "<6 images: 0 new, 0 skipped>"


def test_a_notebook_cell_ending_with_add_images_shows_one_line(store, image_folder):
    """50,000 hashes would push the widgets below out of sight; the ids still are a
    list (JSON, slicing, ``in``) where code uses them."""
    from IPython.lib.pretty import pretty

    ids = store.add_images(image_folder, dataset="event", progress=False)
    assert pretty(ids) == "<6 images: 6 new, 0 skipped>"
    assert json.loads(json.dumps(ids)) == list(ids) == sorted(store.images.index,
                                                              key=list(ids).index)
    assert ids[0] in ids and isinstance(ids[:2], list) and len(ids[:2]) == 2


def test_a_copy_of_an_image_is_one_image(store, image_folder, tmp_path):
    source = next(image_folder.glob("*.png"))
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "same.png").write_bytes(source.read_bytes())
    store.add_images(image_folder, dataset="a", progress=False)
    store.add_images(tmp_path / "copy", dataset="b", progress=False)
    assert len(store.images) == 6


def test_bad_files_are_summarised_and_the_good_ones_added(store, tmp_path):
    folder = tmp_path / "mixed"
    good = write_images(folder, 2)
    full = folder / "whole.jpg"
    good[0].rename(full)
    data = full.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "notes.tif").write_text("this is not a GeoTIFF\n")
    (folder / "empty.png").write_bytes(b"")
    huge = folder / "huge.tif"  # 40000 x 40000 pixels, all of it sparse: only a header
    with rasterio.open(huge, "w", driver="GTiff", width=40000, height=40000, count=1,
                       dtype="uint8", tiled=True, sparse_ok=True,
                       crs="EPSG:32617", transform=from_origin(500000, 3000000, 1, 1)):
        pass
    with pytest.warns(UnreadableImagesWarning) as caught:
        ids = store.add_images(folder, dataset="mixed", progress=False)
    message = str(caught[0].message)
    assert "3 skipped" in message
    assert "truncated.jpg: is a truncated JPEG file" in message
    assert "notes.tif: is not a readable raster" in message
    assert "empty.png: is empty" in message
    images = store.images.set_index("name")
    assert len(ids) == 3 and set(images.index) == {"whole.jpg", good[1].name, "huge.tif"}
    assert repr(ids) == "<3 images: 3 new, 3 skipped; .report.summary() lists them>"
    assert ids.report.summary() == message
    assert images.loc["huge.tif", ["width", "height"]].tolist() == [40000, 40000]
    assert images.loc["huge.tif", "lat"] == pytest.approx(26.9, abs=0.2)


def test_a_real_geotiff_gets_its_footprint_from_its_crs_and_transform(store, shared_data):
    path = shared_data / "imagery" / "examplegeotiff.tif"
    store.add_images(path, dataset="real", progress=False)
    image = store.images.iloc[0]
    with rasterio.open(path) as src:
        to_lonlat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True)
        corners = [to_lonlat.transform(*(src.transform @ c))
                   for c in [(0, 0), (src.width, 0), (src.width, src.height), (0, src.height)]]
        assert (image["width"], image["height"], image["bands"]) == (src.width, src.height,
                                                                     src.count)
    footprint = image.geometry
    for corner in corners:
        assert footprint.exterior.distance(gpd.points_from_xy([corner[0]], [corner[1]])[0]) \
            < 1e-9
    assert footprint.centroid.x == pytest.approx(image["lon"])
    assert "6347" in store.images.iloc[0]["crs"] or "UTM zone 18N" in image["crs"]


def test_real_jpegs_are_all_readable(store, shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = store.add_images(shared_data / "imagery", dataset="holodoodler", progress=False)
    assert len(ids) == 6
    sizes = store.images.set_index("name")[["width", "height"]]
    assert sizes.loc["orthomosaic.jpg"].tolist() == [2048, 2048]
    assert sizes.loc["example1.jpg"].tolist() == [900, 600]


def test_a_catalogue_frame_adds_missing_files_as_rows(store):
    catalogue = gpd.GeoDataFrame(
        {"path": ["/nowhere/a.tif", "https://example.org/b.tif"],
         "width": [512, 256], "height": [512, 256],
         "date": ["2020-01-02", None]},
        geometry=[box(-80, 28, -79.9, 28.1), None], crs="EPSG:4326")
    ids = store.add_images(catalogue, dataset="catalogue")
    images = store.images.loc[ids]
    assert images["file_missing"].all()
    assert images["sha256"].isna().all()
    assert images["uri"].tolist() == ["/nowhere/a.tif", "https://example.org/b.tif"]
    assert images["lon"].iloc[0] == pytest.approx(-79.95)
    assert images["acquired_at"].iloc[0] == pd.Timestamp("2020-01-02", tz="UTC")
    assert images.geometry.iloc[1] is None
    # the same catalogue again is the same images
    assert store.add_images(catalogue, dataset="catalogue") == ids


def test_a_catalogue_in_a_projected_crs_is_stored_in_lon_lat(store):
    catalogue = gpd.GeoDataFrame({"uri": ["x.tif"]}, geometry=[box(500000, 3000000, 501000,
                                                                   3001000)],
                                 crs="EPSG:32617")
    store.add_images(catalogue, dataset="c")
    assert store.images["lon"].iloc[0] == pytest.approx(-81.0, abs=0.01)


def test_a_catalogue_needs_a_path_column(store):
    with pytest.raises(ValueError, match="'path', 'uri' or 'url'"):
        store.add_images(pd.DataFrame({"name": ["a"]}), dataset="c")
    assert store.images.empty


def test_100k_catalogue_rows_add_at_once(store):
    n = 100_000
    lon = np.linspace(-125, -70, n)
    catalogue = gpd.GeoDataFrame({"path": [f"/archive/{k}.tif" for k in range(n)]},
                                 geometry=gpd.points_from_xy(lon, np.full(n, 35.0)).buffer(0.01),
                                 crs="EPSG:4326")
    ids = store.add_images(catalogue, dataset="big")
    assert len(ids) == n == len(set(ids))
    assert store.stats()["images"] == n


def test_an_npz_image_header_is_read_without_pickle(store, tmp_path):
    path = tmp_path / "scene.npz"
    np.savez(path, image=np.zeros((30, 40, 3), np.uint8), classes=np.array(["water", "sand"]))
    evil = tmp_path / "evil.npz"
    np.savez(evil, image=np.array([object()], dtype=object))
    with pytest.warns(UnreadableImagesWarning, match="pickled objects"):
        store.add_images([path, evil], dataset="npz", progress=False)
    assert store.images[["width", "height", "bands"]].values.tolist() == [[40, 30, 3]]


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    import sqlalchemy as sa

    path = tmp_path / "s.sqlite"
    with LabelStore.open(path) as store, store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE store_info SET value='999' WHERE key='schema_version'"))
    with pytest.raises(ValueError, match="newer geolabel_widgets"):
        LabelStore.open(path)


def test_the_same_image_from_two_places_is_one_image_with_two_sources(store, tmp_path):
    import shutil

    first = write_images(tmp_path / "survey", 3)
    copy = tmp_path / "mirror" / first[1].name
    copy.parent.mkdir()
    shutil.copy(first[1], copy)
    ids = store.add_images(tmp_path / "survey", dataset="survey", progress=False)
    again = store.add_images(copy, dataset="mirror", progress=False)
    original = store.images.loc[ids, "uri"].str.endswith("/" + copy.name)
    assert again == [original[original].index[0]]
    assert store.last_ingest.added == 0 and len(store.images) == 3
    sources = store.sources[store.sources["image_id"] == again[0]]
    assert sorted(sources["dataset"]) == ["mirror", "survey"]
    assert str(copy.absolute()) in set(sources["uri"])
    store.add_images(copy, dataset="mirror", progress=False)  # the same source again
    assert len(store.sources) == 4


def test_an_image_found_again_after_its_file_moved_is_read_from_its_new_place(store,
                                                                              tmp_path):
    [old] = write_images(tmp_path / "before", 1)
    [image_id] = store.add_images(old, dataset="d", progress=False)
    moved = tmp_path / "after" / old.name
    moved.parent.mkdir()
    old.rename(moved)
    assert store.add_images(moved, dataset="d", progress=False) == [image_id]
    assert store.image(image_id)["uri"] == str(moved)  # the old path is gone
    assert sorted(store.sources["uri"]) == sorted([str(old), str(moved)])
    again = tmp_path / "copy" / old.name  # a copy elsewhere: the first place still holds
    again.parent.mkdir()
    again.write_bytes(moved.read_bytes())
    store.add_images(again, dataset="d", progress=False)
    assert store.image(image_id)["uri"] == str(moved)
