"""CanvasLabeler: draw boxes, polygons, points and doodles on an image; doodles become masks.

A selected box turns (r, R, or its round handle) and is then a rotated box.

Pure Python on an ipycanvas MultiCanvas with ipyevents for the mouse and keys.
Four layers: the image, the predicted mask, the committed labels, and the shape
being drawn; each layer carries the view (zoom, pan) as its transform, so a
stroke in progress redraws only the top layer and never re-sends the image.

Every finished shape is a row in the store the moment it is finished (world
coordinates too where the image is georeferenced); a shape still being drawn is
never saved. Input made before a new image reached the screen (the kernel was
behind) is not applied to it: it was meant for the image before, and the canvas
says so. A held key acts once. Undo and redo are the store's, per image. A shape
the store cannot take (its database server went away) stays drawn, is listed as
unsaved, and is sent again every few seconds until it is in.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import ipywidgets as w
import numpy as np
import pandas as pd
import shapely
import traitlets as t
from ipycanvas import MultiCanvas, hold_canvas
from ipyevents import Event
from matplotlib.colors import to_rgb
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon

from ..imagery.display import (display_jpeg, encode_png, read_display_array,
                               read_display_region)
from ..imagery.header import UnreadableImage
from ..segment import DoodleError, doodle_raster, doodles_to_mask
from ..store import LabelStore, StoreError, StoreUnavailable
from .drawing import (DRAWN_KINDS, HANDLE_PX, TURNABLE, Shape, View, draw_shapes,
                      move_vertex, shape_at, turn_handle, turned_by, turned_toward, vertex_at,
                      vertices, with_hole)
from .keyboard import NAVIGATION_KEYS, help_line, key_map, key_name
from .walker import RETRY_EVERY, QueueWalker
from .screen import ScreenEcho

TOOLS = ("box", "polygon", "point", "brush", "eraser", "select")
CANVAS_KEYS = {
    **{k: v for k, v in NAVIGATION_KEYS.items() if k != "review"},
    "box": "b", "polygon": "p", "point": "o", "brush": "d", "eraser": "e", "select": "v",
    "thinner": "[", "thicker": "]", "zoom_in": "+", "zoom_out": "-", "fit": "0",
    "predict": "m", "accept_mask": "a", "delete": "Backspace", "finish": "Enter",
    "cancel": "Escape", "turn_right": "r", "turn_left": "R",
}
TURN_STEP = 5.0  # degrees a key turns the selected box
# what a key may still do before the new image is on screen: nothing tied to an image
BEFORE_SHOWN = {"next", "previous", "first_unlabeled", "thinner", "thicker", "zoom_in",
                "zoom_out", "fit", "cancel", *TOOLS}
MAX_SEGMENT_SIZE = 4096  # longest side a mask is predicted for; cut larger scenes into chips
OVERLAY_ALPHA = 110  # of 255: the predicted mask over the image


class CanvasLabeler(QueueWalker, w.VBox):
    """Draw labels on the images of ``store.queue``, one image after another.

    Parameters
    ----------
    store, task, labeler
        Where labels go, for which task, by whom. A missing task is created as
        ``semantic_segmentation`` with ``classes``.
    classes
        The classes, in key order (1-9); default: the task's.
    dataset, status, image_ids, order, seed
        Which images, in which order: as ``LabelStore.queue`` (status None: all).
    claim
        Images claimed this many at a time (``LabelStore.claim``); by default 20 on a
        team's task (one assigned to labelers), off otherwise. See ``ImageTagger``.
    class_keys, keys
        Other keys for classes (class -> key) or actions (action -> key).
    bands
        1-based bands shown as red, green, blue for multi-band rasters.
    display_size
        The canvas's longest side, in screen pixels.
    brush_width
        Doodle brush width in image pixels (``[`` and ``]`` change it).
    """

    position = t.Int(0, help="where in the queue the shown image is")

    def __init__(self, store: LabelStore, *, task: str, labeler: str,
                 classes: Sequence[str] | None = None, dataset=None, status=None,
                 image_ids=None, order="stable", seed=None, class_keys=None, keys=None,
                 bands=None, display_size: int = 640, brush_width: int = 6,
                 claim: int | None = None):
        if task not in store.tasks.index:
            store.add_task(task, type="semantic_segmentation",
                           classes=list(classes or ("water", "land")))
        self.store, self.task, self.labeler = store, task, labeler
        self.classes = list(classes or store.classes(task))
        self.colors = store.class_colors(task)
        self.shortcuts = key_map(self.classes, class_keys, keys, actions=CANVAS_KEYS)
        self._class_of_key = {k: c for c, k in self.shortcuts["classes"].items()}
        self._action_of_key = {k: a for a, k in self.shortcuts["actions"].items()}
        self._bands, self.display_size = bands, display_size
        self._queue = self._first_queue(task, labeler, claim, status=status, dataset=dataset,
                                        image_ids=image_ids, order=order, seed=seed)
        self._images = store.images_of(self._queue)

        self.shapes: list[Shape] = []
        self.selected: Shape | None = None
        self.prediction: np.ndarray | None = None  # class indices, full resolution
        self._doodles: np.ndarray | None = None  # the doodles the prediction came from
        self._drag: tuple | None = None
        self._polygon: list[tuple[float, float]] = []
        self._hole = False
        self._space = False
        self._view: View | None = None
        self._base: w.Image | None = None
        self._sharp: tuple | None = None  # (box, w.Image) of a zoomed-in part
        self._overlay: w.Image | None = None
        self._generation = 0  # bumps when the strokes change; stale predictions are dropped
        self._predicted_for = -1  # the generation self.prediction belongs to
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geolabel-segment")
        self._refine_timer: threading.Timer | None = None
        self._unsaved: list[dict] = []  # annotate() arguments the store could not take yet
        self._retry_timer: threading.Timer | None = None
        self._lock = threading.RLock()  # the worker thread draws too
        self._not_applied = 0  # presses made on the image before, since the last switch

        self.canvas = MultiCanvas(4, width=display_size, height=display_size)
        # whether the browser shows the image we switched to; the layers share one
        # drawing queue, the one an answer waits for
        self._screen = ScreenEcho(drawing=self.canvas[0]._canvas_manager)
        self.canvas.add_class("geolabel-layers")
        self._build_controls(brush_width)
        super().__init__([self._toolbar, self._palette, self.canvas, self._footer,
                          self.message, self._help, self._screen])
        self.add_class("geolabel-canvas")
        self._clicks = Event(source=self.canvas, prevent_default_action=True,
                             watched_events=["mousedown", "mouseup", "mouseleave",
                                             "keydown", "keyup"])
        self._moves = Event(source=self.canvas, prevent_default_action=True,
                            watched_events=["mousemove", "wheel"], wait=15,
                            throttle_or_debounce="throttle")
        self._clicks.on_dom_event(self._on_event)
        self._moves.on_dom_event(self._on_event)
        # canvases keep no pixels in their model: a view shown again (a page reload, the
        # widget displayed in another cell) asks for its drawing
        self.canvas.on_client_ready(self._on_client_ready)
        self.go(self.first_unlabeled())

    # -- what a user may call from Python too ------------------------------------------------
    @property
    def current_class(self) -> str:
        return self._class

    @current_class.setter
    def current_class(self, name: str) -> None:
        if name not in self.classes:
            raise ValueError(f"{name!r} is not a class of {self.task!r}: {self.classes}")
        self._class = name
        for button, cls in zip(self._class_buttons, self.classes):
            button.icon = "check" if cls == name else ""
        if self.selected is not None and self.selected.value != name:
            self._commit(self.selected.geometry, self.selected.kind, value=name,
                         label_id=self.selected.label_id, width=self.selected.width)

    @property
    def tool(self) -> str:
        return self._tools.value

    @tool.setter
    def tool(self, name: str) -> None:
        self._tools.value = name

    def go(self, position: int) -> None:
        """Show the image at ``position`` in the queue (what is half-drawn is dropped);
        past either end, the first or last image."""
        with self._lock:
            self._not_applied = 0
            try:
                self._go(position)
            finally:  # after the new image's drawing, so the answer comes once it is shown
                self._screen.changed()

    def _go(self, position: int) -> None:
        if position >= len(self._queue) - 1 and self._claim_more():
            self._jump.max = len(self._queue)
        self.position = max(0, min(int(position), max(len(self._queue) - 1, 0)))
        self._polygon, self._drag, self.selected = [], None, None
        _close(self._base, self._overlay, self._sharp)
        self._base = self._overlay = self._sharp = None
        self.prediction = self._doodles = None
        self._predicted_for = -1
        self._generation += 1
        if self.current is None:
            self._say("The queue is empty.")
            return
        image = self._images.loc[self.current]
        if pd.isna(image["width"]):
            self._view = None
            self._say(f"⚠ {image['name']} has no known size (a catalogue entry whose file "
                      "is not here); nothing can be drawn on it.")
            return
        width, height = int(image["width"]), int(image["height"])
        fit = self.display_size / max(width, height)
        screen = (max(1, round(width * fit)), max(1, round(height * fit)))
        self.canvas.width, self.canvas.height = screen
        self.canvas.layout.width, self.canvas.layout.height = (f"{screen[0]}px",
                                                               f"{screen[1]}px")
        self._view = View(width, height, screen)
        try:
            jpeg, _ = display_jpeg(self.image_path(self.current), self.display_size * 2, self._bands)
            self._base = w.Image(value=jpeg, format="jpeg")
            self._say("")
        except UnreadableImage as err:
            self._say(f"⚠ {image['name']} {err.reason}; labels can still be drawn.")
        self._jump.value = self.position + 1
        self._reload()
        self._redraw()

    def _move_to(self, position: int) -> None:
        self.go(position)

    def _restart(self, position: int) -> None:
        self._jump.max = max(1, len(self._queue))
        self.go(position)

    def next(self) -> None:
        self.go(self.position + 1)

    def previous(self) -> None:
        self.go(self.position - 1)

    def undo(self) -> None:
        self._revert(self.store.undo)

    def redo(self) -> None:
        self._revert(self.store.redo)

    def predict(self, wait: bool = True) -> None:
        """Predict the mask from this image's doodles and show it over the image."""
        future = self._worker.submit(self._predict, self._generation)
        if wait:
            future.result()

    def accept_mask(self) -> int | None:
        """Save the predicted mask (with its pixel counts) and the doodles; returns the row id."""
        with self._lock:
            if self._predicted_for != self._generation:  # none yet, or older than a stroke
                self._predict(self._generation)
            if self._predicted_for != self._generation:
                return None
            mask, doodles = self.prediction, self._doodles
        self.store.add_mask(self.current, doodles, task=self.task, labeler=self.labeler,
                            classes=self.classes, kind="doodles")
        row = self.store.add_mask(self.current, mask, task=self.task, labeler=self.labeler,
                                  classes=self.classes)
        share = np.bincount(mask.ravel(), minlength=len(self.classes)) / mask.size
        self._say("Saved the mask: " + ", ".join(
            f"{c} {100 * s:.0f}%" for c, s in zip(self.classes, share) if s > 0))
        self._show_position()
        return row

    def close(self) -> None:
        if hasattr(self, "_moves"):  # built whole (close runs after a failed __init__ too)
            self._worker.shutdown(wait=False, cancel_futures=True)
            for timer in (self._refine_timer, self._retry_timer):
                if timer is not None:
                    timer.cancel()
            self._release_claims()
            _close(self._base, self._overlay, self._sharp)
            for widget in (self._clicks, self._moves, self.canvas, self._screen):
                widget.close()
        super().close()

    # -- controls ----------------------------------------------------------------------------
    def _build_controls(self, brush_width: int) -> None:
        actions = self.shortcuts["actions"]
        self._tools = w.ToggleButtons(
            options=[(f"{t} ({key_name(actions[t])})", t) for t in TOOLS], value="polygon",
            style={"button_width": "auto"})
        self._tools.observe(lambda _: self._cancel(), "value")
        self._width = w.IntSlider(value=brush_width, min=1, max=64, description="brush px",
                                  continuous_update=False, layout={"width": "260px"})
        buttons = {}
        for name, label in (("undo", "undo"), ("redo", "redo"), ("previous", "◀"),
                            ("next", "▶"), ("predict", "predict mask"),
                            ("accept_mask", "accept mask")):
            buttons[name] = w.Button(description=f"{label} ({key_name(actions[name])})",
                                     layout={"width": "auto"})
            buttons[name].on_click(lambda _, n=name: self._act(n))
        self._toolbar = w.HBox([self._tools, self._width, buttons["undo"], buttons["redo"]],
                               layout={"flex_flow": "row wrap"})
        self._class_buttons = []
        for cls in self.classes:
            button = w.Button(description=f"{self.shortcuts['classes'][cls]} {cls}",
                              layout={"width": "auto"},
                              style={"button_color": _soft(self.colors.get(cls, "#cccccc"))})
            button.on_click(lambda _, c=cls: setattr(self, "current_class", c))
            self._class_buttons.append(button)
        self._palette = w.HBox(self._class_buttons, layout={"flex_flow": "row wrap"})
        self._class = self.classes[0]
        self._class_buttons[0].icon = "check"
        self._jump = w.BoundedIntText(value=1, min=1, max=max(1, len(self._queue)),
                                      description="image", layout={"width": "150px"})
        self._jump.observe(self._on_jump, "value")
        self._where = w.HTML()
        self._footer = w.HBox([buttons["previous"], buttons["next"], self._jump, self._where,
                               buttons["predict"], buttons["accept_mask"]],
                              layout={"flex_flow": "row wrap", "align_items": "center"})
        self.message = w.HTML()
        self._help = w.HTML(f"<small>{help_line(self.shortcuts)} · drag with space or ctrl: pan "
                            "· wheel: zoom · shift+polygon: hole · a selected box's round "
                            "handle: turn it</small>")

    def _on_jump(self, change: dict) -> None:
        if change["new"] - 1 != self.position:  # typed by the user, not set by go()
            self.go(change["new"] - 1)

    def _act(self, action: str) -> None:
        with self._lock:
            self._act_unlocked(action)

    def _act_unlocked(self, action: str) -> None:
        try:
            if action in TOOLS:
                self.tool = action
            elif action in ("next", "previous", "undo", "redo", "accept_mask"):
                getattr(self, action)()
            elif action == "predict":
                self.predict(wait=False)
            elif action == "skip":
                self.store.skip(self.current, task=self.task, labeler=self.labeler)
                self.next()
            elif action == "first_unlabeled":
                self.go(self.first_unlabeled())
            elif action in ("thinner", "thicker"):
                self._width.value += -1 if action == "thinner" else 1
            elif action in ("zoom_in", "zoom_out", "fit"):
                self._zoom(action)
            elif action == "delete":
                self._delete()
            elif action in ("turn_right", "turn_left"):
                self._turn(TURN_STEP if action == "turn_right" else -TURN_STEP)
            elif action == "finish":
                self._finish_polygon()
            elif action == "cancel":
                self._cancel()
        except (StoreError, DoodleError, UnreadableImage) as err:
            self._say(f"⚠ {err}")

    # -- events ------------------------------------------------------------------------------
    def _on_event(self, event: dict) -> None:
        if self._view is None:
            return
        if event.get("repeat"):
            if self._key_action(event) is not None:
                self._say("Holding a key acts once: press it again.")
            return
        if not self._screen.is_current and not self._before_shown(event):
            if event["type"] in ("mousedown", "keydown"):  # a press, not each move
                self._not_applied += 1
            name = self._images.at[self.current, "name"]
            if self._screen.heard:
                self._say(f"⚠ {self._not_applied} click(s) or key(s) made before {name} was "
                          "on screen were not applied (they were meant for the image before it).")
            else:
                self._say(f"⚠ {self._not_applied} click(s) or key(s) not applied: the browser "
                          f"has not yet said that it shows {name} (the page is still loading "
                          "the canvas).")
            return
        with self._lock:  # the prediction worker draws too
            try:
                self._dispatch(event)
            except (StoreError, DoodleError, UnreadableImage) as err:
                self._drag = None
                self._say(f"⚠ {err}")

    def _dispatch(self, event: dict) -> None:
        kind = event["type"]
        if kind == "keydown":
            self._on_key(event)
        elif kind == "keyup":
            self._space = self._space and event.get("key") != " "
        elif kind == "wheel":
            factor = 1.2 if event.get("deltaY", 0) < 0 else 1 / 1.2
            self._view.zoom(factor, event["relativeX"], event["relativeY"])
            self._view_changed()
        elif kind == "mousedown":
            self._on_down(event)
        elif kind == "mousemove":
            self._on_move(event)
        elif kind in ("mouseup", "mouseleave"):
            self._on_up(event)

    def _key_action(self, event: dict) -> str | None:
        """What a key event does: an action, "class", or None."""
        key = event.get("key", "")
        if key in self._class_of_key:
            return "class"
        return self._action_of_key.get(key, "delete" if key == "Delete" else None)

    def _before_shown(self, event: dict) -> bool:
        """Whether an event may act while the browser still shows the image before:
        keys that choose a class or tool, zoom, or move on; no mouse event."""
        if event["type"] == "keyup":
            return True
        if event["type"] != "keydown":
            return False  # the mouse draws on the image it is over
        return event.get("key") == " " or self._key_action(event) in {"class", *BEFORE_SHOWN}

    def _on_key(self, event: dict) -> None:
        action = self._key_action(event)
        if event.get("key") == " ":
            self._space = True
        elif action == "class":
            self.current_class = self._class_of_key[event["key"]]
        elif action is not None:
            self._act(action)

    def _point(self, event) -> tuple[float, float]:
        return self._view.to_image(event["relativeX"], event["relativeY"])

    def _on_down(self, event: dict) -> None:
        x, y = self._point(event)
        screen = (event["relativeX"], event["relativeY"])
        if event.get("button") == 1 or self._space or event.get("ctrlKey"):
            self._drag = ("pan", *screen)
            return
        tolerance = HANDLE_PX / self._view.scale
        tool = self.tool
        if tool == "box":
            self._drag = ("box", x, y)
        elif tool == "polygon":
            self._polygon_click(x, y, event.get("shiftKey", False), tolerance)
        elif tool == "point":
            self._commit(Point(x, y), "point")
        elif tool == "brush":
            self._drag = ("stroke", [(x, y)])
            self._draw_progress()
        elif tool == "eraser":
            self._drag = ("erase",)
            self._erase(x, y, tolerance)
        elif tool == "select":
            self._select_at(x, y, tolerance)

    def _on_move(self, event: dict) -> None:
        x, y = self._point(event)
        drag = self._drag
        if drag is None:
            if self._polygon:
                self._draw_progress((x, y))
            return
        if drag[0] == "pan":
            self._view.pan(event["relativeX"] - drag[1], event["relativeY"] - drag[2])
            self._drag = ("pan", event["relativeX"], event["relativeY"])
            self._redraw(sharp=False)
        elif drag[0] == "stroke":
            drag[1].append((x, y))
            self._draw_progress()
        elif drag[0] == "erase":
            self._erase(x, y, HANDLE_PX / self._view.scale)
        else:
            self._draw_progress((x, y))

    def _on_up(self, event: dict) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        x, y = self._point(event)
        if drag[0] == "pan":
            self._view_changed()
        elif drag[0] == "box":
            x0, y0 = drag[1], drag[2]
            if min(abs(x - x0), abs(y - y0)) * self._view.scale >= 3:
                self._commit(shapely.box(min(x0, x), min(y0, y), max(x0, x), max(y0, y)), "box")
            else:
                self._draw_progress()
        elif drag[0] == "stroke":
            points = drag[1] if len(drag[1]) > 1 else [drag[1][0], (x + 0.01, y)]
            self._commit(LineString(points), "stroke", width=float(self._width.value))
        elif drag[0] == "move":
            shape, x0, y0 = drag[1], drag[2], drag[3]
            if (x, y) != (x0, y0):
                self._commit(affinity.translate(shape.geometry, x - x0, y - y0), shape.kind,
                             value=shape.value, label_id=shape.label_id, width=shape.width)
        elif drag[0] == "turn":
            shape = drag[1]
            self._commit(turned_toward(shape, x, y), "rotated_box", value=shape.value,
                         label_id=shape.label_id)
        elif drag[0] == "vertex":
            shape, index = drag[1], drag[2]
            geometry = move_vertex(shape, index, x, y)
            if geometry.is_valid:
                self._commit(geometry, shape.kind, value=shape.value,
                             label_id=shape.label_id, width=shape.width)
            else:
                self._say("⚠ that edit would make the shape cross itself; left as it was")
                self._draw_progress()

    # -- drawing tools -----------------------------------------------------------------------
    def _polygon_click(self, x: float, y: float, hole: bool, tolerance: float) -> None:
        if not self._polygon:
            self._polygon, self._hole = [(x, y)], hole
        elif len(self._polygon) >= 3 and np.hypot(x - self._polygon[0][0],
                                                  y - self._polygon[0][1]) <= tolerance:
            self._finish_polygon()
            return
        else:
            self._polygon.append((x, y))
        self._draw_progress((x, y))

    def _finish_polygon(self) -> None:
        points, hole = self._polygon, self._hole
        self._polygon, self._hole = [], False
        if len(points) < 3:
            self._draw_progress()
            return
        ring = shapely.make_valid(Polygon(points))
        if not isinstance(ring, Polygon) or ring.area == 0:
            self._say("⚠ that polygon crosses itself; draw it again")
            self._draw_progress()
            return
        if not hole:
            self._commit(ring, "polygon")
            return
        outer = [s for s in self.shapes if s.kind in ("polygon", "box")
                 and s.geometry.contains(ring)]
        if not outer:
            self._say("⚠ a hole (shift + polygon) must lie inside a polygon")
            self._draw_progress()
            return
        target = min(outer, key=lambda s: s.geometry.area)
        self._commit(with_hole(target.geometry, ring), "polygon", value=target.value,
                     label_id=target.label_id)

    def _select_at(self, x: float, y: float, tolerance: float) -> None:
        if self.selected is not None and self.selected.kind in TURNABLE and np.hypot(
                *np.subtract(turn_handle(self.selected, self._view.scale), (x, y))) <= tolerance:
            self._drag = ("turn", self.selected)
            return
        if self.selected is not None and self.selected.kind != "stroke":
            index = vertex_at(self.selected.geometry, x, y, tolerance)
            if index is not None:
                self._drag = ("vertex", self.selected, index)
                return
        self.selected = shape_at(self.shapes, x, y, tolerance)
        if self.selected is not None:
            self._drag = ("move", self.selected, x, y)
        self._draw_progress()

    def _erase(self, x: float, y: float, tolerance: float) -> None:
        shape = shape_at(self.shapes, x, y, tolerance)
        if shape is not None:
            self.store.delete_label(shape.label_id, labeler=self.labeler)
            self._changed(shape.kind)

    def _turn(self, degrees: float) -> None:
        """Turn the selected box about its centre (a box becomes a rotated box)."""
        shape = self.selected
        if shape is None or shape.kind not in TURNABLE:
            self._say("select a box to turn it (v, then click it)")
            return
        self._commit(turned_by(shape, degrees), "rotated_box", value=shape.value,
                     label_id=shape.label_id)

    def _delete(self) -> None:
        if self._polygon:
            self._polygon.pop()
            self._draw_progress()
        elif self.selected is not None:
            shape, self.selected = self.selected, None
            self.store.delete_label(shape.label_id, labeler=self.labeler)
            self._changed(shape.kind)

    def _cancel(self) -> None:
        self._polygon, self._drag, self.selected = [], None, None
        if self._view is not None:
            self._draw_progress()

    def _commit(self, geometry, kind: str, *, value: str | None = None,
                label_id: str | None = None, width: float = 0.0) -> None:
        """One finished shape: into the store, then onto the labels layer."""
        props = {"width": width} if kind == "stroke" else None
        label_id = label_id or uuid.uuid4().hex  # the same label if it is sent again
        self._unsaved.append(dict(image_id=self.current, geometry=geometry,
                                  value=value or self._class, task=self.task,
                                  labeler=self.labeler, kind=kind, label_id=label_id,
                                  props=props))
        if self._save_unsaved():
            self._changed(kind, select=label_id if self.selected is not None else None)
        else:
            self.shapes = [s for s in self.shapes if s.label_id != label_id]
            self.shapes.append(Shape(label_id, kind, value or self._class, geometry, width))
            self._draw_labels()
            self._draw_progress()

    def _save_unsaved(self) -> bool:
        """Send the shapes not yet in the store, oldest first; False if the server is
        still away (they are kept, and tried again in RETRY_EVERY seconds)."""
        saved = 0
        try:
            with self._saving():
                while self._unsaved:
                    self.store.annotate(**self._unsaved[0])
                    self._unsaved.pop(0)
                    saved += 1
        except StoreUnavailable as err:
            self._server_away()
            self._say(f"⚠ {err}. {len(self._unsaved)} shape(s) kept here, not yet saved: "
                      f"sent again every {RETRY_EVERY:.0f} s")
            if self._retry_timer is not None:
                self._retry_timer.cancel()
            self._retry_timer = threading.Timer(RETRY_EVERY, self._retry_unsaved)
            self._retry_timer.daemon = True
            self._retry_timer.start()
            return False
        if self._retry_timer is not None:  # it had been waiting for the server
            self._retry_timer.cancel()
            self._retry_timer = None
            self._say(f"The database is back: {saved} kept shape(s) saved.")
        return True

    def _retry_unsaved(self) -> None:
        with self._lock:
            kinds = {u["kind"] for u in self._unsaved}
            if kinds and self._save_unsaved() and self.current is not None:
                self._changed("stroke" if "stroke" in kinds else "polygon")

    def _changed(self, kind: str, select: str | None = None) -> None:
        self._reload()
        self.selected = next((s for s in self.shapes if s.label_id == select), None)
        self._draw_labels()
        self._draw_progress()
        self._show_position()
        if kind == "stroke":
            self._strokes_changed()

    def _revert(self, operation) -> None:
        if self.current is None:
            return
        changed = operation(task=self.task, labeler=self.labeler, image_id=self.current)
        if not changed:
            self._say("nothing to " + operation.__name__)
            return
        self._cancel()
        self._reload()
        self._draw_labels()
        self._show_position()
        self._strokes_changed()

    def _reload(self) -> None:
        """This image's shapes by this labeler, as the store has them."""
        rows = self.store.get_annotations(task=self.task, labeler=self.labeler,
                                          kinds=DRAWN_KINDS, image_ids=[self.current])
        self.shapes = [Shape(r.label_id, r.kind, r.value, r.geometry,
                             float((r.props or {}).get("width", 0.0)))
                       for r in rows.itertuples()]
        self.shapes += [Shape(u["label_id"], u["kind"], u["value"], u["geometry"],
                              float((u["props"] or {}).get("width", 0.0)))
                        for u in self._unsaved if u["image_id"] == self.current]

    # -- doodles to mask ---------------------------------------------------------------------
    def _strokes_changed(self) -> None:
        self._generation += 1
        strokes = {s.value for s in self.shapes if s.kind == "stroke"}
        if len(strokes) >= 2:
            self.predict(wait=False)
        elif self.prediction is not None:
            with self._lock:
                self.prediction = self._doodles = None
                _close(self._overlay)
                self._overlay = None
                self._predicted_for = -1
                self._draw_overlay()
            self._say("Doodle two or more classes to see the predicted mask.")

    def _predict(self, generation: int) -> None:
        try:
            with self._lock:  # the strokes and image of this generation, not the next
                if generation != self._generation or generation == self._predicted_for:
                    return
                doodles = self._doodle_raster()
                image = self._full_image()
            label = doodles_to_mask(image, doodles, n_classes=len(self.classes))
        except (DoodleError, UnreadableImage) as err:
            self._say(f"⚠ {err}")
            return
        colors = np.array([[int(255 * c) for c in to_rgb(self.colors.get(cls, "#ff0000"))]
                           for cls in self.classes], dtype=np.uint8)
        overlay = np.dstack([colors[label], np.full(label.shape, OVERLAY_ALPHA, np.uint8)])
        with self._lock:
            if generation != self._generation:
                return  # the strokes changed meanwhile; a newer prediction follows
            self.prediction, self._doodles = label, doodles
            self._predicted_for = generation
            _close(self._overlay)
            self._overlay = w.Image(value=encode_png(overlay), format="png")
            self._draw_overlay()
        self._say("Predicted mask shown: add doodles to correct it, "
                  f"accept ({self.shortcuts['actions']['accept_mask']}) to save it.")

    def _doodle_raster(self) -> np.ndarray:
        number = {cls: k + 1 for k, cls in enumerate(self.classes)}
        strokes = [(s.geometry, number[s.value], s.width) for s in self.shapes
                   if s.kind == "stroke" and s.value in number]
        return doodle_raster(strokes, (self._view.height, self._view.width))

    def _full_image(self) -> np.ndarray:
        view = self._view
        if max(view.width, view.height) > MAX_SEGMENT_SIZE:
            raise DoodleError(f"the image is {view.width} x {view.height} px; masks are "
                              f"predicted up to {MAX_SEGMENT_SIZE} px across: cut it into "
                              "chips first (geolabel chips)")
        return read_display_array(self.image_path(self.current), max(view.width, view.height), self._bands)

    # -- rendering ---------------------------------------------------------------------------
    def _zoom(self, action: str) -> None:
        view = self._view
        if action == "fit":
            view.reset()
        else:
            view.zoom(1.25 if action == "zoom_in" else 0.8, view.screen[0] / 2,
                      view.screen[1] / 2)
        self._view_changed()

    def _view_changed(self) -> None:
        self._redraw(sharp=False)
        if self._refine_timer is not None:
            self._refine_timer.cancel()
        self._refine_timer = threading.Timer(0.25, self._refine)
        self._refine_timer.start()

    def _refine(self) -> None:
        """Once zoomed in past the shown resolution, fetch the visible part sharp."""
        view = self._view
        if view is None or view.scale <= view.fit_scale * 2 * 1.25 or self._base is None:
            _close(self._sharp)
            self._sharp = None
            return
        box = view.visible()
        size = (max(1, round((box[2] - box[0]) * min(view.scale, 1))),
                max(1, round((box[3] - box[1]) * min(view.scale, 1))))
        try:
            region = read_display_region(self.image_path(self.current), box, size, self._bands)
        except UnreadableImage:
            return
        with self._lock:
            _close(self._sharp)
            self._sharp = (box, w.Image(value=encode_png(region), format="png"))
            self._draw_image()

    def _on_client_ready(self) -> None:
        """A view shown again draws from nothing: input waits until it has drawn."""
        if self._view is not None:
            with self._lock:
                self._redraw()
                self._screen.changed()

    def _redraw(self, sharp: bool = True) -> None:
        with self._lock, hold_canvas():
            if not sharp:
                _close(self._sharp)
                self._sharp = None
            self._draw_image()
            self._draw_overlay()
            self._draw_labels()
            self._draw_progress()
        self._show_position()

    def _layer(self, index: int):
        layer = self.canvas[index]
        layer.reset_transform()
        layer.clear()
        layer.set_transform(*self._view.transform())
        return layer

    def _draw_image(self) -> None:
        layer = self._layer(0)
        view = self._view
        if self._base is not None:
            layer.draw_image(self._base, 0, 0, view.width, view.height)
        if self._sharp is not None:
            (left, top, right, bottom), image = self._sharp
            layer.draw_image(image, left, top, right - left, bottom - top)

    def _draw_overlay(self) -> None:
        layer = self._layer(1)
        if self._overlay is not None:
            layer.draw_image(self._overlay, 0, 0, self._view.width, self._view.height)

    def _draw_labels(self) -> None:
        with hold_canvas():
            draw_shapes(self._layer(2), self.shapes, self.colors, self._view.scale)

    def _draw_progress(self, cursor: tuple[float, float] | None = None) -> None:
        """The shape being drawn and the selection, on the top layer."""
        layer = self._layer(3)
        scale = self._view.scale
        layer.line_width = 2 / scale
        layer.stroke_style = layer.fill_style = self.colors.get(self._class, "#ff0000")
        layer.set_line_dash([6 / scale, 4 / scale])
        drag = self._drag
        if drag is not None and drag[0] == "box" and cursor is not None:
            layer.stroke_rect(drag[1], drag[2], cursor[0] - drag[1], cursor[1] - drag[2])
        elif drag is not None and drag[0] == "stroke":
            layer.set_line_dash([])
            layer.line_width = self._width.value
            layer.line_cap = layer.line_join = "round"
            layer.stroke_lines(np.asarray(drag[1]))
        elif drag is not None and drag[0] in ("move", "vertex", "turn") and cursor is not None:
            shape = drag[1]
            moved = (affinity.translate(shape.geometry, cursor[0] - drag[2],
                                        cursor[1] - drag[3]) if drag[0] == "move"
                     else turned_toward(shape, *cursor) if drag[0] == "turn"
                     else move_vertex(shape, drag[2], *cursor))
            layer.stroke_style = self.colors.get(shape.value, "#ff0000")
            _outline(layer, moved, scale)
        if self._polygon:
            points = np.asarray(self._polygon + ([cursor] if cursor else []))
            layer.stroke_lines(points)
            layer.fill_circles(points[:1, 0], points[:1, 1], HANDLE_PX / scale)
        if self.selected is not None and (drag is None or
                                          drag[0] not in ("move", "vertex", "turn")):
            layer.set_line_dash([])
            layer.stroke_style = "#ffffff"
            _outline(layer, self.selected.geometry, scale)
            if self.selected.kind != "stroke":
                handles = vertices(self.selected.geometry)
                layer.fill_style = "#ffffff"
                layer.fill_rects(handles[:, 0] - 3 / scale, handles[:, 1] - 3 / scale,
                                 6 / scale)
            if self.selected.kind in TURNABLE:  # a round handle above: drag it to turn
                layer.fill_circle(*turn_handle(self.selected, scale), 5 / scale)
        layer.set_line_dash([])

    def _show_position(self) -> None:
        if self.current is None:
            return
        image = self._images.loc[self.current]
        status = self.store.status_of(self.current, task=self.task, labeler=self.labeler)
        counts = {k: sum(s.kind == k for s in self.shapes) for k in DRAWN_KINDS}
        drawn = ", ".join(f"{n} {k.replace('_', ' ')}"
                          f"{('es' if k.endswith('box') else 's') if n != 1 else ''}"
                          for k, n in counts.items() if n)
        zoom = self._view.scale / self._view.fit_scale if self._view is not None else 1.0
        self._where.value = (f"<b>{self.position + 1} / {len(self._queue)}</b> · "
                             f"{image['name']} · {status}"
                             + (f" · {drawn}" if drawn else "")
                             + (f" · zoom {zoom:.1f}×" if abs(zoom - 1) > 0.01 else ""))

    def _say(self, text: str) -> None:
        self.message.value = text


def _close(*images) -> None:
    """Close image widgets no longer drawn: each is a model the browser keeps otherwise.
    ``self._sharp`` is a (box, image) pair."""
    for image in images:
        image = image[1] if isinstance(image, tuple) else image
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


def _soft(color: str) -> str:
    """A class colour lightened for a button, so its text stays readable."""
    r, g, b = (0.55 + 0.45 * c for c in to_rgb(color))
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
