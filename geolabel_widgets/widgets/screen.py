"""What the browser shows: which of the kernel's image changes are on screen yet.

A widget drawn by the kernel (the canvas) changes its image in the kernel first;
the browser shows it a round trip later. Mouse and key events made in between
were made on the image before. ``ScreenEcho`` asks every view to answer once it
has drawn a change; until the answer arrives, input belongs to the image before.
"""

from __future__ import annotations

from pathlib import Path

import anywidget


class ScreenEcho(anywidget.AnyWidget):
    """An invisible companion: ``changed()`` after each new image, ``is_current``
    whether the browser has shown the latest one."""

    _esm = Path(__file__).with_name("screen.js")

    def __init__(self):
        super().__init__()
        self._asked = self._answered = 0
        self._heard = False  # no view has ever answered: none is there to be behind
        self.on_msg(self._on_message)

    def changed(self) -> None:
        self._asked += 1
        self.send({"type": "shown?", "n": self._asked})

    @property
    def is_current(self) -> bool:
        return not self._heard or self._answered >= self._asked

    def _on_message(self, _widget, content: dict, _buffers) -> None:
        if content.get("type") == "view":  # from now on, input waits for its answers
            self._heard = True
            self.send({"type": "shown?", "n": self._asked})
        elif content.get("type") == "shown":
            self._answered = max(self._answered, int(content["n"]))
