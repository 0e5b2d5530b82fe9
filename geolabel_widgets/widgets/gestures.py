"""What a mouse gesture on the canvas is while it lasts, and what it makes when it ends.

Pure geometry over ``drawing.Shape``: no canvas, no store, so each rule is tested
on its own. The canvas keeps one gesture at a time (or None) and a polygon draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from .drawing import Shape, move_vertex, turned_toward, with_hole

MIN_BOX_PX = 3  # on screen: a smaller box drag was a click


@dataclass
class Pan:
    x: float  # where the pointer was last, on screen
    y: float


@dataclass
class BoxDrag:
    x: float  # the corner pressed, in image pixels
    y: float


@dataclass
class StrokeDrag:
    points: list[tuple[float, float]]


@dataclass
class EraseDrag:
    pass


@dataclass
class MoveDrag:
    shape: Shape
    x: float  # where the shape was taken hold of
    y: float


@dataclass
class TurnDrag:
    shape: Shape


@dataclass
class VertexDrag:
    shape: Shape
    index: int


Gesture = Pan | BoxDrag | StrokeDrag | EraseDrag | MoveDrag | TurnDrag | VertexDrag
EDITS_A_SHAPE = (MoveDrag, TurnDrag, VertexDrag)


@dataclass
class Edit:
    """A finished shape for the store: new (no label_id) or replacing one."""

    geometry: BaseGeometry
    kind: str
    value: str | None = None  # None: the class chosen now
    label_id: str | None = None
    width: float = 0.0


def released(gesture: Gesture, x: float, y: float, scale: float, brush_width: float
             ) -> Edit | str | None:
    """What letting go at (x, y) in image pixels makes: an edit, a message saying why
    nothing was made, or None (nothing to make)."""
    match gesture:
        case BoxDrag(x0, y0):
            if min(abs(x - x0), abs(y - y0)) * scale < MIN_BOX_PX:
                return None
            return Edit(shapely.box(min(x0, x), min(y0, y), max(x0, x), max(y0, y)), "box")
        case StrokeDrag(points):
            points = points if len(points) > 1 else [points[0], (x + 0.01, y)]
            return Edit(LineString(points), "stroke", width=float(brush_width))
        case MoveDrag(shape, x0, y0):
            if (x, y) == (x0, y0):
                return None
            return Edit(affinity.translate(shape.geometry, x - x0, y - y0), shape.kind,
                        shape.value, shape.label_id, shape.width)
        case TurnDrag(shape):
            return Edit(turned_toward(shape, x, y), "rotated_box", shape.value, shape.label_id)
        case VertexDrag(shape, index):
            geometry = move_vertex(shape, index, x, y)
            if not geometry.is_valid:
                return "⚠ that edit would make the shape cross itself; left as it was"
            return Edit(geometry, shape.kind, shape.value, shape.label_id, shape.width)
    return None


def edited_outline(gesture: Gesture, cursor: tuple[float, float]) -> BaseGeometry | None:
    """The shape a move, turn or vertex drag would leave, to draw while it lasts."""
    match gesture:
        case MoveDrag(shape, x0, y0):
            return affinity.translate(shape.geometry, cursor[0] - x0, cursor[1] - y0)
        case TurnDrag(shape):
            return turned_toward(shape, *cursor)
        case VertexDrag(shape, index):
            return move_vertex(shape, index, *cursor)
    return None


@dataclass
class PolygonDraft:
    """A polygon being clicked point by point (a hole if shift was held at the first)."""

    points: list[tuple[float, float]] = field(default_factory=list)
    hole: bool = False

    def click(self, x: float, y: float, hole: bool, tolerance: float) -> bool:
        """Add a point; True when the click closes the polygon on its first point."""
        if not self.points:
            self.points, self.hole = [(x, y)], hole
            return False
        first = self.points[0]
        if len(self.points) >= 3 and np.hypot(x - first[0], y - first[1]) <= tolerance:
            return True
        self.points.append((x, y))
        return False

    def close(self, shapes: list[Shape]) -> Edit | str | None:
        """The finished polygon (a hole: its polygon with the hole cut), a message
        saying why it cannot be made, or None (fewer than three points); the draft
        is empty afterwards."""
        points, hole = self.points, self.hole
        self.points, self.hole = [], False
        if len(points) < 3:
            return None
        ring = shapely.make_valid(Polygon(points))
        if not isinstance(ring, Polygon) or ring.area == 0:
            return "⚠ that polygon crosses itself; draw it again"
        if not hole:
            return Edit(ring, "polygon")
        outer = [s for s in shapes if s.kind in ("polygon", "box") and s.geometry.contains(ring)]
        if not outer:
            return "⚠ a hole (shift + polygon) must lie inside a polygon"
        target = min(outer, key=lambda s: s.geometry.area)
        return Edit(with_hole(target.geometry, ring), "polygon", target.value, target.label_id)
