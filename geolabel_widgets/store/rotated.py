"""Rotated boxes: a box turned about its centre, kept as its four corners.

The store keeps a rotated box (kind "rotated_box") as the polygon of its corners in
the order top-left, top-right, bottom-right, bottom-left of the box before it was
turned, so every tool that reads polygons reads it, and the corners alone give back
its centre, size and angle. Angles are degrees, clockwise on the screen (y down),
as YOLO OBB and Label Studio have them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from shapely.geometry import Polygon

from .types import StoreError

SQUARE = 1e-6  # how far from right-angled a box's corners may be, relative to its size


class RotatedBox(NamedTuple):
    cx: float
    cy: float
    width: float
    height: float
    angle: float  # degrees clockwise on the screen, in [0, 360)

    def corners(self) -> np.ndarray:
        """(4, 2): top-left, top-right, bottom-right, bottom-left, turned by ``angle``."""
        half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [self.width / 2,
                                                                   self.height / 2]
        turn = math.radians(self.angle)
        rotation = np.array([[math.cos(turn), -math.sin(turn)],
                             [math.sin(turn), math.cos(turn)]])
        return half @ rotation.T + [self.cx, self.cy]

    def polygon(self) -> Polygon:
        return Polygon(self.corners())


def rotated_box(cx: float, cy: float, width: float, height: float, angle: float) -> Polygon:
    """The polygon the store keeps for a box of that centre, size and angle."""
    if not width > 0 < height:
        raise StoreError(f"a rotated box needs a positive width and height, got "
                         f"{width} x {height}")
    return RotatedBox(cx, cy, width, height, angle % 360).polygon()


def from_corners(corners) -> RotatedBox:
    """The box nearest four corners in order (as YOLO OBB lines give them)."""
    c = np.asarray(corners, dtype=float).reshape(4, 2)
    top, right = c[1] - c[0], c[2] - c[1]
    width = (np.hypot(*top) + np.hypot(*(c[2] - c[3]))) / 2
    height = (np.hypot(*right) + np.hypot(*(c[3] - c[0]))) / 2
    angle = math.degrees(math.atan2(top[1], top[0])) % 360
    cx, cy = c.mean(axis=0)
    return RotatedBox(float(cx), float(cy), float(width), float(height), angle)


def box_of(geometry) -> RotatedBox:
    """A stored rotated box's centre, size and angle; a clear error if it is not one."""
    corners = np.asarray(getattr(getattr(geometry, "exterior", None), "coords", []))[:-1]
    if not isinstance(geometry, Polygon) or len(corners) != 4 or geometry.interiors:
        raise StoreError("a rotated box is a polygon of its four corners, got "
                         f"{getattr(geometry, 'wkt', geometry)!s:.120}")
    found = from_corners(corners)
    size = max(found.width, found.height)
    if min(found.width, found.height) <= 0 or \
            np.abs(found.corners() - corners).max() > SQUARE * size + 1e-9:
        raise StoreError("a rotated box's four corners make a rectangle, got "
                         f"{geometry.wkt:.120}")
    return found
