"""ImageMap and LabelingApp in the kernel: what is sent, at what scale, and how it follows
the store. The browser tests (tests/browser/test_map.py) check what is drawn."""

import gc
import io
import json
import sys
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from PIL import Image
from pyproj import Transformer
from rasterio.warp import transform_bounds

from conftest import copy_demo
from geolabel_widgets import ImageMap, LabelStore, LabelingApp, demo
from geolabel_widgets.imagery.overlay import web_mercator_png
from geolabel_widgets.widgets.footprints import view_box
from geolabel_widgets.widgets import map as map_module
from geolabel_widgets.widgets.map import CHUNK, STATUS_COLORS


def catalogue(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` chips of 0.01 degree in a 4 x 2 degree patch of the Carolina coast."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-78, -74, n), rng.uniform(34, 36, n)
    return gpd.GeoDataFrame({"path": [f"/archive/chip_{k:06d}.tif" for k in range(n)]},
                            geometry=shapely.box(lon, lat, lon + 0.01, lat + 0.01),
                            crs="EPSG:4326")


@pytest.fixture(scope="module")
def demo_store(demo_path, tmp_path_factory):
    """One copy of the demo store for the module; its tests only read it or label as
    labeler 'zoe'."""
    with LabelStore.open(copy_demo(demo_path, tmp_path_factory.mktemp("demo"))) as opened:
        yield opened


@pytest.fixture
def chips(store):
    store.add_task("flood", classes=["flooded", "dry"])
    ids = store.add_images(catalogue(20_000), dataset="chips", progress=False)
    return store, ids


def sent(widget) -> int:
    """Bytes of GeoJSON the map's layers hold (what went to the browser)."""
    layers = [widget._cells, *widget._pieces]
    return sum(len(json.dumps(layer.data)) for layer in layers)


def features(widget) -> list[dict]:
    return [f for piece in widget._pieces for f in piece.data["features"]]


def test_the_store_tells_listeners_of_committed_changes_only(store, tmp_path):
    store.add_task("flood", classes=["flooded", "dry"])
    ids = store.add_images(catalogue(3), dataset="chips", progress=False)
    heard = []

    class Widget:
        def on_change(self, changes):
            heard.append(changes)

    widget = Widget()
    store.subscribe(widget.on_change)
    store.tag(ids[0], "dry", task="flood", labeler="ann")
    assert heard == [[("flood", ids[0])]]
    with pytest.raises(Exception):
        store.tag("no-such-image", "dry", task="flood", labeler="ann")
    store.undo(task="flood", labeler="ann")
    assert heard[-1] == [("flood", ids[0])] and len(heard) == 2  # the failed write said nothing
    del widget
    gc.collect()
    store.tag(ids[1], "dry", task="flood", labeler="ann")  # a gone widget is not called
    assert len(heard) == 2


def test_image_states_status_main_class_and_labeler(store):
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    store.add_task("flood", classes=["flooded", "dry"])
    a, b, c, d = store.add_images(catalogue(4), dataset="chips", progress=False)
    store.tag(a, "dry", task="flood", labeler="ann")
    store.tag(a, "flooded", task="flood", labeler="ben")
    store.skip(b, task="flood", labeler="ann")
    mask = np.zeros((10, 10), np.uint8)
    mask[:3] = 1  # 30 sand, 70 water
    store.add_mask(c, mask, task="cover", labeler="cy")
    store.annotate(d, shapely.box(0, 0, 1, 1), "sand", task="cover", labeler="cy")

    states = store.image_states("flood")
    assert states.loc[a, "status"] == "labeled" and states.loc[a, "labeler"] == "ben"
    assert states.loc[b, "status"] == "skipped" and c not in states.index
    assert store.image_states("flood", "ann").loc[a, "class"] == "dry"
    cover = store.image_states("cover")
    assert cover.loc[c, "class"] == "water" and cover.loc[c, "status"] == "labeled"
    assert cover.loc[d, "class"] == "sand" and cover.loc[d, "status"] == "in_progress"


def test_a_task_of_a_dataset_group_maps_only_its_images(demo_store):
    store = demo_store
    assert len(store.footprints()) == 300
    event = store.footprints(demo.EVENT_TASK)
    assert len(event) == 60 and set(event["dataset"]) == {demo.EVENT.name}
    widget = ImageMap(store, task=demo.EVENT_TASK, basemap=None)
    assert len(widget.index) == 60
    widget.close()


def test_many_images_in_view_are_sent_as_counts_per_cell(chips):
    store, ids = chips
    widget = ImageMap(store, task="flood", basemap=None)
    cells = widget._cells.data["features"]
    assert cells and not features(widget)
    assert sum(f["properties"]["count"] for f in cells) == 20_000
    assert sent(widget) < 1_000_000  # naive GeoJSON of 20k footprints is about 4 MB
    widget.close()


def test_a_large_store_is_drawn_from_its_centres_before_its_footprints_are_read(
        chips, monkeypatch):
    """Above BACKGROUND_ABOVE images, the first view's counts per cell come from the
    centres alone; what needs footprints (zooming in, a drawn area) waits for them."""
    store, ids = chips
    store.tag(ids[0], "dry", task="flood", labeler="ann")
    monkeypatch.setattr(map_module, "BACKGROUND_ABOVE", 10_000)
    release = threading.Event()
    read = store.footprints

    def slow_footprints(task=None):
        assert release.wait(30), "the map waited for the footprints before drawing"
        return read(task)

    monkeypatch.setattr(store, "footprints", slow_footprints)
    widget = ImageMap(store, task="flood", basemap=None)  # returns with the read still held
    cells = widget._cells.data["features"]
    assert not widget.index.ready and not features(widget)
    assert sum(f["properties"]["count"] for f in cells) == 20_000
    assert "labeled <span style='color:#666'>1</span>" in widget._info.value
    release.set()
    box = view_box((35.0, -76.0), 11, (900, 520), 0.5)
    widget._render(box, 11)  # zoomed in: footprints, once read
    expected = catalogue(20_000).set_index(np.array(ids)).cx[box[0]:box[2], box[1]:box[3]]
    assert widget.index.ready and {f["id"] for f in features(widget)} == set(expected.index)
    widget.close()


def test_zoomed_in_the_footprints_in_view_are_sent_in_pieces(chips):
    store, ids = chips
    widget = ImageMap(store, task="flood", basemap=None)
    center, zoom = (35.0, -76.0), 11
    box = view_box(center, zoom, (900, 520), 0.5)
    widget._render(box, zoom)
    shown = features(widget)
    expected = catalogue(20_000).set_index(np.array(ids)).cx[box[0]:box[2], box[1]:box[3]]
    assert {f["id"] for f in shown} == set(expected.index)
    assert 0 < len(shown) <= widget.max_footprints and not widget._cells.data["features"]
    assert all(len(p.data["features"]) <= CHUNK for p in widget._pieces)
    # each footprint still lies where the store says, to a fraction of a pixel
    one = shown[0]
    footprint = expected.geometry[one["id"]]
    drawn = shapely.geometry.shape(one["geometry"])
    pixel = 360 / (256 * 2 ** zoom)
    assert drawn.hausdorff_distance(footprint) < pixel
    widget.close()


def test_a_tag_recolours_one_piece_not_the_layer(chips):
    store, ids = chips
    widget = ImageMap(store, task="flood", basemap=None)
    widget._render(view_box((35.0, -76.0), 11, (900, 520), 0.5), 11)
    target = features(widget)[CHUNK + 3]["id"]  # in the second piece
    changed = []
    for k, piece in enumerate(widget._pieces):
        piece.observe(lambda _, k=k: changed.append(k), "data")
    store.tag(target, "flooded", task="flood", labeler="ann")
    assert changed == [1]
    feature = next(f for f in features(widget) if f["id"] == target)
    assert feature["properties"]["style"]["fillColor"] == STATUS_COLORS["labeled"]
    assert "flooded" in feature["properties"]["label"]
    assert "labeled</span>" not in widget._info.value  # the legend counts it
    assert "labeled <span style='color:#666'>1</span>" in widget._info.value
    widget.color_by = "class"
    assert "flooded <span style='color:#666'>1</span>" in widget._info.value
    widget.close()


def test_a_drawn_area_selects_the_images_it_meets(chips):
    store, ids = chips
    widget = ImageMap(store, task="flood", basemap=None)
    area = shapely.Polygon([(-77, 34.5), (-76, 34.5), (-76.5, 35.2)])
    selected = widget.select_area(area)
    frame = catalogue(20_000).set_index(np.array(ids))
    expected = [i for i, g in frame.geometry.items() if g.intersects(area)]
    assert selected == expected and widget.selection == expected
    assert widget._area.data["geometry"]["type"] == "Polygon"
    widget.clear_selection()
    assert widget.selection == []
    widget.close()


def test_popup_shows_thumbnail_metadata_and_labels(demo_store):
    store = demo_store
    widget = ImageMap(store, task=demo.SEGMENTATION_TASK, basemap=None)
    labeled = store.image_states(demo.SEGMENTATION_TASK).index[0]
    popup = widget.open_popup(labeled)
    thumbnail, details, buttons = popup.child.children
    assert thumbnail.value[:2] == b"\xff\xd8"  # a JPEG
    assert store.image(labeled)["name"] in details.value and "mask" in details.value
    buttons.children[0].value = True  # "selected"
    assert widget.selection == [labeled]
    widget.close()


def test_overlay_of_the_real_geotiff_lies_where_its_georeference_says(store, shared_data):
    path = shared_data / "imagery" / "examplegeotiff.tif"
    (image_id,) = store.add_images(path, dataset="real", progress=False)
    widget = ImageMap(store, basemap=None)
    overlay = widget.show_image(image_id)
    with rasterio.open(path) as src:
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        png, bounds = web_mercator_png(path, src.crs.to_wkt(), list(src.transform)[:6],
                                       src.width, src.height)
    (s, w), (n, e) = overlay.bounds
    metre = 1 / 111_000
    assert abs(s - south) < 2 * metre and abs(n - north) < 2 * metre
    assert abs(w - west) < 3 * metre and abs(e - east) < 3 * metre
    rgba = np.asarray(Image.open(io.BytesIO(png)))
    assert rgba.shape[2] == 4 and rgba[..., 3].mean() > 200  # mostly image, little margin
    # the footprint the map draws is the store's, which is the GeoTIFF's own
    footprint = widget.index.geometry[0]
    to_lonlat = Transformer.from_crs("EPSG:6347", "EPSG:4326", always_xy=True)
    corner = shapely.Point(to_lonlat.transform(394500.0, 3871680.0))
    assert footprint.exterior.distance(corner) < metre
    widget.close()


def test_an_image_without_georeference_cannot_be_overlaid(store, tmp_path):
    Image.new("RGB", (20, 10)).save(tmp_path / "plain.png")
    frame = gpd.GeoDataFrame({"path": [str(tmp_path / "plain.png")]},
                             geometry=[shapely.box(-76, 35, -75.99, 35.01)], crs="EPSG:4326")
    (image_id,) = store.add_images(frame, dataset="plain", progress=False)
    widget = ImageMap(store, basemap=None)
    with pytest.raises(ValueError, match="not georeferenced"):
        widget.show_image(image_id)
    widget.close()


def test_refresh_reads_images_added_since(store):
    widget = ImageMap(store, basemap=None)
    store.add_images(catalogue(5), dataset="later", progress=False)
    assert len(widget.index) == 0
    widget.refresh()
    assert len(widget.index) == 5 and len(features(widget)) == 5
    assert "5 images" in widget._status.value
    widget.close()


def test_an_empty_store_gives_an_empty_map(store):
    widget = ImageMap(store, basemap=None)
    assert len(widget.index) == 0 and not features(widget)
    assert "0 images" in widget._status.value
    widget.close()


def test_app_links_selection_clicks_and_the_current_image(demo_store):
    store = demo_store
    app = LabelingApp(store, task=demo.EVENT_TASK, labeler="zoe", basemap=None)
    tagger, widget = app.labeler_widget, app.map
    assert widget.current == tagger.current
    first_queue = tagger.queue
    widget.select_area(widget.index.geometry[5].buffer(0.01))
    assert tagger.queue == widget.selection and 1 <= len(tagger.queue) < len(first_queue)
    # only the selection's rows were read, and they are the store's rows
    pd.testing.assert_frame_equal(tagger._images, store.images.reindex(tagger.queue))
    assert widget.current == tagger.current
    # a click on a footprint outside the queue puts it next in the queue and shows it
    outside = next(i for i in widget.index.ids if i not in set(tagger.queue))
    widget._on_click(properties={"image_id": outside, "name": "x", "label": ""},
                     coordinates=[29.0, -90.0])
    assert tagger.current == outside and widget.current == outside
    assert tagger.queue[tagger.position] == outside
    tagger.position = 0
    assert widget.current == tagger.queue[0]
    widget.clear_selection()
    assert tagger.queue == first_queue
    app.close()


def test_app_in_draw_mode_follows_the_canvas(demo_store):
    app = LabelingApp(demo_store, task=demo.SEGMENTATION_TASK, labeler="zoe", mode="draw",
                      basemap=None, display_size=256)
    canvas = app.labeler_widget
    canvas.next()
    assert app.map.current == canvas.current == canvas.queue[1]
    chosen = app.map.select_area(app.map.index.geometry[7].buffer(0.001))
    assert canvas.queue == chosen and canvas.current in chosen
    assert app.map.current == canvas.current
    app.close()


def test_the_basemap_is_configurable_and_optional(store, monkeypatch):
    from ipyleaflet import TileLayer

    plain = ImageMap(store, basemap=None)
    assert not [layer for layer in plain.map.layers if isinstance(layer, TileLayer)]
    own = ImageMap(store, basemap="https://tiles.example.org/{z}/{x}/{y}.png")
    (tiles,) = [layer for layer in own.map.layers if isinstance(layer, TileLayer)]
    assert tiles.url == "https://tiles.example.org/{z}/{x}/{y}.png" and tiles.base
    monkeypatch.setenv("GEOLABEL_BASEMAP", "none")  # an air-gapped site says so once
    assert not [layer for layer in ImageMap(store).map.layers if isinstance(layer, TileLayer)]
    monkeypatch.delenv("GEOLABEL_BASEMAP")
    (osm,) = [layer for layer in ImageMap(store).map.layers if isinstance(layer, TileLayer)]
    assert "openstreetmap" in osm.url


def test_bad_arguments_are_clear_errors_and_leave_nothing_behind(store, monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(ValueError, match="no task named 'missing'"):
        ImageMap(store, task="missing", basemap=None)
    with pytest.raises(ValueError, match="color_by is one of status"):
        ImageMap(store, color_by="colour", basemap=None)
    with pytest.raises(ValueError, match="mode is one of"):
        LabelingApp(store, task="flood", labeler="ann", mode="paint")
    with pytest.raises(ValueError, match="color_by is one of status"):
        LabelingApp(store, task="flood", labeler="ann", color_by="colour", basemap=None)
    gc.collect()
    assert unraisable == []  # a half-made map closes quietly when collected


def test_a_view_wider_than_the_world_is_the_whole_world():
    west, south, east, north = view_box((0.0, 0.0), 1, (900, 520), 0.5)
    assert (west, east) == (-180.0, 180.0) and south < -85 and north > 85
    assert view_box((35.0, -76.0), 11, (900, 520))[0] < -76.0 < view_box(
        (35.0, -76.0), 11, (900, 520))[2]


def test_the_map_colours_by_a_models_class_confidence_and_agreement(chips):
    store, ids = chips
    store.add_predictions(pd.DataFrame({"image_id": ids[:3], "value": ["flooded", "dry", "dry"],
                                        "score": [0.95, 0.6, 0.3]}),
                          task="flood", model="net")
    store.tag(ids[0], "flooded", task="flood", labeler="ann")
    store.tag(ids[1], "flooded", task="flood", labeler="ann")
    widget = ImageMap(store, task="flood", basemap=None, color_by="prediction")
    assert "flooded <span style='color:#666'>1</span>" in widget._info.value
    assert "dry <span style='color:#666'>2</span>" in widget._info.value
    widget.color_by = "confidence"
    for legend in ("90% or more", "50 to 70%", "under 50%"):
        assert f"{legend} <span style='color:#666'>1</span>" in widget._info.value
    widget.color_by = "agreement"
    for legend in ("agrees", "disagrees", "not labeled yet"):
        assert f"{legend} <span style='color:#666'>1</span>" in widget._info.value
    store.tag(ids[2], "dry", task="flood", labeler="ann")  # recoloured as it is written
    assert "agrees <span style='color:#666'>2</span>" in widget._info.value
    assert f"no prediction <span style='color:#666'>{len(ids) - 3:,}" in widget._info.value
    widget.close()
