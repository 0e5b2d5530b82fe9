"""CanvasLabeler's kernel half, driven with the DOM events ipyevents delivers."""

import io

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import LineString

from geolabel_widgets import CanvasLabeler
from geolabel_widgets.demo import coastal_scene
from geolabel_widgets.store import box_of
from geolabel_widgets.widgets.drawing import turn_handle
from widget_drivers import Hand

CLASSES = ["water", "surf", "sand", "vegetation", "buildings"]


@pytest.fixture
def labeler(store, tmp_path):
    rng = np.random.default_rng(5)
    folder = tmp_path / "scenes"
    folder.mkdir()
    truths = {}
    for k in range(3):
        rgb, truth = coastal_scene(rng, 200)
        Image.fromarray(rgb).save(folder / f"scene_{k}.png")
        truths[f"scene_{k}.png"] = truth
    store.add_images(folder, dataset="scenes", progress=False)
    store.add_task("cover", type="semantic_segmentation", classes=CLASSES)
    widget = CanvasLabeler(store, task="cover", labeler="ann", display_size=400)
    widget.truths = truths
    yield widget
    widget.close()


def rows(widget, kind=None):
    frame = widget.store.get_annotations(task="cover", labeler="ann",
                                         image_ids=[widget.current])
    return frame[frame["kind"] == kind] if kind else frame


def test_box_polygon_hole_point_in_image_pixels(labeler):
    hand = Hand(labeler)
    assert labeler._view.scale == 2.0  # 200 px image on a 400 px canvas
    hand.key("b")
    hand.drag([(20, 20), (60, 40), (100, 80)])
    box = rows(labeler, "box").iloc[0]
    assert box["geometry"].bounds == (10, 10, 50, 40) and box["value"] == "water"
    hand.key("p")
    hand.key("3")  # sand
    for point in [(200, 200), (380, 200), (380, 380), (200, 380)]:
        hand.click(*point)
    assert rows(labeler, "polygon").empty  # unfinished: nothing saved
    hand.click(202, 201)  # on the first vertex: closes
    polygon = rows(labeler, "polygon").iloc[0]
    assert polygon["geometry"].area == 90 * 90 and polygon["value"] == "sand"
    for point in [(250, 250), (300, 250), (300, 300)]:
        hand.click(*point, shiftKey=(point == (250, 250)))
    hand.key("Enter")
    holed = rows(labeler, "polygon")
    assert len(holed) == 1 and len(holed.iloc[0]["geometry"].interiors) == 1
    assert holed.iloc[0]["geometry"].area == 90 * 90 - 25 * 25 / 2
    hand.key("o")
    hand.click(50, 350)
    assert rows(labeler, "point").iloc[0]["geometry"].coords[0] == (25, 175)
    assert labeler.store.status_of(labeler.current, task="cover", labeler="ann") \
        == "in_progress"


def test_undo_and_redo_every_edit(labeler):
    hand = Hand(labeler)
    hand.key("o")
    hand.click(10, 10)
    hand.click(20, 20)
    hand.key("z")
    assert len(rows(labeler, "point")) == 1 and len(labeler.shapes) == 1
    hand.key("y")
    assert len(rows(labeler, "point")) == 2
    hand.key("v")
    hand.drag([(20, 20), (40, 60)])  # select and move the second point
    assert sorted(p.coords[0] for p in rows(labeler, "point")["geometry"]) \
        == [(5, 5), (20, 30)]
    hand.key("2")  # the selected shape becomes surf
    assert sorted(rows(labeler, "point")["value"]) == ["surf", "water"]
    hand.key("Backspace")
    assert len(rows(labeler, "point")) == 1
    hand.key("z")
    assert len(rows(labeler, "point")) == 2


def test_vertex_edit_and_eraser(labeler):
    hand = Hand(labeler)
    hand.key("b")
    hand.drag([(20, 20), (100, 100)])
    hand.key("v")
    hand.click(60, 60)  # select the box
    hand.drag([(100, 100), (140, 120)])  # drag its corner
    assert rows(labeler, "box").iloc[0]["geometry"].bounds == (10, 10, 70, 60)
    hand.key("e")
    hand.drag([(300, 300), (138, 60)])  # across the box's edge
    assert rows(labeler, "box").empty


def test_a_box_turns_by_key_and_by_its_handle_and_keeps_its_angle_when_resized(labeler):
    hand = Hand(labeler)
    hand.key("b")
    hand.drag([(100, 100), (180, 140)])  # image pixels (50, 50)-(90, 70)
    hand.key("v")
    hand.click(140, 120)  # select it
    for _ in range(3):
        hand.key("r")  # 5 degrees clockwise each
    hand.key("R")
    turned = rows(labeler, "rotated_box")
    assert rows(labeler, "box").empty and len(turned) == 1  # the same label, now turned
    assert box_of(turned.iloc[0]["geometry"]) == pytest.approx((70, 60, 40, 20, 10))
    # the round handle sits 24 screen px above the top edge's middle: drag it to the right
    hx, hy = turn_handle(labeler.selected, labeler._view.scale)
    hand.drag([(hx * 2, hy * 2), (140 + 100, 120)])  # due right of the centre: 90 degrees
    assert box_of(rows(labeler, "rotated_box").iloc[0]["geometry"]) == pytest.approx(
        (70, 60, 40, 20, 90))
    corner = box_of(labeler.selected.geometry).corners()[2]  # bottom-right, turned
    hand.drag([tuple(corner * 2), tuple((corner + [-4, 6]) * 2)])
    resized = box_of(rows(labeler, "rotated_box").iloc[0]["geometry"])
    assert resized.angle == pytest.approx(90) and (resized.width, resized.height) == \
        pytest.approx((46, 24))
    assert labeler.controls.where.value.endswith("1 rotated box")
    hand.key("z")
    assert box_of(rows(labeler, "rotated_box").iloc[0]["geometry"]).width == pytest.approx(40)


def test_doodles_become_a_mask_with_its_counts(labeler):
    hand = Hand(labeler)
    truth = labeler.truths[labeler._images.loc[labeler.current, "name"]]
    hand.key("d")
    for cls in np.unique(truth):
        ys, xs = np.nonzero(truth == cls)
        k = len(ys) // 2
        hand.key(str(cls + 1))
        hand.drag([(xs[k] * 2, ys[k] * 2), (xs[k] * 2 + 2, ys[k] * 2 + 2)])
    labeler.predictor.wait()  # the prediction after the last stroke
    assert labeler.prediction is not None and labeler.layers.mask is not None
    row = labeler.accept_mask()
    mask, classes = labeler.store.mask(row)
    assert classes == CLASSES and mask.shape == truth.shape
    assert (mask == truth).mean() > 0.8
    doodles = rows(labeler, "doodles")
    assert len(doodles) == 1 and len(rows(labeler, "stroke")) == len(np.unique(truth))
    assert labeler.store.status_of(labeler.current, task="cover", labeler="ann") == "labeled"


def test_zoom_keeps_coordinates_in_image_pixels(labeler):
    hand = Hand(labeler)
    hand.send("wheel", 200, 200, deltaY=-100)
    assert labeler._view.scale == pytest.approx(2.4)
    hand.key("o")
    hand.click(200, 200)  # the point under the cursor did not move
    assert rows(labeler, "point").iloc[0]["geometry"].coords[0] == pytest.approx((100, 100))
    hand.send("keydown", key=" ")
    hand.drag([(200, 200), (100, 200)])  # pan with the space bar held: no shape
    hand.send("keyup", key=" ")
    assert len(rows(labeler, "point")) == 1
    assert labeler._view.x == pytest.approx(100 - 200 / 2.4 + 100 / 2.4)


def test_queue_navigation(labeler):
    hand = Hand(labeler)
    first = labeler.current
    hand.key("ArrowRight")
    assert labeler.position == 1 and labeler.current != first
    labeler.controls.jump.value = 3
    assert labeler.position == 2
    hand.key("ArrowLeft")
    assert labeler.position == 1


def test_shapes_on_a_real_geotiff_carry_world_coordinates(store, shared_data):
    from geolabel_widgets.imagery.georef import pixel_to_lonlat

    store.add_images(shared_data / "imagery" / "examplegeotiff.tif", dataset="real",
                     progress=False)
    widget = CanvasLabeler(store, task="cover", labeler="ann", classes=CLASSES,
                           display_size=500)  # 500 x 400 px: scale 1
    Hand(widget).key("o")
    Hand(widget).click(100, 50)
    row = widget.store.get_annotations(task="cover").iloc[0]
    image = store.images.loc[row["image_id"]]
    expected = pixel_to_lonlat(row["geometry"], image["crs"], image["transform"])
    assert row["world_geometry"].equals_exact(expected, 1e-9)
    assert -124 < row["world_geometry"].x < -66 and 24 < row["world_geometry"].y < 50  # CONUS
    widget.close()


def test_a_large_image_is_shown_small_and_sharpened_when_zoomed(store, shared_data):
    store.add_images(shared_data / "imagery" / "orthomosaic.jpg", dataset="real",
                     progress=False)  # 2048 x 2048, CMYK
    widget = CanvasLabeler(store, task="cover", labeler="ann", classes=CLASSES,
                           display_size=512)
    assert widget._view.scale == 0.25 and len(widget.layers.image.value) < 400_000
    for _ in range(8):  # zoom in on the centre: 0.25 * 1.25^8 = 1.49 screen px per pixel
        widget._act("zoom_in")
    widget._refine_timer.cancel()
    widget._refine()  # what the timer runs once the wheel stops
    (left, top, right, bottom), sharp = widget.layers.sharp
    assert (left, top) == widget._view.visible()[:2] and right - left < 400
    shown = Image.open(io.BytesIO(sharp.value))
    assert shown.size == (right - left, bottom - top)  # full resolution, not the small copy
    widget._act("fit")
    assert widget.layers.sharp is None and widget._view.scale == 0.25
    widget.close()


def test_accept_never_saves_a_prediction_older_than_the_last_stroke(labeler):
    hand = Hand(labeler)
    hand.key("d")
    hand.drag([(20, 20), (40, 20)])  # water, top left: the sea in these scenes
    hand.key("4")
    hand.drag([(380, 380), (390, 390)])
    labeler.predictor.wait()
    first = labeler.prediction.copy()
    hand.key("2")
    labeler.predictor.generation += 1  # as a third stroke does, with its prediction still running
    labeler.store.annotate(labeler.current, LineString([(5, 190), (60, 190)]), "surf",
                           task="cover", labeler="ann", kind="stroke", props={"width": 4})
    labeler._reload()
    row = labeler.accept_mask()
    mask, _ = labeler.store.mask(row)
    assert set(np.unique(mask)) == {0, 1, 3} and not np.array_equal(mask, first)


def test_an_image_without_a_known_size_says_so(store):
    import pandas as pd

    store.add_images(pd.DataFrame({"uri": ["coasttrain://A/img.jpg"], "name": ["img.jpg"]}),
                     dataset="catalogue")
    widget = CanvasLabeler(store, task="cover", labeler="ann", classes=CLASSES)
    assert "no known size" in widget.message.value
    Hand(widget).key("o")  # nothing to draw on: ignored, no error
    widget.close()


def test_input_made_before_the_next_image_was_on_screen_is_not_applied_to_it(labeler):
    """A view that answers: the next image is on screen only once it says so. A box
    drawn and a skip pressed before then were made on the image before: they land on
    neither, and the canvas says so; class and tool keys still count."""
    hand = Hand(labeler)
    first = labeler.current
    hand.screen.lagging = True
    labeler.next()  # the kernel switched; the browser has not drawn it yet
    second = labeler.current
    hand.key("b")
    hand.key("3")
    hand.drag([(20, 20), (60, 40), (100, 80)])
    hand.key("s")
    assert labeler.store.get_annotations(task="cover").empty
    assert labeler.store.statuses("cover").empty
    assert "2 click(s) or key(s) made before" in labeler.message.value
    hand.screen.catch_up()
    hand.drag([(20, 20), (60, 40), (100, 80)])
    saved = labeler.store.get_annotations(task="cover")
    assert saved["image_id"].tolist() == [second] and first != second
    assert saved[["kind", "value"]].values.tolist() == [["box", "sand"]]


def test_input_before_any_view_has_drawn_the_canvas_is_not_applied(labeler):
    """The page is still loading the canvas's companion (no view has answered): the
    browser may be showing anything, so a box drawn then lands nowhere; once the view
    has drawn the image, it lands."""
    hand = Hand(labeler)
    hand.screen.echo.heard = False  # as before the first answer
    hand.screen.echo._answered = 0
    hand.key("b")
    hand.drag([(20, 20), (60, 40), (100, 80)])
    assert labeler.store.get_annotations(task="cover").empty
    assert "the browser has not yet said that it shows" in labeler.message.value
    labeler._screen._on_message(labeler._screen, {"type": "view"}, [])  # it loads, answers
    hand.key("b")
    hand.drag([(20, 20), (60, 40), (100, 80)])
    assert labeler.store.get_annotations(task="cover")["image_id"].tolist() == [labeler.current]


def test_a_held_key_acts_once(labeler):
    hand = Hand(labeler)
    hand.key("o")
    hand.key("s")
    hand.send("keydown", key="s", repeat=True)
    hand.send("keydown", key="s", repeat=True)
    assert labeler.position == 1  # skipped one image, not three
    assert "acts once" in labeler.message.value


def test_a_models_shapes_are_edited_confirmed_or_rejected(labeler):
    import pandas as pd
    import shapely

    store, image_id = labeler.store, labeler.current
    square = shapely.box(20, 20, 60, 60)
    store.add_predictions(pd.DataFrame({
        "image_id": [image_id] * 3, "value": ["sand", "water", "buildings"],
        "kind": ["polygon", "box", "box"], "score": [0.6, 0.9, 0.3],
        "geometry": [square, shapely.box(120, 120, 150, 140), shapely.box(150, 20, 190, 50)]}),
        task="cover", model="net")
    labeler.go(labeler.position)  # shown again, with its predictions
    assert len(labeler.predicted.shapes) == 3 and rows(labeler).empty
    hand = Hand(labeler)
    hand.key("v")
    hand.click(80, 80)  # inside the predicted square (image 40, 40)
    hand.drag([(40, 40), (30, 30)])  # its corner at (20, 20) dragged to (15, 15)
    edited = rows(labeler, "polygon").iloc[0]
    assert edited["props"]["prediction_id"] > 0 and edited["props"]["edited"] is True
    assert edited["geometry"].area > square.area and edited["value"] == "sand"
    hand.click(340, 70)  # the buildings box (image 170, 35)
    hand.key("n")
    rejected = store.get_annotations(task="cover", kinds=["rejection"])
    assert rejected["value"].tolist() == ["buildings"]
    hand.key("Escape")
    hand.key("g")  # nothing selected: every shape left is confirmed as it is
    box = rows(labeler, "box").iloc[0]
    assert box["value"] == "water" and box["props"]["edited"] is False
    assert box["geometry"].equals(shapely.box(120, 120, 150, 140))
    assert labeler.predicted.shapes == []  # each one answered
    hand.key("z")  # the confirmation undone: the model's box is back to answer
    assert [s.value for s in labeler.predicted.shapes] == ["water"]


def test_a_models_mask_is_shown_and_accepted_until_doodles_predict_another(labeler):
    import pandas as pd

    store, image_id = labeler.store, labeler.current
    mask = (labeler.truths[labeler._images.loc[image_id, "name"]] > 1).astype(np.uint8) * 2
    store.add_predictions(pd.DataFrame({"image_id": [image_id], "kind": ["mask"],
                                        "mask": [mask]}), task="cover", model="unet")
    labeler.go(labeler.position)
    assert labeler.layers.mask is not None and "A model's mask is shown" in \
        labeler.message.value
    hand = Hand(labeler)
    hand.key("a")  # no doodles: the model's mask is saved, naming it
    row = rows(labeler, "mask").iloc[0]
    assert row["props"]["model"] == "unet" and row["props"]["edited"] is False
    assert np.array_equal(labeler.store.mask(row["annotation_id"])[0], mask)
