"""The CanvasLabeler's buttons and read-outs around its canvas: tools, brush width,
undo and redo, a button per class, moving through the queue, where it is, the
message line and the keys' help. Each button names its key; a press calls back."""

from __future__ import annotations

from typing import Callable

import ipywidgets as w
from matplotlib.colors import to_rgb

from .drawing import DRAWN_KINDS, Shape
from .keyboard import help_line, key_name

TOOLS = ("box", "polygon", "point", "brush", "eraser", "select")


class CanvasControls:
    def __init__(self, classes: list[str], colors: dict[str, str], shortcuts: dict,
                 brush_width: int, queue_length: int, act: Callable[[str], None],
                 choose_class: Callable[[str], None], jump: Callable[[int], None]):
        actions = shortcuts["actions"]
        self.tools = w.ToggleButtons(
            options=[(f"{t} ({key_name(actions[t])})", t) for t in TOOLS], value="polygon",
            style={"button_width": "auto"})
        self.brush = w.IntSlider(value=brush_width, min=1, max=64, description="brush px",
                                 continuous_update=False, layout={"width": "260px"})
        buttons = {}
        for name, label in (("undo", "undo"), ("redo", "redo"), ("previous", "◀"),
                            ("next", "▶"), ("predict", "predict mask"),
                            ("accept_mask", "accept mask")):
            buttons[name] = w.Button(description=f"{label} ({key_name(actions[name])})",
                                     layout={"width": "auto"})
            buttons[name].on_click(lambda _, n=name: act(n))
        self.class_buttons = []
        for cls in classes:
            button = w.Button(description=f"{shortcuts['classes'][cls]} {cls}",
                              layout={"width": "auto"},
                              style={"button_color": _soft(colors.get(cls, "#cccccc"))})
            button.on_click(lambda _, c=cls: choose_class(c))
            self.class_buttons.append(button)
        self._classes = classes
        self.jump = w.BoundedIntText(value=1, min=1, max=max(1, queue_length), description="image",
                                     layout={"width": "150px"})
        self.jump.observe(lambda change: jump(change["new"] - 1), "value")
        self.where = w.HTML()
        self.message = w.HTML()

        self.above = [w.HBox([self.tools, self.brush, buttons["undo"], buttons["redo"]],
                             layout={"flex_flow": "row wrap"}),
                      w.HBox(self.class_buttons, layout={"flex_flow": "row wrap"})]
        self.below = [
            w.HBox([buttons["previous"], buttons["next"], self.jump, self.where,
                    buttons["predict"], buttons["accept_mask"]],
                   layout={"flex_flow": "row wrap", "align_items": "center"}),
            self.message,
            w.HTML(f"<small>{help_line(shortcuts)} · drag with space or ctrl: pan · wheel: "
                   "zoom · shift+polygon: hole · a selected box's round handle: turn "
                   "it</small>")]

    def show_where(self, position: int, length: int, name: str, status: str,
                   shapes: list[Shape], zoom: float, predicted: int = 0) -> None:
        """Where in the queue, which image, its status, what is drawn on it (and how
        many of a model's shapes wait for an answer), the zoom."""
        counts = {k: sum(s.kind == k for s in shapes) for k in DRAWN_KINDS}
        drawn = ", ".join(f"{n} {k.replace('_', ' ')}"
                          f"{('es' if k.endswith('box') else 's') if n != 1 else ''}"
                          for k, n in counts.items() if n)
        self.where.value = (f"<b>{position + 1} / {length}</b> · {name} · {status}"
                            + (f" · {drawn}" if drawn else "")
                            + (f" · {predicted} shown by a model" if predicted else "")
                            + (f" · zoom {zoom:.1f}×" if abs(zoom - 1) > 0.01 else ""))

    def mark_class(self, name: str) -> None:
        for button, cls in zip(self.class_buttons, self._classes):
            button.icon = "check" if cls == name else ""


def _soft(color: str) -> str:
    """A class colour lightened for a button, so its text stays readable."""
    r, g, b = (0.55 + 0.45 * c for c in to_rgb(color))
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
