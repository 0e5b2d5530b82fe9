"""ImageMap against the naive map, in headless Chromium through JupyterLab.

The naive way is what ``leafmap``'s ``add_gdf`` does: one ipyleaflet ``GeoJSON``
layer with a feature per footprint (styled, SVG renderer). Ours is
``ImageMap(store)``. Both show the same stores of 1k, 10k, 100k and 1M image
footprints (about 1 km chips clustered along real US coasts) at the same centre
and zoom, on a plain background. Measured in the page:

- first render: from asking JupyterLab to run the cell until the footprints are
  drawn: the kernel is idle and the map's paths (SVG) or inked pixels (canvas) have
  not changed for five frames;
- pan: one drag of 400 px in ten steps, from the mouse going down until the map has
  settled the same way, at the view that fits all the data and three zoom levels in.

The naive side is given its GeoDataFrame in an untimed cell; ours reads the
store inside the timed one. The naive layer is not tried past 100k: at 1M its one
GeoJSON message (about 400 MB) crashes the browser driver that measures it. Prints
JSON with the ratios, and the largest size the naive layer finished.

    python benchmarks/map.py [--sizes 1000,10000] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from geolabel_widgets import LabelStore  # noqa: E402
from geolabel_widgets.widgets.footprints import fit_view, grow  # noqa: E402
from geolabel_widgets.widgets.map import ASSUMED_SIZE  # noqa: E402
from tests.browser.harness import (CHROMIUM, CHROMIUM_FLAGS, JupyterLab,  # noqa: E402
                                   NotebookPage, write_notebook)

SIZES = (1_000, 10_000, 100_000, 1_000_000)
NAIVE_MAX = 100_000
TIMEOUT_S = 150
COASTS = (  # lon, lat along real coasts
    ((-124.2, 47.9), (-124.1, 46.5), (-123.9, 45.0), (-124.4, 42.8), (-124.1, 41.0)),
    ((-122.5, 37.8), (-121.9, 36.6), (-120.6, 34.6), (-118.5, 34.0), (-117.2, 32.7)),
    ((-97.2, 27.6), (-94.8, 29.3), (-90.4, 29.1), (-88.0, 30.5), (-85.0, 29.7)),
    ((-82.8, 27.8), (-81.8, 26.1), (-80.1, 26.5), (-80.6, 28.4), (-81.4, 30.4)),
    ((-81.0, 31.5), (-79.0, 33.4), (-75.5, 35.6), (-76.0, 37.0), (-74.0, 40.3)),
    ((-73.5, 40.6), (-71.0, 41.5), (-70.0, 41.8), (-70.6, 42.6), (-68.0, 44.4)),
)
CHIP_DEG = 0.01  # about 1 km
DENSEST = (-80.35, 27.4)  # a stretch of the Florida coast; where the zoomed-in pans happen

# Settled: the kernel is idle and what the map shows has not changed for five frames
# (SVG: its path count; canvas: its inked pixels); needs ink for a first render.
# Returns the page time of the first of those frames.
SETTLED_JS = """async ([needInk, timeout]) => {
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const kernel = () => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const shown = () => {
    const pane = document.querySelector(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .leaflet-overlay-pane');
    if (!pane) return 0;
    let total = pane.querySelectorAll('path').length;
    for (const c of pane.querySelectorAll('canvas')) {
      if (!c.width || !c.height) continue;
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < data.length; i += 16) if (data[i]) total++;
    }
    return total;
  };
  const start = performance.now();
  let last = -1, since = start, same = 0;
  while (performance.now() - start < timeout) {
    await frame();
    const now = shown();
    const idle = kernel().status === 'idle';
    if (now === last && idle && (now > 0 || !needInk)) {
      if (++same >= 5) return since;
    } else {
      if (now !== last || !idle) since = performance.now();
      last = now;
      same = 0;
    }
  }
  return null;
}"""


def footprints(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    coast = rng.integers(len(COASTS), size=n)
    along = rng.random(n)
    lon, lat = np.empty(n), np.empty(n)
    for k, line in enumerate(COASTS):
        mine = coast == k
        points = shapely.line_interpolate_point(shapely.LineString(line), along[mine],
                                                normalized=True)
        lon[mine], lat[mine] = shapely.get_x(points), shapely.get_y(points)
    lon += rng.normal(0, 0.15, n)
    lat += rng.normal(0, 0.15, n)
    boxes = shapely.box(lon, lat, lon + CHIP_DEG, lat + CHIP_DEG)
    return gpd.GeoDataFrame({"path": [f"/archive/chip_{k:06d}.tif" for k in range(n)]},
                            geometry=boxes, crs="EPSG:4326")


def build_store(folder: Path, n: int) -> Path:
    path, part = folder / f"map_{n}.sqlite", folder / f"map_{n}.part.sqlite"
    part.unlink(missing_ok=True)  # a build that was stopped
    with LabelStore.open(part) as store:
        store.add_task("flood", classes=["flooded", "dry"])
        ids = store.add_images(footprints(n), dataset="chips", progress=False)
        labeled = ids[::3]  # a third labeled, so there are colours to show
        for k, image_id in enumerate(labeled[:2000]):
            store.tag(image_id, "flooded" if k % 2 else "dry", task="flood", labeler="bench")
    return part.rename(path)


def ours_cells(store: Path) -> list[str]:
    return [f"from geolabel_widgets import LabelStore, ImageMap\n"
            f"store = LabelStore.open({str(store)!r})",
            "m = ImageMap(store, task='flood', basemap=None, height='600px')\nm",
            "m.map.center, m.map.zoom = [{lat}, {lon}], {zoom}"]


def naive_cells(store: Path, center, zoom: int) -> list[str]:
    return [f"import json\nfrom ipyleaflet import GeoJSON, Map\nfrom geolabel_widgets import "
            f"LabelStore\ngdf = LabelStore.open({str(store)!r}).footprints()",
            f"m = Map(center={list(center)}, zoom={zoom}, layers=(), scroll_wheel_zoom=True,\n"
            "        layout={'height': '600px'})\n"
            "m.add(GeoJSON(data=json.loads(gdf.to_json()), name='footprints',\n"
            "              style={'color': '#3388ff', 'weight': 1, 'fillOpacity': 0.4},\n"
            "              hover_style={'weight': 3}))\nm",
            "m.center, m.zoom = [{lat}, {lon}], {zoom}"]


def run_cell(page, index: int) -> float:
    """Ask JupyterLab to run one cell; returns the page time it was asked at."""
    return page.evaluate("""(index) => {
        const panel = window.jupyterapp.shell.currentWidget;
        panel.content.activeCellIndex = index;
        const start = performance.now();
        window.jupyterapp.commands.execute('notebook:run-cell');
        return start;
    }""", index)


def settled(page, need_ink: bool) -> float | None:
    return page.evaluate(SETTLED_JS, [need_ink, TIMEOUT_S * 1000])


def pan(page) -> float | None:
    """One drag of 400 px in ten steps, until the map has settled; seconds."""
    box = page.locator(".leaflet-container").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    start = page.evaluate("() => performance.now()")
    page.mouse.down()
    page.mouse.move(x - 400, y, steps=10)
    page.mouse.up()
    end = settled(page, need_ink=False)
    return None if end is None else round((end - start) / 1000, 3)


def measure(lab, browser, name: str, cells: list[str], zoomed: dict) -> dict:
    page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
    write_notebook(lab.root / f"{name}.ipynb", cells[:2] + [cells[2].format(**zoomed)])
    notebook = NotebookPage(page, lab, f"{name}.ipynb").open()
    run_cell(page, 0)
    notebook.wait_idle_cell(0, TIMEOUT_S)
    start = run_cell(page, 1)
    first = settled(page, need_ink=True)
    result = {"first_render_s": None if first is None else round((first - start) / 1000, 3)}
    if first is not None:
        page.wait_for_timeout(500)
        result["pan_10_steps_s"] = pan(page)
        run_cell(page, 2)
        notebook.wait_idle_cell(2, TIMEOUT_S)
        settled(page, need_ink=False)
        page.wait_for_timeout(500)
        result["pan_10_steps_zoomed_in_s"] = pan(page)
    errors = notebook.errors()
    if errors:
        result["errors"] = errors[:2]
    page.context.close()
    print(name, result, file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--keep", type=Path, help="build the stores in this folder, and reuse "
                        "those already there (a million takes minutes to build)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    from playwright.sync_api import sync_playwright

    result: dict = {"sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kept = args.keep or folder
        kept.mkdir(parents=True, exist_ok=True)
        stores = {n: (kept / f"map_{n}.sqlite" if (kept / f"map_{n}.sqlite").exists()
                      else build_store(kept, n)) for n in sizes}
        with JupyterLab(folder / "lab") as lab, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_FLAGS)
            for n in sizes:
                with LabelStore.open(stores[n]) as store:
                    extent = store.footprints().total_bounds
                center, zoom = fit_view(grow(tuple(extent), 0.1), ASSUMED_SIZE)
                zoomed = {"lat": DENSEST[1], "lon": DENSEST[0], "zoom": zoom + 3}
                ours = measure(lab, browser, f"ours_{n}", ours_cells(stores[n]), zoomed)
                naive = {"not_run": f"past {NAIVE_MAX:,} footprints"} if n > NAIVE_MAX else \
                    measure(lab, browser, f"naive_{n}", naive_cells(stores[n], center, zoom),
                            zoomed)
                if naive.get("first_render_s"):
                    result["naive_largest_finished"] = n
                entry = {"ours": ours, "naive_geojson_layer": naive}
                for key in ("first_render_s", "pan_10_steps_s", "pan_10_steps_zoomed_in_s"):
                    if ours.get(key) and naive.get(key):
                        entry[f"ratio_naive_over_ours_{key[:-2]}"] = round(naive[key] / ours[key],
                                                                           1)
                result["sizes"][n] = entry
            browser.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
