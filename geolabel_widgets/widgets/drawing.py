"""What the canvas draws and hit-tests: the view (zoom, pan) and the shapes.

Shapes live in full-resolution image pixels (x right, y down). The canvas layers
carry the view as their transform, so a redraw after a pan or zoom is one
transform and a few batched commands, however many shapes there are.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from matplotlib.colors import to_rgb
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from ..store.rotated import RotatedBox, box_of, rotated_box

DRAWN_KINDS = ("box", "rotated_box", "polygon", "point", "stroke")
TURNABLE = ("box", "rotated_box")
HANDLE_PX = 8  # how near (screen pixels) counts as on a vertex or a shape
TURN_HANDLE_PX = 24  # how far above a box's top edge its turning handle sits


@dataclass
class View:
    """Screen pixel = (image pixel - origin) * scale."""

    width: int  # the image, full resolution
    height: int
    screen: tuple[int, int]  # the canvas, in screen pixels
    scale: float = field(init=False)
    x: float = field(init=False)
    y: float = field(init=False)

    def __post_init__(self):
        self.reset()

    @property
    def fit_scale(self) -> float:
        return min(self.screen[0] / self.width, self.screen[1] / self.height)

    def reset(self) -> None:
        self.scale, self.x, self.y = self.fit_scale, 0.0, 0.0

    def to_image(self, sx: float, sy: float) -> tuple[float, float]:
        return self.x + sx / self.scale, self.y + sy / self.scale

    def zoom(self, factor: float, sx: float, sy: float) -> None:
        """Zoom by ``factor`` keeping the image point under (sx, sy) in place."""
        ix, iy = self.to_image(sx, sy)
        self.scale = float(np.clip(self.scale * factor, self.fit_scale * 0.5,
                                   max(self.fit_scale, 1.0) * 16))
        self.x, self.y = ix - sx / self.scale, iy - sy / self.scale

    def pan(self, dsx: float, dsy: float) -> None:
        self.x -= dsx / self.scale
        self.y -= dsy / self.scale

    def transform(self) -> tuple[float, ...]:
        """The canvas transform (a, b, c, d, e, f) that draws image pixels on screen."""
        return (self.scale, 0.0, 0.0, self.scale, -self.x * self.scale, -self.y * self.scale)

    def visible(self) -> tuple[int, int, int, int]:
        """The image pixels on screen: left, top, right, bottom (clipped to the image)."""
        right, bottom = self.to_image(*self.screen)
        return (max(0, int(self.x)), max(0, int(self.y)),
                min(self.width, int(np.ceil(right))), min(self.height, int(np.ceil(bottom))))


@dataclass
class Shape:
    label_id: str
    kind: str  # one of DRAWN_KINDS
    value: str  # the class
    geometry: BaseGeometry
    width: float = 0.0  # a stroke's brush width, image pixels


@dataclass
class Batches:
    """Shapes grouped into the few vectorised ipycanvas calls that draw them."""

    rings: list = field(default_factory=list)  # (n, 2) arrays, polygons without holes
    ring_colors: list = field(default_factory=list)
    holed: list = field(default_factory=list)  # (polygon, colour)
    points: list = field(default_factory=list)
    point_colors: list = field(default_factory=list)
    strokes: dict = field(default_factory=lambda: defaultdict(list))  # (colour, width) -> lines


def batches(shapes, colors: dict[str, str]) -> Batches:
    out = Batches()
    rgb = {name: tuple(int(255 * c) for c in to_rgb(color)) for name, color in colors.items()}
    for shape in shapes:
        color = rgb.get(shape.value, (255, 0, 0))
        geometry = shape.geometry
        if shape.kind == "point":
            out.points.append(geometry.coords[0])
            out.point_colors.append(color)
        elif shape.kind == "stroke":
            out.strokes[(colors.get(shape.value, "#ff0000"), shape.width)].append(
                np.asarray(geometry.coords))
        elif isinstance(geometry, Polygon) and not geometry.interiors:
            out.rings.append(np.asarray(geometry.exterior.coords))
            out.ring_colors.append(color)
        else:
            out.holed.append((geometry, colors.get(shape.value, "#ff0000")))
    return out


def draw_shapes(layer, shapes, colors: dict[str, str], scale: float) -> None:
    """Draw committed shapes on ``layer`` (already cleared and transformed)."""
    groups = batches(shapes, colors)
    layer.line_width = 2 / scale
    layer.line_cap = layer.line_join = "round"
    if groups.rings:
        counts = [len(r) for r in groups.rings]
        points = np.concatenate(groups.rings)
        ring_colors = np.array(groups.ring_colors, dtype=np.uint8)
        layer.fill_styled_polygons(points, ring_colors, alpha=0.25, points_per_polygon=counts)
        layer.stroke_styled_polygons(points, ring_colors, points_per_polygon=counts)
    for polygon, color in groups.holed:
        layer.fill_style = layer.stroke_style = color
        layer.begin_path()
        for part in getattr(polygon, "geoms", [polygon]):
            for ring in (part.exterior, *part.interiors):
                coords = np.asarray(ring.coords)
                layer.move_to(*coords[0])
                for x, y in coords[1:]:
                    layer.line_to(x, y)
                layer.close_path()
        layer.global_alpha = 0.25
        layer.fill("evenodd")
        layer.global_alpha = 1.0
        layer.stroke()
    for (color, width), lines in groups.strokes.items():
        layer.stroke_style = color
        layer.line_width = max(width, 1 / scale)
        for line in lines:
            layer.stroke_lines(line)
    if groups.points:
        xy = np.asarray(groups.points)
        layer.fill_styled_circles(xy[:, 0], xy[:, 1], 5 / scale,
                                  np.array(groups.point_colors, dtype=np.uint8))


def shape_at(shapes, x: float, y: float, tolerance: float) -> Shape | None:
    """The shape under image point (x, y): points and strokes first, then the smallest area."""
    here = Point(x, y)
    near = [s for s in shapes if s.geometry.distance(here) <= tolerance + s.width / 2]
    if not near:
        return None
    return min(near, key=lambda s: (s.kind not in ("point", "stroke"), s.geometry.area))


def vertices(geometry: BaseGeometry) -> np.ndarray:
    """Every vertex that can be dragged, as (n, 2) (closing duplicates left out)."""
    if isinstance(geometry, Polygon):
        rings = [geometry.exterior, *geometry.interiors]
        return np.concatenate([np.asarray(r.coords)[:-1] for r in rings])
    return np.asarray(geometry.coords)


def vertex_at(geometry: BaseGeometry, x: float, y: float, tolerance: float) -> int | None:
    points = vertices(geometry)
    distance = np.hypot(points[:, 0] - x, points[:, 1] - y)
    k = int(np.argmin(distance))
    return k if distance[k] <= tolerance else None


def move_vertex(shape: Shape, index: int, x: float, y: float) -> BaseGeometry:
    """The shape with vertex ``index`` (as numbered by ``vertices``) moved to (x, y).

    A box stays a box, and a rotated box keeps its angle: the dragged corner moves and
    the opposite one stays.
    """
    geometry = shape.geometry
    if shape.kind == "box":
        corners = vertices(geometry)
        fixed = corners[(index + 2) % 4]
        return shapely.box(min(x, fixed[0]), min(y, fixed[1]), max(x, fixed[0]), max(y, fixed[1]))
    if shape.kind == "rotated_box":
        turned = box_of(geometry)
        fixed = turned.corners()[(index + 2) % 4]
        a = math.radians(turned.angle)
        across = np.array([x, y]) - fixed  # the diagonal, in the box's own axes
        width = abs(across @ [math.cos(a), math.sin(a)])
        height = abs(across @ [-math.sin(a), math.cos(a)])
        centre = (fixed + [x, y]) / 2
        return rotated_box(*centre, max(width, 1e-6), max(height, 1e-6), turned.angle)
    if isinstance(geometry, Polygon):
        rings = [np.asarray(r.coords)[:-1].copy() for r in (geometry.exterior,
                                                             *geometry.interiors)]
        for ring in rings:
            if index < len(ring):
                ring[index] = (x, y)
                break
            index -= len(ring)
        return Polygon(rings[0], rings[1:])
    coords = np.asarray(geometry.coords).copy()
    coords[index] = (x, y)
    return Point(coords[0]) if isinstance(geometry, Point) else LineString(coords)


def turn_handle(shape: Shape, scale: float) -> tuple[float, float]:
    """Where a box's turning handle is: above the middle of its top edge."""
    turned = _turnable(shape)
    a = math.radians(turned.angle)
    up = np.array([math.sin(a), -math.cos(a)])  # the box's "up", turned with it
    x, y = [turned.cx, turned.cy] + up * (turned.height / 2 + TURN_HANDLE_PX / scale)
    return float(x), float(y)


def turned_toward(shape: Shape, x: float, y: float) -> BaseGeometry:
    """The box turned about its centre so that its handle points at (x, y)."""
    turned = _turnable(shape)
    angle = math.degrees(math.atan2(x - turned.cx, turned.cy - y))
    return rotated_box(turned.cx, turned.cy, turned.width, turned.height, angle)


def turned_by(shape: Shape, degrees: float) -> BaseGeometry:
    """The box turned ``degrees`` clockwise (on screen) about its centre."""
    turned = _turnable(shape)
    return rotated_box(turned.cx, turned.cy, turned.width, turned.height,
                       turned.angle + degrees)


def _turnable(shape: Shape) -> RotatedBox:
    if shape.kind == "box":
        minx, miny, maxx, maxy = shape.geometry.bounds
        return RotatedBox((minx + maxx) / 2, (miny + maxy) / 2, maxx - minx, maxy - miny, 0.0)
    return box_of(shape.geometry)


def with_hole(polygon: Polygon, ring: Polygon) -> Polygon:
    """``polygon`` with ``ring`` cut out as one more interior ring (first ring outer)."""
    return Polygon(polygon.exterior.coords,
                   [*(r.coords for r in polygon.interiors), ring.exterior.coords])
