"""The canvas's gestures on their own: what a drag or a run of clicks makes, no canvas."""

import pytest
import shapely
from shapely.geometry import Polygon

from geolabel_widgets.widgets.drawing import Shape
from geolabel_widgets.widgets.gestures import (BoxDrag, Edit, MoveDrag, PolygonDraft,
                                               StrokeDrag, VertexDrag, edited_outline,
                                               released)


def square(label_id="a", size=100, value="sand"):
    return Shape(label_id, "polygon", value, shapely.box(0, 0, size, size), 0.0)


def test_a_box_drag_smaller_than_three_screen_pixels_is_a_click():
    assert released(BoxDrag(10, 10), 11, 11, scale=2.0, brush_width=4) is None
    made = released(BoxDrag(30, 40), 10, 10, scale=2.0, brush_width=4)
    assert isinstance(made, Edit) and made.kind == "box"
    assert made.geometry.bounds == (10, 10, 30, 40)  # dragged up and left: still a box


def test_a_single_click_with_the_brush_is_a_dot_of_the_brush_width():
    made = released(StrokeDrag([(5, 5)]), 5, 5, scale=1.0, brush_width=7)
    assert made.kind == "stroke" and made.width == 7 and made.geometry.length > 0


def test_moving_a_shape_keeps_its_label_and_class_and_a_move_of_nothing_is_none():
    shape = square()
    assert released(MoveDrag(shape, 50, 50), 50, 50, 1.0, 4) is None
    made = released(MoveDrag(shape, 50, 50), 60, 45, 1.0, 4)
    assert (made.label_id, made.value) == ("a", "sand")
    assert made.geometry.bounds == (10, -5, 110, 95)
    assert edited_outline(MoveDrag(shape, 50, 50), (60, 45)).equals(made.geometry)


def test_a_vertex_dragged_across_the_shape_is_refused_with_a_reason():
    shape = square()
    made = released(VertexDrag(shape, 0), 50, 200, 1.0, 4)  # (100, 0) past the far side
    assert isinstance(made, str) and "cross itself" in made


def test_a_polygon_closes_on_its_first_point_and_needs_three():
    draft = PolygonDraft()
    assert not draft.click(0, 0, hole=False, tolerance=5)
    assert not draft.click(50, 0, hole=False, tolerance=5)
    assert not draft.click(2, 2, hole=False, tolerance=5)  # near the first, but only two
    assert draft.click(1, 1, hole=False, tolerance=5)  # three points: this one closes it
    made = draft.close([])
    assert made.kind == "polygon" and made.geometry.area > 0 and draft.points == []
    assert PolygonDraft([(0, 0), (1, 1)]).close([]) is None


def test_a_hole_cuts_the_smallest_polygon_around_it():
    outer, inner = square("big", 100), square("small", 60, value="water")
    draft = PolygonDraft()
    draft.click(20, 20, hole=True, tolerance=2)
    for x, y in [(40, 20), (40, 40), (20, 40)]:
        draft.click(x, y, hole=False, tolerance=2)
    made = draft.close([outer, inner])
    assert (made.label_id, made.value) == ("small", "water")
    assert isinstance(made.geometry, Polygon) and len(made.geometry.interiors) == 1
    assert made.geometry.area == pytest.approx(60 * 60 - 20 * 20)


def test_a_hole_outside_every_polygon_and_a_crossed_ring_say_why():
    draft = PolygonDraft([(200, 200), (210, 200), (210, 210)], hole=True)
    assert "must lie inside a polygon" in draft.close([square()])
    bow = PolygonDraft([(0, 0), (10, 10), (10, 0), (0, 10)])
    assert "crosses itself" in bow.close([])
