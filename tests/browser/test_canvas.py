"""CanvasLabeler in a real JupyterLab: shapes drawn with the mouse, checked in the store."""

import time

import numpy as np
import pytest
from PIL import Image

from geolabel_widgets import LabelStore, demo

from .harness import write_notebook

TASK = "cover"
CLASSES = ["water", "surf", "sand", "vegetation", "buildings"]
SCALE = 2  # a 256 px scene on a 512 px canvas


@pytest.fixture
def canvas_store(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    rgb, truth = demo.coastal_scene(np.random.default_rng(3), 256)
    Image.fromarray(rgb).save(folder / "scene.png")
    path = tmp_path / "canvas.sqlite"
    with LabelStore.open(path) as store:
        store.add_images(folder, dataset="demo", progress=False)
        store.add_task(TASK, type="semantic_segmentation", classes=CLASSES)
    return path, truth


def _rows(path, kind):
    with LabelStore.open(path) as store:
        frame = store.get_annotations(task=TASK, kinds=[kind])
    return frame


def _wait_rows(path, kind, count, check=lambda frame: True, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = _rows(path, kind)
        if len(frame) == count and check(frame):
            return frame
        time.sleep(0.1)
    raise AssertionError(f"expected {count} {kind} row(s), the store has {len(frame)}")


def _open_canvas(lab, open_notebook, name: str, store_cell: str):
    """A notebook opening ``store`` (``store_cell``) and a CanvasLabeler on it, run; the
    notebook and where the canvas is on the page."""
    write_notebook(lab.root / f"{name}.ipynb", [
        "from geolabel_widgets import LabelStore, CanvasLabeler\n" + store_cell,
        f"canvas = CanvasLabeler(store, task={TASK!r}, labeler='ann', display_size=512)\n"
        "canvas",
    ])
    notebook = open_notebook(f"{name}.ipynb").run_all()
    layers = notebook.page.locator(".geolabel-layers")
    layers.wait_for(state="visible", timeout=30_000)
    layers.scroll_into_view_if_needed()
    return notebook, layers.bounding_box()


def inside(truth, cls, margin=12):
    """A point well inside the class's region, in image pixels."""
    from scipy.ndimage import distance_transform_edt

    depth = distance_transform_edt(truth == cls)
    y, x = np.unravel_index(np.argmax(depth), depth.shape)
    assert depth[y, x] > margin
    return float(x), float(y)


def test_draw_box_polygon_hole_point_doodles_undo_redo(lab, open_notebook, canvas_store,
                                                        screenshots):
    path, truth = canvas_store
    notebook, origin = _open_canvas(lab, open_notebook, "draw",
                                    f"store = LabelStore.open({str(path)!r})")
    page = notebook.page
    cells_before = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                                 ".map(c => c.model.type)")

    def at(x, y):  # image pixels -> page pixels
        return origin["x"] + x * SCALE, origin["y"] + y * SCALE

    def key(name):
        page.mouse.move(*at(128, 128))  # keys go to the canvas under the mouse
        page.keyboard.press(name)

    def drag(points):
        page.mouse.move(*at(*points[0]))
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*at(*point), steps=4)
        page.mouse.up()

    def click(x, y):
        page.mouse.click(*at(x, y))
        page.wait_for_timeout(120)  # a person's pace: each click reaches the kernel

    key("b")
    drag([(10, 10), (40, 30)])
    box = _wait_rows(path, "box", 1).iloc[0]
    assert np.allclose(box["geometry"].bounds, (10, 10, 40, 30), atol=1)

    key("p")
    key("4")  # vegetation
    for point in [(100, 100), (200, 100), (200, 200), (100, 200), (101, 101)]:
        click(*point)
    polygon = _wait_rows(path, "polygon", 1).iloc[0]
    assert polygon["value"] == "vegetation"
    assert polygon["geometry"].area == pytest.approx(100 * 100, rel=0.03)

    page.mouse.move(*at(130, 130))
    page.keyboard.down("Shift")
    click(130, 130)  # shift at the first vertex: this ring is a hole
    page.keyboard.up("Shift")
    click(170, 130)
    click(170, 170)
    key("Enter")
    holed = _wait_rows(path, "polygon", 1, lambda f: len(f.iloc[0]["geometry"].interiors) == 1)
    assert holed.iloc[0]["geometry"].area == pytest.approx(100 * 100 - 40 * 40 / 2, rel=0.03)

    key("o")
    click(60, 220)
    point = _wait_rows(path, "point", 1).iloc[0]["geometry"]
    assert abs(point.x - 60) <= 1 and abs(point.y - 220) <= 1

    key("d")
    water, sand = inside(truth, 0), inside(truth, 2)
    key("1")
    drag([water, (water[0] + 6, water[1] + 4), (water[0] + 10, water[1])])
    key("3")
    drag([sand, (sand[0] + 5, sand[1] + 5)])
    _wait_rows(path, "stroke", 2)
    page.wait_for_function("() => document.querySelector('.geolabel-canvas')"
                           ".textContent.includes('Predicted mask shown')", timeout=30_000)
    notebook.screenshot(screenshots / "canvas_overlay.png")

    key("z")
    assert set(_wait_rows(path, "stroke", 1)["value"]) == {"water"}
    page.wait_for_function("() => document.querySelector('.geolabel-canvas')"
                           ".textContent.includes('Doodle two or more classes')")
    key("y")
    assert set(_wait_rows(path, "stroke", 2)["value"]) == {"water", "sand"}
    page.wait_for_function("() => document.querySelector('.geolabel-canvas')"
                           ".textContent.includes('Predicted mask shown')", timeout=30_000)
    key("a")
    mask_row = _wait_rows(path, "mask", 1).iloc[0]
    page.wait_for_function("() => document.querySelector('.geolabel-canvas')"
                           ".textContent.includes('Saved the mask: water')")
    with LabelStore.open(path) as store:
        mask, classes = store.mask(mask_row["annotation_id"])
        doodles, _ = store.mask(_rows(path, "doodles").iloc[0]["annotation_id"])
        status = store.status_of(mask_row["image_id"], task=TASK, labeler="ann")
    assert classes == CLASSES and mask.shape == truth.shape
    assert set(np.unique(mask)) == {0, 2}  # only what was doodled: water and sand
    assert set(np.unique(doodles)) == {0, 1, 3}
    assert status == "labeled"
    assert (mask[truth == 0] == 0).mean() > 0.8 and (mask[truth == 2] == 2).mean() > 0.8

    cells_after = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                                ".map(c => c.model.type)")
    assert cells_after == cells_before == ["code", "code"]  # 1, 3, 4 stayed with the canvas
    notebook.screenshot(screenshots / "canvas_accepted.png")
    assert notebook.errors() == [] and notebook.widget_problems() == []


def test_a_box_drawn_before_the_next_image_shows_lands_on_neither(lab, open_notebook,
                                                                  tmp_path, screenshots):
    """The kernel made slow on purpose (every read of labels sleeps a second): a box
    drawn right after → was drawn on the image still on screen, so it is not put on
    the next one; one drawn once the next image shows is hers."""
    folder = tmp_path / "two"
    folder.mkdir()
    for k in range(2):
        rgb, _ = demo.coastal_scene(np.random.default_rng(20 + k), 256)
        Image.fromarray(rgb).save(folder / f"scene_{k}.png")
    path = tmp_path / "slow.sqlite"
    with LabelStore.open(path) as store:
        ids = store.add_images(folder, dataset="demo", progress=False)
        store.add_task(TASK, type="semantic_segmentation", classes=CLASSES)
    notebook, origin = _open_canvas(lab, open_notebook, "slow", (
        f"import time\nstore = LabelStore.open({str(path)!r})\n"
        "read = store.get_annotations\n"
        "def slow_read(*args, **kwargs):\n    time.sleep(1.0)\n    return read(*args, **kwargs)\n"
        "store.get_annotations = slow_read"))
    page = notebook.page

    def drag(x0, y0, x1, y1):
        page.mouse.move(origin["x"] + x0 * SCALE, origin["y"] + y0 * SCALE)
        page.mouse.down()
        page.mouse.move(origin["x"] + x1 * SCALE, origin["y"] + y1 * SCALE, steps=4)
        page.mouse.up()

    # what the footer said when each mouse button went down: the image on screen
    page.evaluate("() => { window.shownAtDown = []; document.addEventListener('mousedown',"
                  " () => window.shownAtDown.push(document.querySelector('.geolabel-canvas')"
                  ".textContent.match(/(\\d+) \\/ 2/)[1]), true); }")
    page.mouse.move(origin["x"] + 100, origin["y"] + 100)
    page.keyboard.press("b")
    page.wait_for_timeout(1500)  # the box tool is on, the kernel idle
    page.keyboard.press("ArrowRight")
    drag(10, 10, 60, 40)  # at once: the first image is still on screen
    assert page.evaluate("() => window.shownAtDown") == ["1"]  # the test's premise
    page.wait_for_function("() => document.querySelector('.geolabel-canvas')"
                           ".textContent.includes('2 / 2')", timeout=20_000)
    page.wait_for_timeout(1500)
    assert _rows(path, "box").empty  # on neither image
    assert "was on screen were not applied" in page.locator(".geolabel-canvas").inner_text()
    notebook.screenshot(screenshots / "canvas_before_shown.png")
    drag(100, 100, 160, 140)
    assert page.evaluate("() => window.shownAtDown") == ["1", "2"]
    box = _wait_rows(path, "box", 1).iloc[0]
    assert box["image_id"] == ids[1]
    assert np.allclose(box["geometry"].bounds, (100, 100, 160, 140), atol=1)
