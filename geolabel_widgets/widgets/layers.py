"""The canvas's four layers, each drawn with the view (zoom, pan) as its transform.

The image (and, zoomed in, a sharp copy of the part in view), the predicted
mask, the committed labels, and the shape being drawn: a stroke in progress
redraws only the top layer, and the image is sent to the browser once.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np
from ipycanvas import MultiCanvas, hold_canvas
from matplotlib.colors import to_rgb
from shapely.geometry import Point, Polygon

from ..imagery.display import encode_png
from .drawing import HANDLE_PX, TURNABLE, Shape, View, draw_shapes, turn_handle, vertices
from .gestures import EDITS_A_SHAPE, BoxDrag, Gesture, StrokeDrag, edited_outline

IMAGE, MASK, LABELS, DRAWING = range(4)
MASK_ALPHA = 110  # of 255: the predicted mask over the image


class Layers:
    def __init__(self, size: int):
        self.canvas = MultiCanvas(4, width=size, height=size)
        self.canvas.add_class("geolabel-layers")
        self.image: w.Image | None = None  # the whole image, downsampled
        self.sharp: tuple[tuple, w.Image] | None = None  # (box, part) once zoomed in
        self.mask: w.Image | None = None  # the predicted mask, coloured

    def resize(self, screen: tuple[int, int]) -> None:
        self.canvas.width, self.canvas.height = screen
        self.canvas.layout.width, self.canvas.layout.height = (f"{screen[0]}px",
                                                               f"{screen[1]}px")

    def clear(self) -> None:
        """A new image: nothing of the last one is kept."""
        self.set_image(None)
        self.set_sharp(None)
        self.set_mask(None)

    def set_image(self, jpeg: bytes | None) -> None:
        _close(self.image)
        self.image = None if jpeg is None else w.Image(value=jpeg, format="jpeg")

    def set_sharp(self, box: tuple | None, png: bytes | None = None) -> None:
        if self.sharp is not None:
            _close(self.sharp[1])
        self.sharp = None if box is None else (box, w.Image(value=png, format="png"))

    def set_mask(self, mask: np.ndarray | None, colors: list[str] = ()) -> None:
        """A mask of class indices, each in its colour (``colors``), over the image."""
        _close(self.mask)
        self.mask = None
        if mask is not None:
            rgb = np.array([[round(255 * c) for c in to_rgb(color)] for color in colors],
                           dtype=np.uint8)
            rgba = np.dstack([rgb[mask], np.full(mask.shape, MASK_ALPHA, np.uint8)])
            self.mask = w.Image(value=encode_png(rgba), format="png")

    def layer(self, index: int, view: View):
        """One layer, cleared, with the view as its transform."""
        layer = self.canvas[index]
        layer.reset_transform()
        layer.clear()
        layer.set_transform(*view.transform())
        return layer

    def draw_image(self, view: View) -> None:
        layer = self.layer(IMAGE, view)
        if self.image is not None:
            layer.draw_image(self.image, 0, 0, view.width, view.height)
        if self.sharp is not None:
            (left, top, right, bottom), part = self.sharp
            layer.draw_image(part, left, top, right - left, bottom - top)

    def draw_mask(self, view: View) -> None:
        layer = self.layer(MASK, view)
        if self.mask is not None:
            layer.draw_image(self.mask, 0, 0, view.width, view.height)

    def draw_labels(self, view: View, shapes: list[Shape], colors: dict[str, str],
                    predicted: list[Shape] = ()) -> None:
        """The labels, and a model's shapes not yet answered as dashed outlines."""
        with hold_canvas():
            layer = self.layer(LABELS, view)
            draw_shapes(layer, shapes, colors, view.scale)
            layer.line_width = 2 / view.scale
            layer.set_line_dash([8 / view.scale, 5 / view.scale])
            for shape in predicted:
                layer.stroke_style = colors.get(shape.value, "#ff0000")
                _outline(layer, shape.geometry, view.scale)
            layer.set_line_dash([])

    def draw_drawing(self, view: View, colors: dict[str, str], current_class: str,
                     brush: float, gesture: Gesture | None, polygon: list,
                     selected: Shape | None, cursor: tuple[float, float] | None) -> None:
        """The shape being drawn (to ``cursor``) and the selection, on the top layer."""
        layer = self.layer(DRAWING, view)
        scale = view.scale
        layer.line_width = 2 / scale
        layer.stroke_style = layer.fill_style = colors.get(current_class, "#ff0000")
        layer.set_line_dash([6 / scale, 4 / scale])
        if isinstance(gesture, BoxDrag) and cursor is not None:
            layer.stroke_rect(gesture.x, gesture.y, cursor[0] - gesture.x, cursor[1] - gesture.y)
        elif isinstance(gesture, StrokeDrag):
            layer.set_line_dash([])
            layer.line_width = brush
            layer.line_cap = layer.line_join = "round"
            layer.stroke_lines(np.asarray(gesture.points))
        elif isinstance(gesture, EDITS_A_SHAPE) and cursor is not None:
            layer.stroke_style = colors.get(gesture.shape.value, "#ff0000")
            _outline(layer, edited_outline(gesture, cursor), scale)
        if polygon:
            points = np.asarray(polygon + ([cursor] if cursor else []))
            layer.stroke_lines(points)
            layer.fill_circles(points[:1, 0], points[:1, 1], HANDLE_PX / scale)
        if selected is not None and not isinstance(gesture, EDITS_A_SHAPE):
            layer.set_line_dash([])
            layer.stroke_style = "#ffffff"
            _outline(layer, selected.geometry, scale)
            if selected.kind != "stroke":
                handles = vertices(selected.geometry)
                layer.fill_style = "#ffffff"
                layer.fill_rects(handles[:, 0] - 3 / scale, handles[:, 1] - 3 / scale,
                                 6 / scale)
            if selected.kind in TURNABLE:  # a round handle above: drag it to turn
                layer.fill_circle(*turn_handle(selected, scale), 5 / scale)
        layer.set_line_dash([])

    def close(self) -> None:
        self.clear()
        self.canvas.close()


def _close(image: w.Image | None) -> None:
    """Close an image widget no longer drawn: each is a model the browser keeps otherwise."""
    if image is not None:
        image.close()


def _outline(layer, geometry, scale: float) -> None:
    if isinstance(geometry, Point):
        layer.stroke_circle(geometry.x, geometry.y, 8 / scale)
        return
    for part in getattr(geometry, "geoms", [geometry]):
        rings = ([part.exterior, *part.interiors] if isinstance(part, Polygon) else [part])
        for ring in rings:
            layer.stroke_lines(np.asarray(ring.coords))
