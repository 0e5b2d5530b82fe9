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
from typing import Sequence

import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets as t
from ipycanvas import hold_canvas
from ipyevents import Event

from ..imagery.display import (display_jpeg, encode_png, read_display_array,
                               read_display_region)
from ..imagery.header import UnreadableImage
from ..segment import DoodleError, doodle_raster
from ..store import LabelStore, StoreError
from .drawing import DRAWN_KINDS, Shape, View
from .gestures import Edit, Gesture, PolygonDraft
from .canvas_controls import TOOLS, CanvasControls
from .canvas_input import TURN_STEP, CanvasInput
from .keyboard import NAVIGATION_KEYS, key_map
from .layers import Layers
from .predicted import Predicted
from .prediction import MaskPredictor
from .screen import ScreenEcho
from .unsaved import UnsavedShapes
from .walker import QueueWalker

CANVAS_KEYS = {
    **{k: v for k, v in NAVIGATION_KEYS.items() if k != "review"},
    "box": "b", "polygon": "p", "point": "o", "brush": "d", "eraser": "e", "select": "v",
    "thinner": "[", "thicker": "]", "zoom_in": "+", "zoom_out": "-", "fit": "0",
    "predict": "m", "accept_mask": "a", "delete": "Backspace", "finish": "Enter",
    "cancel": "Escape", "turn_right": "r", "turn_left": "R",
    # a model's shapes: the selected one (else every one on the image) confirmed or rejected
    "accept_prediction": "g", "reject_prediction": "n",
}
MAX_SEGMENT_SIZE = 4096  # longest side a mask is predicted for; cut larger scenes into chips


class CanvasLabeler(CanvasInput, QueueWalker, w.VBox):
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
        self.predicted = Predicted(store, task, labeler)  # a model's, dashed
        self.selected: Shape | None = None
        self._gesture: Gesture | None = None  # a mouse button held down
        self._polygon = PolygonDraft()
        self._space = False
        self._view: View | None = None
        self._refine_timer: threading.Timer | None = None
        self._lock = threading.RLock()  # the prediction and retry threads draw too
        self.predictor = MaskPredictor(self._lock, self._prediction_inputs,
                                       self._show_prediction, self._say)
        self.unsaved = UnsavedShapes(store, self._lock, self._saving, self._server_away,
                                     self._saved_later, self._say)

        self.layers = Layers(display_size)
        self.canvas = self.layers.canvas
        # whether the browser shows the image we switched to; the layers share one
        # drawing queue, the one an answer waits for
        self._screen = ScreenEcho(drawing=self.canvas[0]._canvas_manager)
        self.controls = CanvasControls(
            self.classes, self.colors, self.shortcuts, brush_width, len(self._queue),
            act=self._act, choose_class=lambda c: setattr(self, "current_class", c),
            jump=self._on_jump)
        self.message = self.controls.message
        self._class = self.classes[0]
        self.controls.mark_class(self._class)
        self.controls.tools.observe(lambda _: self._cancel(), "value")
        super().__init__([*self.controls.above, self.canvas, *self.controls.below,
                          self._screen])
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
        self.controls.mark_class(name)
        if self.selected is not None and self.selected.value != name:
            shape = self.selected
            self._commit(Edit(shape.geometry, shape.kind, name, shape.label_id, shape.width))

    @property
    def tool(self) -> str:
        return self.controls.tools.value

    @tool.setter
    def tool(self, name: str) -> None:
        self.controls.tools.value = name

    def go(self, position: int) -> None:
        """Show the image at ``position`` in the queue (what is half-drawn is dropped);
        past either end, the first or last image."""
        with self._lock:
            try:
                self._go(position)
            finally:  # after the new image's drawing, so the answer comes once it is shown
                self._screen.changed()

    def _go(self, position: int) -> None:
        if position >= len(self._queue) - 1 and self._claim_more():
            self.controls.jump.max = len(self._queue)
        self.position = max(0, min(int(position), max(len(self._queue) - 1, 0)))
        self._polygon, self._gesture, self.selected = PolygonDraft(), None, None
        self.layers.clear()
        self.predictor.reset()
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
        self.layers.resize(screen)
        self._view = View(width, height, screen)
        try:
            jpeg, _ = display_jpeg(self.image_path(self.current), self.display_size * 2, self._bands)
            self.layers.set_image(jpeg)
            self._say("")
        except UnreadableImage as err:
            self._say(f"⚠ {image['name']} {err.reason}; labels can still be drawn.")
        self.controls.jump.value = self.position + 1
        self._reload()
        if self.predicted.mask is not None:
            self._show_prediction(None)
        self._redraw()

    def _move_to(self, position: int) -> None:
        self.go(position)

    def _restart(self, position: int) -> None:
        self.controls.jump.max = max(1, len(self._queue))
        self.go(position)

    def next(self) -> None:
        self.go(self.position + 1)

    def previous(self) -> None:
        self.go(self.position - 1)

    def undo(self) -> None:
        self._revert(self.store.undo)

    def redo(self) -> None:
        self._revert(self.store.redo)

    @property
    def prediction(self) -> np.ndarray | None:
        """The mask predicted from this image's doodles (class indices), if any."""
        return self.predictor.mask

    def predict(self, wait: bool = True) -> None:
        """Predict the mask from this image's doodles and show it over the image."""
        future = self.predictor.submit()
        if wait:
            future.result()

    def accept_mask(self) -> int | None:
        """Save the mask shown, with its pixel counts: the one predicted from the doodles
        (and the doodles), or with none drawn a model's (naming it); returns the row id."""
        if self.predicted.mask is not None and not any(s.kind == "stroke" for s in self.shapes):
            mask, classes = self.predicted.mask, self.predicted.mask_classes
            row = self.store.add_mask(self.current, mask, task=self.task, labeler=self.labeler,
                                      classes=classes, props=self.predicted.mask_props(False))
        else:
            latest = self.predictor.latest()
            if latest is None:
                return None
            (mask, doodles), classes = latest, self.classes
            self.store.add_mask(self.current, doodles, task=self.task, labeler=self.labeler,
                                classes=classes, kind="doodles")
            row = self.store.add_mask(self.current, mask, task=self.task, labeler=self.labeler,
                                      classes=classes, props=self.predicted.mask_props(True))
        share = np.bincount(mask.ravel(), minlength=len(classes)) / mask.size
        self._say("Saved the mask: " + ", ".join(
            f"{c} {100 * s:.0f}%" for c, s in zip(classes, share) if s > 0))
        self._show_position()
        return row

    def close(self) -> None:
        if hasattr(self, "_moves"):  # built whole (close runs after a failed __init__ too)
            self.predictor.close()
            self.unsaved.close()
            if self._refine_timer is not None:
                self._refine_timer.cancel()
            self._release_claims()
            self.layers.close()
            for widget in (self._clicks, self._moves, self._screen):
                widget.close()
        super().close()

    def _on_jump(self, position: int) -> None:
        if position != self.position:  # typed by the user, not set by go()
            self.go(position)

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
                self.controls.brush.value += -1 if action == "thinner" else 1
            elif action in ("zoom_in", "zoom_out", "fit"):
                self._zoom(action)
            elif action == "delete":
                self._delete()
            elif action in ("turn_right", "turn_left"):
                self._turn(TURN_STEP if action == "turn_right" else -TURN_STEP)
            elif action in ("accept_prediction", "reject_prediction"):
                self._answer_predictions(action == "accept_prediction")
            elif action == "finish":
                self._finish_polygon()
            elif action == "cancel":
                self._cancel()
        except (StoreError, DoodleError, UnreadableImage) as err:
            self._say(f"⚠ {err}")

    def _commit(self, edit: Edit) -> None:
        """One finished shape: into the store, then onto the labels layer. A predicted
        shape, as it is or edited, becomes a label of its own naming the prediction."""
        value = edit.value or self._class
        props = {"width": edit.width} if edit.kind == "stroke" else None
        if self.predicted.holds(edit.label_id):
            props, edit.label_id = self.predicted.props(edit), None
        label_id = edit.label_id or uuid.uuid4().hex  # the same label if it is sent again
        if self.unsaved.save(image_id=self.current, geometry=edit.geometry, value=value,
                             task=self.task, labeler=self.labeler, kind=edit.kind,
                             label_id=label_id, props=props):
            self._changed(edit.kind, select=label_id if self.selected is not None else None)
        else:
            self.shapes = [s for s in self.shapes if s.label_id != label_id]
            self.shapes.append(Shape(label_id, edit.kind, value, edit.geometry, edit.width))
            self._draw_labels()
            self._draw_progress()

    def _saved_later(self, kinds: set[str]) -> None:
        """Shapes kept while the server was away are in the store now."""
        if self.current is not None:
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
        self.shapes += self.unsaved.on(self.current)
        self.predicted.load(self.current, rows)

    def _answer_predictions(self, accept: bool) -> None:
        """Confirm (or reject) the selected predicted shape, else every one shown."""
        chosen = [self.selected] if self.selected is not None else self.predicted.shapes
        chosen = [s for s in chosen if self.predicted.holds(s.label_id)]
        if not chosen:
            self._say("no model shape here to " + ("accept" if accept else "reject") +
                      " (select one with v, or none for all)")
            return
        for shape in chosen:
            if accept:
                self._commit(self.predicted.as_is(shape))
            else:
                self.predicted.reject(shape)
        self.selected = None
        self._changed(chosen[0].kind)

    # -- doodles to mask ---------------------------------------------------------------------
    def _strokes_changed(self) -> None:
        self.predictor.strokes_changed(len({s.value for s in self.shapes if s.kind == "stroke"}))

    def _prediction_inputs(self) -> tuple[np.ndarray, np.ndarray, int]:
        """This image and its doodles as a raster (0: not doodled, k: class k-1)."""
        number = {cls: k + 1 for k, cls in enumerate(self.classes)}
        strokes = [(s.geometry, number[s.value], s.width) for s in self.shapes
                   if s.kind == "stroke" and s.value in number]
        doodles = doodle_raster(strokes, (self._view.height, self._view.width))
        return self._full_image(), doodles, len(self.classes)

    def _show_prediction(self, mask: np.ndarray | None) -> None:
        """The mask predicted from the doodles over the image, in the class colours; with
        none, a model's mask if there is one."""
        classes, key = self.classes, self.shortcuts["actions"]["accept_mask"]
        if mask is not None:
            self._say(f"Predicted mask shown: add doodles to correct it, accept ({key}) "
                      "to save it.")
        elif self.predicted.mask is not None:
            mask, classes = self.predicted.mask, self.predicted.mask_classes
            self._say(f"A model's mask is shown: accept it ({key}), or doodle to correct it.")
        self.layers.set_mask(mask, [self.colors.get(cls, "#ff0000") for cls in classes])
        self.layers.draw_mask(self._view)

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
        if view is None or view.scale <= view.fit_scale * 2 * 1.25 or self.layers.image is None:
            self.layers.set_sharp(None)
            return
        box = view.visible()
        size = (max(1, round((box[2] - box[0]) * min(view.scale, 1))),
                max(1, round((box[3] - box[1]) * min(view.scale, 1))))
        try:
            region = read_display_region(self.image_path(self.current), box, size, self._bands)
        except UnreadableImage:
            return
        with self._lock:
            self.layers.set_sharp(box, encode_png(region))
            self.layers.draw_image(view)

    def _on_client_ready(self) -> None:
        """A view shown again draws from nothing: input waits until it has drawn."""
        if self._view is not None:
            with self._lock:
                self._redraw()
                self._screen.changed()

    def _redraw(self, sharp: bool = True) -> None:
        with self._lock, hold_canvas():
            if not sharp:
                self.layers.set_sharp(None)
            self.layers.draw_image(self._view)
            self.layers.draw_mask(self._view)
            self._draw_labels()
            self._draw_progress()
        self._show_position()

    def _draw_labels(self) -> None:
        self.layers.draw_labels(self._view, self.shapes, self.colors, self.predicted.shapes)

    def _draw_progress(self, cursor: tuple[float, float] | None = None) -> None:
        """The shape being drawn and the selection, on the top layer."""
        self.layers.draw_drawing(self._view, self.colors, self._class, self.controls.brush.value,
                                 self._gesture, self._polygon.points, self.selected, cursor)

    def _show_position(self) -> None:
        if self.current is not None:
            zoom = self._view.scale / self._view.fit_scale if self._view is not None else 1.0
            self.controls.show_where(
                self.position, len(self._queue), self._images.at[self.current, "name"],
                self.store.status_of(self.current, task=self.task, labeler=self.labeler),
                self.shapes, zoom, len(self.predicted.shapes))

    def _say(self, text: str) -> None:
        self.message.value = text
