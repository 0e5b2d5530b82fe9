"""LabelingApp's map in a real JupyterLab: footprints where their georeference says, hover,
popup, a drawn rectangle that becomes the queue, and a tag that recolours its footprint.

No tile server is reachable (the basemap points at a closed port), so this is also the
offline case: footprints on a plain background.
"""

import io
import time

import numpy as np
import pytest
import rasterio
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_origin

from geolabel_widgets import LabelStore, demo

from .harness import write_notebook

UTM = "EPSG:6347"  # the real GeoTIFF's CRS: NAD83(2011) / UTM zone 18N
ZOOM = 15
GRID = (4, 3)  # synthetic scenes east of the real GeoTIFF, columns x rows
SCENE_PX, SCENE_M, STEP_M = 64, 2.0, 200.0  # 128 m scenes, 200 m apart
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"
HALF_WORLD = 20037508.342789244
TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
TO_LONLAT = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)


@pytest.fixture
def map_store(tmp_path, shared_data):
    real = shared_data / "imagery" / "examplegeotiff.tif"
    with rasterio.open(real) as src:
        left, top, right, bottom = (src.bounds.left, src.bounds.top, src.bounds.right,
                                    src.bounds.bottom)
    rng = np.random.default_rng(5)
    scenes, corners = tmp_path / "scenes", {}
    scenes.mkdir()
    for col in range(GRID[0]):
        for row in range(GRID[1]):
            x0, y0 = right + 100 + col * STEP_M, top - row * STEP_M
            rgb, _ = demo.coastal_scene(rng, SCENE_PX)
            path = scenes / f"scene_c{col}_r{row}.tif"
            with rasterio.open(path, "w", driver="GTiff", width=SCENE_PX, height=SCENE_PX,
                               count=3, dtype="uint8", crs=UTM,
                               transform=from_origin(x0, y0, SCENE_M, SCENE_M)) as dst:
                dst.write(np.moveaxis(rgb, -1, 0))
            corners[path.name] = (x0, y0 - SCENE_PX * SCENE_M, x0 + SCENE_PX * SCENE_M, y0)
    path = tmp_path / "map.sqlite"
    with LabelStore.open(path) as store:
        store.add_task("flood", classes=["flooded", "dry"])
        store.add_images(real, dataset="real", progress=False)
        store.add_images(sorted(scenes.glob("*.tif")), dataset="synthetic scenes",
                         progress=False)
    return path, (left, bottom, right, top), corners


def lonlat(x, y):
    return TO_LONLAT.transform(x, y)


class MapView:
    """Lon/lat <-> page pixels for a Leaflet map centred on ``center`` at ``zoom``:
    Web Mercator worked out here, independently of the package."""

    def __init__(self, box: dict, center: tuple[float, float], zoom: int):
        self.box, self.scale = box, 256 * 2 ** zoom / (2 * HALF_WORLD)
        self.cx, self.cy = TO_MERCATOR.transform(center[1], center[0])

    def pixel(self, lon, lat):
        x, y = TO_MERCATOR.transform(lon, lat)
        return (self.box["x"] + self.box["width"] / 2 + (x - self.cx) * self.scale,
                self.box["y"] + self.box["height"] / 2 - (y - self.cy) * self.scale)

    def lonlat(self, px, py):
        x = self.cx + (px - self.box["x"] - self.box["width"] / 2) / self.scale
        y = self.cy - (py - self.box["y"] - self.box["height"] / 2) / self.scale
        return TO_MERCATOR.transform(x, y, direction="INVERSE")


def grab(page) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)


def is_background(rgb) -> bool:  # Leaflet's plain #ddd
    return all(abs(int(c) - 221) <= 6 for c in rgb)


def tags(path) -> dict:
    with LabelStore.open(path) as store:
        frame = store.get_annotations(task="flood", kinds=["tag"])
        names = store.images["name"]
    return {names[i]: v for i, v in zip(frame["image_id"], frame["value"])}


def wait_for(check, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_map_places_selects_pops_up_and_recolours(lab, open_notebook, page, map_store,
                                                   screenshots):
    path, (left, bottom, right, top), corners = map_store
    center_x = (left + right + 100 + GRID[0] * STEP_M) / 2
    center_lon, center_lat = lonlat(center_x, top - STEP_M)
    page.set_viewport_size({"width": 1600, "height": 1100})
    write_notebook(lab.root / "map.ipynb", [
        "from geolabel_widgets import LabelStore, LabelingApp",
        f"store = LabelStore.open({str(path)!r})\n"
        f"app = LabelingApp(store, task='flood', labeler='ann', display_size=256,\n"
        f"                  basemap={UNREACHABLE_TILES!r}, map_height='520px')\n"
        f"app.map.map.center, app.map.map.zoom = [{center_lat}, {center_lon}], {ZOOM}\n"
        "app",
    ])
    notebook = open_notebook("map.ipynb").run_all()
    container = page.locator(".geolabel-map .leaflet-container")
    container.wait_for(state="visible", timeout=30_000)
    container.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    view = MapView(container.bounding_box(), (center_lat, center_lon), ZOOM)
    assert notebook.errors() == [] and notebook.widget_problems() == []

    # 1. the real GeoTIFF's footprint lies where its CRS and transform put it: along a
    # line through its middle, paint starts and ends within 2 px of its projected edges
    mid_y = (top + bottom) / 2
    x_left, y_mid = view.pixel(*lonlat(left, mid_y))
    x_right, _ = view.pixel(*lonlat(right, mid_y))
    assert x_right - x_left > 60  # big enough to measure
    page.mouse.move(5, 5)  # no hover style in the way
    pixels = grab(page)
    row = pixels[round(y_mid)]
    painted = [x for x in range(round(x_left) - 15, round(x_right) + 15)
               if not is_background(row[x])]
    assert abs(painted[0] - x_left) <= 2 and abs(painted[-1] - x_right) <= 2, \
        (painted[0], x_left, painted[-1], x_right)
    inside = (round((x_left + x_right) / 2), round(y_mid))
    grey_before = pixels[inside[1], inside[0]]
    assert abs(grey_before[0] - grey_before[1]) < 8  # unlabeled: grey
    screenshots.joinpath("map_app_before.png").write_bytes(page.screenshot())

    # 2. hover names it
    page.mouse.move(*inside)
    hover = page.locator(".geolabel-map .leaflet-control", has_text="examplegeotiff.tif")
    hover.wait_for(timeout=10_000)

    # 3. the tagger shows the GeoTIFF (first in the queue); tagging it recolours it
    tagger = page.locator(".geolabel-tagger")
    assert "examplegeotiff.tif" in tagger.inner_text()
    tagger.locator("img").first.click()
    page.keyboard.press("1")
    wait_for(lambda: tags(path).get("examplegeotiff.tif") == "flooded")
    page.mouse.move(5, 5)

    def green():
        r, g, b = grab(page)[inside[1], inside[0]]
        return g > r + 20 and g > b + 20

    wait_for(green, timeout=10)

    # 4. a rectangle drawn over the first two columns of scenes becomes the queue
    page.locator(".leaflet-draw-draw-rectangle").click()
    gap = STEP_M - SCENE_PX * SCENE_M  # between scenes
    west_x, north_y = right + 100 - gap / 2, top + gap / 2
    east_x, south_y = west_x + 2 * STEP_M, north_y - 2 * STEP_M  # in the next gaps
    a = view.pixel(*lonlat(west_x, north_y))
    b = view.pixel(*lonlat(east_x, south_y))
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, steps=4)
    page.mouse.move(*b, steps=4)
    page.mouse.up()
    west, north = view.lonlat(*a)
    east, south = view.lonlat(*b)
    expected = sorted(name for name, (x0, y0, x1, y1) in corners.items()
                      if _meets((x0, y0, x1, y1), (west, south, east, north)))
    assert len(expected) == 4, expected  # two columns, two rows
    header = tagger.locator(".gl-position")
    wait_for(lambda: header.inner_text().endswith(f"/ {len(expected)}"))
    screenshots.joinpath("map_selection.png").write_bytes(page.screenshot())
    shown = tagger.inner_text()
    first = next(name for name in expected if name in shown)
    tagger.locator("img").first.click()
    page.keyboard.press("2")
    wait_for(lambda: tags(path).get(first) == "dry")

    # 5. a click on a footprint opens its popup: thumbnail, metadata and labels (the
    # popup pans the map into view, so this comes last)
    page.mouse.move(*inside)
    page.mouse.click(*inside)
    popup = page.locator(".leaflet-popup .geolabel-popup")
    popup.wait_for(timeout=15_000)
    assert "examplegeotiff.tif" in popup.inner_text()
    popup.locator("img").wait_for(timeout=10_000)
    page.wait_for_timeout(500)  # Leaflet fades a popup in
    screenshots.joinpath("map_popup.png").write_bytes(page.screenshot())

    assert "flooded" in popup.inner_text()  # its label

    # 6. "show on map" lays the image itself over its footprint
    popup.get_by_role("button", name="show on map").click()
    page.locator(".geolabel-map img.leaflet-image-layer").wait_for(timeout=15_000)
    page.wait_for_timeout(500)
    screenshots.joinpath("map_overlay.png").write_bytes(page.screenshot())
    assert notebook.errors() == []


def _meets(utm_box, lonlat_box) -> bool:
    x0, y0, x1, y1 = utm_box
    lons, lats = TO_LONLAT.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
    west, south, east, north = lonlat_box
    return min(lons) <= east and max(lons) >= west and min(lats) <= north and max(lats) >= south
