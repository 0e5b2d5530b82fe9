"""Finished shapes the store could not take yet, because its database server went away.

They stay drawn, are listed as unsaved, and are sent again, oldest first, every
``RETRY_EVERY`` seconds until the store has them. Each keeps the label id chosen
when it was drawn, so a shape sent twice is still one label.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Callable

from ..store import LabelStore, StoreUnavailable
from .drawing import Shape
from .walker import RETRY_EVERY


class UnsavedShapes:
    def __init__(self, store: LabelStore, lock: threading.RLock,
                 saving: Callable[[], AbstractContextManager],
                 server_away: Callable[[], None],
                 saved_later: Callable[[set[str]], None], say: Callable[[str], None]):
        self._store = store
        self._lock = lock  # the canvas's: a retry runs on a timer's thread
        self._saving = saving  # how long a save may wait for an absent server
        self._server_away = server_away
        self._saved_later = saved_later  # told the kinds saved by a retry
        self._say = say
        self._waiting: list[dict] = []  # store.annotate's arguments, oldest first
        self._timer: threading.Timer | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def save(self, **annotation) -> bool:
        """Send this shape (``store.annotate``'s arguments) after those still waiting;
        False if the server is still away (it is kept and sent again later)."""
        self._waiting.append(annotation)
        return self._send()

    def on(self, image_id: str) -> list[Shape]:
        """The shapes on this image not yet saved, to draw beside the saved ones."""
        return [Shape(u["label_id"], u["kind"], u["value"], u["geometry"],
                      float((u["props"] or {}).get("width", 0.0)))
                for u in self._waiting if u["image_id"] == image_id]

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _send(self) -> bool:
        saved = 0
        try:
            with self._saving():
                while self._waiting:
                    self._store.annotate(**self._waiting[0])
                    self._waiting.pop(0)
                    saved += 1
        except StoreUnavailable as err:
            self._server_away()
            self._say(f"⚠ {err}. {len(self._waiting)} shape(s) kept here, not yet saved: "
                      f"sent again every {RETRY_EVERY:.0f} s")
            self.close()
            self._timer = threading.Timer(RETRY_EVERY, self._retry)
            self._timer.daemon = True
            self._timer.start()
            return False
        if self._timer is not None:  # it had been waiting for the server
            self._timer.cancel()
            self._timer = None
            self._say(f"The database is back: {saved} kept shape(s) saved.")
        return True

    def _retry(self) -> None:
        with self._lock:
            kinds = {u["kind"] for u in self._waiting}
            if kinds and self._send():
                self._saved_later(kinds)
