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
    assert _rows(path, "box")[["image_id", "props"]].to_dict("records") == []  # on neither image
    assert "was on screen were not applied" in page.locator(".geolabel-canvas").inner_text()
    notebook.screenshot(screenshots / "canvas_before_shown.png")
    drag(100, 100, 160, 140)
    assert page.evaluate("() => window.shownAtDown") == ["1", "2"]
    box = _wait_rows(path, "box", 1).iloc[0]
    assert box["image_id"] == ids[1]
    assert np.allclose(box["geometry"].bounds, (100, 100, 160, 140), atol=1)


def test_a_box_turned_in_the_browser_exports_its_corners_to_yolo_obb_and_label_studio(
        lab, open_notebook, canvas_store, screenshots, tmp_path):
    import json
    import math
    import warnings

    from geolabel_widgets.formats import write_labelstudio, write_yolo
    from geolabel_widgets.store import box_of

    path, _ = canvas_store
    notebook, origin = _open_canvas(lab, open_notebook, "turn",
                                    f"store = LabelStore.open({str(path)!r})")
    page = notebook.page

    def at(x, y):
        return origin["x"] + x * SCALE, origin["y"] + y * SCALE

    def key(name):
        page.mouse.move(*at(80, 60))
        page.keyboard.press(name)
        page.wait_for_timeout(120)

    def drag(start, end):
        page.mouse.move(*at(*start))
        page.mouse.down()
        page.mouse.move(*at(*end), steps=6)
        page.mouse.up()

    key("b")
    drag((40, 40), (120, 80))
    _wait_rows(path, "box", 1)
    key("v")
    page.mouse.click(*at(80, 60))  # select the box
    page.wait_for_timeout(200)
    for _ in range(6):
        key("r")  # 5 degrees clockwise each
    turned = _wait_rows(path, "rotated_box", 1, lambda f: abs(
        box_of(f.iloc[0]["geometry"]).angle - 30) < 1e-6).iloc[0]
    assert _rows(path, "box").empty  # the same label, turned
    notebook.screenshot(screenshots / "canvas_turned_by_key.png")

    # its round handle, 24 screen px above the middle of its turned top edge
    up = np.array([math.sin(math.radians(30)), -math.cos(math.radians(30))])
    handle = np.array([80, 60]) + up * (20 + 24 / SCALE)
    drag(tuple(handle), (140, 60))  # due right of the centre: a quarter turn
    turned = _wait_rows(path, "rotated_box", 1, lambda f: abs(
        box_of(f.iloc[0]["geometry"]).angle - 30) > 1).iloc[0]
    notebook.screenshot(screenshots / "canvas_turned_by_handle.png")
    drawn = box_of(turned["geometry"])
    assert drawn.angle == pytest.approx(90, abs=1)
    assert (drawn.cx, drawn.cy, drawn.width, drawn.height) == pytest.approx((80, 60, 80, 40),
                                                                            abs=1)

    with LabelStore.open(path) as store, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_yolo(store, tmp_path / "yolo", task=TASK)
        document = write_labelstudio(store, tmp_path / "ls.json", task=TASK)
    corners = drawn.corners()
    obb = (tmp_path / "yolo" / "labels" / "scene.txt").read_text().split()
    assert len(obb) == 9
    assert np.abs(np.asarray(obb[1:], float).reshape(4, 2) * 256 - corners).max() < 1
    result = document[0]["annotations"][0]["result"][0]["value"]
    x, y = result["x"] * 2.56, result["y"] * 2.56  # percent of 256 px
    turn = math.radians(result["rotation"])  # about the top-left corner, clockwise
    right = np.array([math.cos(turn), math.sin(turn)]) * result["width"] * 2.56
    down = np.array([-math.sin(turn), math.cos(turn)]) * result["height"] * 2.56
    studio = np.array([[x, y], [x, y] + right, [x, y] + right + down, [x, y] + down])
    assert np.abs(studio - corners).max() < 1
    assert json.loads((tmp_path / "ls.json").read_text()) == document
    assert notebook.errors() == [] and notebook.widget_problems() == []


def test_a_models_polygon_is_edited_then_confirmed_and_its_box_taken_as_it_is(
        lab, open_notebook, canvas_store, screenshots):
    path, _ = canvas_store
    with LabelStore.open(path) as store:
        import pandas as pd
        import shapely

        (image_id,) = store.images.index
        store.add_predictions(pd.DataFrame({
            "image_id": [image_id] * 2, "value": ["sand", "water"], "score": [0.55, 0.9],
            "kind": ["polygon", "box"],
            "geometry": [shapely.Polygon([(60, 60), (140, 60), (140, 140), (60, 140)]),
                         shapely.box(170, 20, 230, 60)]}), task=TASK, model="segmenter")
    notebook, origin = _open_canvas(lab, open_notebook, "model",
                                    f"store = LabelStore.open({str(path)!r})")
    page = notebook.page
    page.get_by_text("2 shown by a model").wait_for()
    notebook.screenshot(screenshots / "canvas_model_shapes.png")  # dashed, not yet labels

    def at(x, y):
        return origin["x"] + x * SCALE, origin["y"] + y * SCALE

    page.mouse.move(*at(128, 128))
    page.keyboard.press("v")
    page.wait_for_timeout(300)
    page.mouse.click(*at(100, 100))  # selects the model's polygon
    page.wait_for_timeout(300)
    page.mouse.move(*at(140, 140))  # its corner, dragged out as a person corrects it
    page.mouse.down()
    page.mouse.move(*at(170, 160), steps=5)
    page.mouse.up()
    polygon = _wait_rows(path, "polygon", 1).iloc[0]
    assert polygon["value"] == "sand" and polygon["props"]["edited"] is True
    assert polygon["props"]["model"] == "segmenter"
    assert polygon["geometry"].area > 80 * 80 * 1.1  # bigger than the model drew it
    page.keyboard.press("Escape")
    page.keyboard.press("g")  # nothing selected: the model's box, confirmed as it is
    box = _wait_rows(path, "box", 1).iloc[0]
    assert box["props"]["edited"] is False
    assert np.allclose(box["geometry"].bounds, (170, 20, 230, 60))
    notebook.screenshot(screenshots / "canvas_model_confirmed.png")
    assert notebook.errors() == [] and notebook.widget_problems() == []
