"""ImageTagger against pigeon and ipyannotations, in headless Chromium through JupyterLab.

Each widget tags the same 30 images of 1024 x 1024 JPEG. The time is measured
inside the page, the same way for all three: from the DOM ``keydown`` (ours) or
the ``mousedown`` on the button (theirs) to the animation frame that first
shows the next image. Ours also runs over 30 16-bit 4-band GeoTIFFs, reports
key -> committed-in-the-store, the drain time (20 presses 100 ms apart: from the
last press to the store holding all 20, read from the store file), and the
kernel-side cost of a tag with 100k images in the store. pigeon-jupyter and ipyannotations are installed for this
benchmark only. Prints JSON with the ratios.

    python benchmarks/tagger.py
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_origin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from geolabel_widgets import demo  # noqa: E402
from tests.browser.harness import (CHROMIUM, CHROMIUM_FLAGS, JupyterLab,  # noqa: E402
                                   NotebookPage, write_notebook)

N = 30
PAUSE_MS = 400  # a labeler looks at each image for a moment

# key -> committed, as the tagger's view measures it once its `timing` is on
SAVED_JS = "() => document.querySelector('.geolabel-tagger').geolabelTimings.saved"

# Start on keydown / mousedown; stop at the frame after a new or changed <img> has loaded.
MEASURE_JS = """() => {
  window.__bench = {times: [], start: null};
  const mark = (e) => { window.__bench.start = e.timeStamp; };
  document.addEventListener('keydown', mark, true);
  document.addEventListener('mousedown', mark, true);
  const done = (img) => {
    const start = window.__bench.start;
    if (start === null) return;
    window.__bench.start = null;
    const finish = () => requestAnimationFrame(() =>
      window.__bench.times.push(performance.now() - start));
    if (img.complete && img.naturalWidth) finish(); else img.addEventListener('load', finish, {once: true});
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes' && m.target.tagName === 'IMG') return done(m.target);
      for (const node of m.addedNodes) {
        const img = node.tagName === 'IMG' ? node : node.querySelector && node.querySelector('img');
        if (img) return done(img);
      }
    }
  }).observe(document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook'), {subtree: true, childList: true, attributes: true,
                             attributeFilter: ['src']});
}"""


def ensure(package: str, module: str) -> None:
    if importlib.util.find_spec(module) is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)


def make_images(folder: Path) -> tuple[list[Path], list[Path]]:
    rng = np.random.default_rng(0)
    jpegs, tiffs = [], []
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(N):
        rgb, _ = demo.coastal_scene(rng, 1024)
        jpegs.append(folder / f"scene_{k:02d}.jpg")
        Image.fromarray(rgb).save(jpegs[-1], quality=90)
        tiffs.append(folder / f"scene_{k:02d}.tif")
        bands = np.concatenate([np.moveaxis(rgb, -1, 0), rgb[None, ..., 1]]).astype(np.uint16)
        with rasterio.open(tiffs[-1], "w", driver="GTiff", width=1024, height=1024, count=4,
                           dtype="uint16", crs="EPSG:32617", tiled=True, compress="deflate",
                           transform=from_origin(500000 + k * 10240, 3000000, 10, 10)) as dst:
            dst.write(bands * 12 + 300)
    return jpegs, tiffs


def summary(times: list[float]) -> dict:
    values = np.array(times)
    return {"n": len(values), "median_ms": round(float(np.median(values)), 1),
            "p90_ms": round(float(np.percentile(values, 90)), 1),
            "p95_ms": round(float(np.percentile(values, 95)), 1)}


def run_widget(lab, page, name: str, cells: list[str], press) -> list[float]:
    write_notebook(lab.root / f"{name}.ipynb", cells)
    notebook = NotebookPage(page, lab, f"{name}.ipynb").open().run_all()
    page.wait_for_selector(".jp-OutputArea-output img", state="visible", timeout=60_000)
    page.wait_for_timeout(1500)  # let the widget settle (and prefetch, for ours)
    page.locator(".jp-OutputArea-output img").first.click()  # as a person would, to begin
    page.evaluate(MEASURE_JS)
    for k in range(N - 1):
        press(page)
        page.wait_for_function("(k) => window.__bench.times.length > k", arg=k, timeout=15_000)
        page.wait_for_timeout(PAUSE_MS)
    assert notebook.errors() == [], notebook.errors()
    times = page.evaluate("() => window.__bench.times")
    print(name, summary(times), file=sys.stderr)
    return times


def drain(lab, page, paths: list[Path], store_path: Path, presses: int = 20) -> dict:
    """Presses 100 ms apart, then how long until the store holds every one of them."""
    from geolabel_widgets import LabelStore

    write_notebook(lab.root / "drain.ipynb", ours(paths, store_path))
    NotebookPage(page, lab, "drain.ipynb").open().run_all()
    page.wait_for_selector(".geolabel-tagger .gl-image", state="visible", timeout=60_000)
    page.wait_for_timeout(1500)
    page.locator(".geolabel-tagger .gl-image").click()
    for _ in range(presses):
        page.keyboard.press("1")
        time.sleep(0.1)
    last = time.perf_counter() - 0.1
    with LabelStore.open(store_path) as store:
        while len(store.get_annotations(task="plume")) < presses:
            time.sleep(0.01)
    drained = (time.perf_counter() - last) * 1000
    saved = page.evaluate(SAVED_JS)
    return {"presses": presses, "interval_ms": 100, "drain_ms": round(drained, 1),
            "key_to_committed": summary(saved)}


def ours(paths: list[Path], store_path: Path) -> list[str]:
    return ["from geolabel_widgets import LabelStore, ImageTagger",
            f"store = LabelStore.open({str(store_path)!r})\n"
            f"store.add_images({[str(p) for p in paths]!r}, dataset='bench', progress=False)\n"
            "tagger = ImageTagger(store, task='plume', labeler='bench', display_size=1024)\n"
            "tagger.timing = True  # before it is shown: its views keep their timings\n"
            "tagger"]


def pigeon(paths: list[Path]) -> list[str]:
    return ["from IPython.display import Image, display\nfrom pigeon import annotate",
            f"labels = annotate({[str(p) for p in paths]!r}, options=['present', 'not present'],\n"
            "                  display_fn=lambda p: display(Image(filename=p, width=1024)))"]


def ipyannotations(paths: list[Path]) -> list[str]:
    return ["from ipyannotations.images import ClassLabeller",
            f"paths = iter({[str(p) for p in paths]!r})\nlabels = []\n"
            "widget = ClassLabeller(options=['present', 'not present'], allow_freetext=False)\n"
            "def next_image(label):\n    labels.append(label)\n    widget.display(next(paths))\n"
            "widget.on_submit(next_image)\nwidget.display(next(paths))\nwidget"]


def kernel_cost_at_scale(folder: Path, paths: list[Path]) -> dict:
    """store.tag plus the tagger's reply and next window, with 100k images in the store."""
    import geopandas as gpd

    from geolabel_widgets import ImageTagger, LabelStore

    store = LabelStore.open(folder / "scale.sqlite")
    store.add_images([str(p) for p in paths], dataset="bench", progress=False)
    rest = gpd.GeoDataFrame({"path": [f"/archive/{k}.tif" for k in range(100_000 - len(paths))]})
    store.add_images(rest, dataset="archive")
    tagger = ImageTagger(store, task="plume", labeler="bench", dataset="bench")
    tagger.send = lambda content, buffers=None: None
    tagger._on_message(tagger, {"type": "need", "position": 0, "have": []}, [])
    times = []
    for k, image_id in enumerate(tagger.queue[:-1]):
        time.sleep(0.05)  # the prefetch thread works while the labeler looks
        start = time.perf_counter()
        tagger._on_message(tagger, {"type": "tag", "image_id": image_id, "value": "present",
                                    "req": k}, [])
        tagger._on_message(tagger, {"type": "need", "position": k + 1,
                                    "have": tagger.queue[:k + 1 + 8]}, [])
        tagger.flush()  # the tag is written on the tagger's writer thread
        times.append((time.perf_counter() - start) * 1000)
    images = len(store.images)
    tagger.close()
    return {"images_in_store": images, **summary(times)}


def main() -> None:
    ensure("pigeon-jupyter", "pigeon")
    ensure("ipyannotations", "ipyannotations")
    from playwright.sync_api import sync_playwright

    result: dict = {"images": N, "pause_between_images_ms": PAUSE_MS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jpegs, tiffs = make_images(folder / "images")
        with JupyterLab(folder / "lab") as lab, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_FLAGS)

            def fresh_page():
                return browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()

            page = fresh_page()
            times = run_widget(lab, page, "ours_jpeg", ours(jpegs, folder / "a.sqlite"),
                               lambda p: p.keyboard.press("1"))
            result["ours_jpeg"] = summary(times)
            result["ours_key_to_saved"] = summary(
                page.evaluate(SAVED_JS))
            result["ours_drain"] = drain(lab, fresh_page(), jpegs, folder / "d.sqlite")
            page = fresh_page()
            result["ours_geotiff_16bit_4band"] = summary(run_widget(
                lab, page, "ours_tiff", ours(tiffs, folder / "b.sqlite"),
                lambda p: p.keyboard.press("1")))
            page = fresh_page()
            result["pigeon"] = summary(run_widget(
                lab, page, "pigeon", pigeon(jpegs),
                lambda p: p.get_by_role("button", name="present", exact=True).click()))
            page = fresh_page()
            result["ipyannotations"] = summary(run_widget(
                lab, page, "ipyannotations", ipyannotations(jpegs),
                lambda p: p.get_by_role("button", name="present", exact=True).click()))
            browser.close()
        result["kernel_side_tag_with_100k_images"] = kernel_cost_at_scale(folder, jpegs)
    ours_median = result["ours_jpeg"]["median_ms"]
    result["ratio_pigeon_over_ours_median"] = round(result["pigeon"]["median_ms"] / ours_median, 1)
    result["ratio_ipyannotations_over_ours_median"] = round(
        result["ipyannotations"]["median_ms"] / ours_median, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
