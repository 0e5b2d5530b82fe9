"""What the browser shows: which of the kernel's image changes are on screen yet.

A widget drawn by the kernel (the canvas) changes its image in the kernel first;
the browser shows it a round trip later, and ipycanvas draws (decoding images on
the way) on a queue of its own after that. Mouse and key events made in between
were made on the image before. ``ScreenEcho`` asks every view to answer once it
has drawn a change; until an answer arrives, input belongs to the image before.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets as t
from ipywidgets import Widget, widget_serialization


class ScreenEcho(anywidget.AnyWidget):
    """An invisible companion: ``changed()`` after each new image, ``is_current``
    whether the browser has shown the latest one, ``heard`` whether any view has
    answered at all (none has while the page is still loading the widget)."""

    _esm = Path(__file__).with_name("screen.js")
    # the ipycanvas model whose drawing queue an answer waits for
    drawing = t.Instance(Widget, allow_none=True).tag(sync=True, **widget_serialization)

    def __init__(self, drawing: Widget | None = None):
        super().__init__(drawing=drawing)
        self._asked = self._answered = 0
        self._refused = 0  # presses made on the image before, since the last change
        self.heard = False
        self.on_msg(self._on_message)

    def changed(self) -> None:
        self._asked += 1
        self._refused = 0
        self.send({"type": "shown?", "n": self._asked})

    @property
    def is_current(self) -> bool:
        return self.heard and self._answered >= self._asked

    def not_applied(self, press: bool, name: str) -> str:
        """Count an input (``press``: a click or key, not a move) made before ``name``
        was on screen; what to tell the person."""
        self._refused += press
        if self.heard:
            return (f"⚠ {self._refused} click(s) or key(s) made before {name} was on screen "
                    "were not applied (they were meant for the image before it).")
        return (f"⚠ {self._refused} click(s) or key(s) not applied: the browser has not yet "
                f"said that it shows {name} (the page is still loading the canvas).")

    def _on_message(self, _widget, content: dict, _buffers) -> None:
        if content.get("type") == "view":  # a new view: ask it about the image now
            self.send({"type": "shown?", "n": self._asked})
        elif content.get("type") == "shown":
            self.heard = True
            self._answered = max(self._answered, int(content["n"]))
