"""How the mouse and keys on the canvas become the CanvasLabeler's edits.

Each event is first checked against the image on screen (``ScreenEcho``): input
made before the browser showed the current image is not applied. A held key
acts once. Then a key chooses a class or runs an action, and a mouse press
starts a gesture (``gestures.py``) that its release turns into an edit.
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import Point

from ..imagery.header import UnreadableImage
from ..segment import DoodleError
from ..store import StoreError
from .canvas_controls import TOOLS
from .drawing import HANDLE_PX, TURNABLE, shape_at, turn_handle, turned_by, vertex_at
from .gestures import (BoxDrag, Edit, EraseDrag, MoveDrag, Pan, PolygonDraft, StrokeDrag,
                       TurnDrag, VertexDrag, released)

TURN_STEP = 5.0  # degrees a key turns the selected box
# what a key may still do before the new image is on screen: nothing tied to an image
BEFORE_SHOWN = {"next", "previous", "first_unlabeled", "thinner", "thicker", "zoom_in",
                "zoom_out", "fit", "cancel", *TOOLS}


class CanvasInput:
    """The CanvasLabeler's event handlers. They change its drawing state
    (``_gesture``, ``_polygon``, ``selected``, ``_space``, ``current_class``, ``tool``)
    and call on it: ``_act`` for a key's action, ``_commit`` for a finished shape,
    ``_changed`` after a deletion, ``_draw_progress`` / ``_redraw`` / ``_view_changed``
    to show the rest, and ``_say``; a model's shapes are ``predicted``'s."""

    def _on_event(self, event: dict) -> None:
        if self._view is None:
            return
        if event.get("repeat"):
            if self._key_action(event) is not None:
                self._say("Holding a key acts once: press it again.")
            return
        if not self._screen.is_current and not self._before_shown(event):
            self._say(self._screen.not_applied(event["type"] in ("mousedown", "keydown"),
                                               self._images.at[self.current, "name"]))
            return
        with self._lock:  # the prediction worker draws too
            try:
                self._dispatch(event)
            except (StoreError, DoodleError, UnreadableImage) as err:
                self._gesture = None
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
        if event.get("button") == 1 or self._space or event.get("ctrlKey"):
            self._gesture = Pan(event["relativeX"], event["relativeY"])
            return
        tolerance = HANDLE_PX / self._view.scale
        tool = self.tool
        if tool == "box":
            self._gesture = BoxDrag(x, y)
        elif tool == "polygon":
            if self._polygon.click(x, y, event.get("shiftKey", False), tolerance):
                self._finish_polygon()
            else:
                self._draw_progress((x, y))
        elif tool == "point":
            self._commit(Edit(Point(x, y), "point"))
        elif tool == "brush":
            self._gesture = StrokeDrag([(x, y)])
            self._draw_progress()
        elif tool == "eraser":
            self._gesture = EraseDrag()
            self._erase(x, y, tolerance)
        elif tool == "select":
            self._select_at(x, y, tolerance)

    def _on_move(self, event: dict) -> None:
        x, y = self._point(event)
        gesture = self._gesture
        if gesture is None:
            if self._polygon.points:
                self._draw_progress((x, y))
        elif isinstance(gesture, Pan):
            self._view.pan(event["relativeX"] - gesture.x, event["relativeY"] - gesture.y)
            gesture.x, gesture.y = event["relativeX"], event["relativeY"]
            self._redraw(sharp=False)
        elif isinstance(gesture, StrokeDrag):
            gesture.points.append((x, y))
            self._draw_progress()
        elif isinstance(gesture, EraseDrag):
            self._erase(x, y, HANDLE_PX / self._view.scale)
        else:
            self._draw_progress((x, y))

    def _on_up(self, event: dict) -> None:
        gesture, self._gesture = self._gesture, None
        if isinstance(gesture, Pan):
            self._view_changed()
        elif gesture is not None:
            x, y = self._point(event)
            self._made(released(gesture, x, y, self._view.scale, self.controls.brush.value))

    # -- drawing tools -----------------------------------------------------------------------
    def _finish_polygon(self) -> None:
        self._made(self._polygon.close(self.shapes))

    def _made(self, made: Edit | str | None) -> None:
        """Commit what a gesture made, or say why it made nothing."""
        if isinstance(made, Edit):
            self._commit(made)
            return
        if made is not None:
            self._say(made)
        self._draw_progress()

    def _select_at(self, x: float, y: float, tolerance: float) -> None:
        if self.selected is not None and self.selected.kind in TURNABLE and np.hypot(
                *np.subtract(turn_handle(self.selected, self._view.scale), (x, y))) <= tolerance:
            self._gesture = TurnDrag(self.selected)
            return
        if self.selected is not None and self.selected.kind != "stroke":
            index = vertex_at(self.selected.geometry, x, y, tolerance)
            if index is not None:
                self._gesture = VertexDrag(self.selected, index)
                return
        self.selected = shape_at(self.shapes + self.predicted.shapes, x, y, tolerance)
        if self.selected is not None:
            self._gesture = MoveDrag(self.selected, x, y)
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
        self._commit(Edit(turned_by(shape, degrees), "rotated_box", shape.value, shape.label_id))

    def _delete(self) -> None:
        if self._polygon.points:
            self._polygon.points.pop()
            self._draw_progress()
        elif self.selected is not None:
            shape, self.selected = self.selected, None
            if self.predicted.holds(shape.label_id):  # a model's shape deleted: rejected
                self.predicted.reject(shape)
            else:
                self.store.delete_label(shape.label_id, labeler=self.labeler)
            self._changed(shape.kind)

    def _cancel(self) -> None:
        self._polygon, self._gesture, self.selected = PolygonDraft(), None, None
        if self._view is not None:
            self._draw_progress()
