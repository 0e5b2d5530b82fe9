"""The newcomer's path: the quickstart, run in JupyterLab, then labels added by hand."""

import time
from pathlib import Path

from geolabel_widgets import LabelStore

from .harness import copy_notebook

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "00_quickstart.ipynb"


def _wait_for(path: Path, check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        with LabelStore.open(path) as store:
            annotations = store.annotations
        if check(annotations) or time.monotonic() > deadline:
            return annotations
        time.sleep(0.2)


def test_from_nothing_to_a_labeled_dataset_by_hand(lab, open_notebook, screenshots):
    copy_notebook(QUICKSTART, lab.root)
    notebook = open_notebook(QUICKSTART.name).run_all(timeout=600)
    page = notebook.page
    assert notebook.wait_widgets() == [] and notebook.errors() == []
    store_path = lab.root / "quickstart.sqlite"

    # the tagger opens on the first image the script left untagged: press 2 there
    tagger = page.locator(".geolabel-tagger")
    tagger.locator(".gl-image").click()
    page.keyboard.press("2")
    page.wait_for_function(
        "() => document.querySelector('.geolabel-tagger').dataset.pending === '0'"
        " && document.querySelector('.geolabel-tagger .gl-position').textContent"
        ".startsWith('5')")

    # a second polygon on the canvas, as a person draws one: p, four clicks, Enter
    layers = page.locator(".geolabel-layers")
    layers.scroll_into_view_if_needed()
    box = layers.bounding_box()
    scale = box["width"] / 256  # the scene is 256 px across

    def at(x, y):
        return box["x"] + x * scale, box["y"] + y * scale

    page.mouse.move(*at(128, 128))  # keys go to the canvas under the mouse
    page.keyboard.press("p")
    page.keyboard.press("3")  # sand
    for point in [(150, 20), (230, 20), (230, 100), (150, 100)]:
        page.mouse.click(*at(*point))
        page.wait_for_timeout(120)
    page.keyboard.press("Enter")

    labels = _wait_for(store_path, lambda a: (a["kind"] == "polygon").sum() == 2)
    notebook.screenshot(screenshots / "quickstart_by_hand.png")
    tags = labels[labels["kind"] == "tag"].sort_values("created_at")
    assert tags["value"].tolist() == ["present", "not present", "present", "not present"]
    polygons = labels[labels["kind"] == "polygon"].set_index("value")
    assert sorted(polygons.index) == ["sand", "water"]
    sand = polygons.loc["sand"]
    assert abs(sand["geometry"].area - 80 * 80) < 0.05 * 80 * 80
    assert sand["world_geometry"] is not None and sand["world_geometry"].is_valid
    assert set(labels["labeler"]) == {"you"}
