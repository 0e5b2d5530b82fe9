"""GeoJSON and GeoParquet: one feature per annotation, in lon/lat, round trips."""

import json

import pytest

from formats_helpers import labeled_store, snapshot
from geolabel_widgets import LabelStore, StoreError
from geolabel_widgets.formats import read_geojson, read_geoparquet, write_geojson, \
    write_geoparquet

FORMATS = {"geojson": (write_geojson, read_geojson, "labels.geojson"),
           "geoparquet": (write_geoparquet, read_geoparquet, "labels.parquet")}


@pytest.mark.parametrize("name", FORMATS)
def test_export_import_export_keeps_every_vector_label(name, tmp_path):
    write, read, file_name = FORMATS[name]
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    first = tmp_path / file_name
    frame = write(store, first)
    assert len(frame) == len(store.annotations) + 1  # and the skipped image's status
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        assert sorted(read(again, first, progress=False)) == sorted(set(ids))
        assert snapshot(again) == snapshot(store)
        assert sorted(again.datasets.index) == ["photos", "scenes"]
        second = tmp_path / ("again_" + file_name)
        write(again, second)
    with LabelStore.open(tmp_path / "c.sqlite") as third:
        read(third, second, progress=False)
        assert snapshot(third) == snapshot(store)
    store.close()


def test_features_are_in_lon_lat_and_tags_take_the_footprint(tmp_path):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    frame = write_geojson(store, tmp_path / "labels.geojson")
    assert frame.crs == "EPSG:4326"
    scene = frame[frame["image"] == "scene_0.tif"]
    water = scene[scene["kind"] == "box"].geometry.iloc[0]
    assert -82 < water.centroid.x < -80 and 27 < water.centroid.y < 28  # UTM 17N, 3000 km N
    tag = scene[scene["kind"] == "tag"].geometry.iloc[0]
    assert tag.equals_exact(store.images.loc[ids[0], "geometry"], 1e-9)
    photo = frame[frame["image"].str.startswith("img_")]
    assert photo.geometry.isna().all() and photo["pixel_wkt"].notna().any()
    store.close()


def test_a_bad_feature_stops_the_import_naming_it_and_writes_nothing(tmp_path):
    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    path = tmp_path / "labels.geojson"
    write_geojson(store, path)
    store.close()
    good = json.loads(path.read_text())
    shape = next(k for k, f in enumerate(good["features"])
                 if f["properties"]["kind"] == "polygon")
    broken = json.loads(path.read_text())
    broken["features"][shape]["properties"]["pixel_wkt"] = "POLYGON ((1 2, 3"
    late = json.loads(path.read_text())  # found only once images and labels are written
    late["features"][-1]["properties"]["status"] = "finished"
    with LabelStore.open(tmp_path / "b.sqlite") as target:
        for data, message in [(broken, f"feature {shape} has a malformed pixel_wkt"),
                              (late, "unknown status 'finished'")]:
            path.write_text(json.dumps(data))
            with pytest.raises(StoreError, match=message):
                read_geojson(target, path, progress=False)
            assert len(target.images) == 0 and len(target.tasks) == 0
            assert len(target.datasets) == 0 and len(target.labelers) == 0
            assert len(target.get_annotations(history=True)) == 0
