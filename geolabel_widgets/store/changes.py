"""Telling widgets which images a committed write changed (a map recolours them).

Listeners hear of a transaction only once it has committed, so a rolled-back
write never recolours anything. Bound methods are held weakly: a widget that is
gone stops listening by itself.
"""

from __future__ import annotations

import threading
import types
import warnings
import weakref
from contextlib import contextmanager
from typing import Callable

Change = tuple[str, str]  # (task title, image_id)
Listener = Callable[[list[Change]], None]


class ChangeFeed:
    def __init__(self):
        self._listeners: list[Callable[[], Listener | None]] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        ref = (weakref.WeakMethod(listener) if isinstance(listener, types.MethodType)
               else lambda: listener)
        with self._lock:
            self._listeners.append(ref)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners = [ref for ref in self._listeners if ref() not in (None, listener)]

    def record(self, task: str, image_id: str) -> None:
        changes = getattr(self._local, "changes", None)
        if changes is not None:
            changes[(task, image_id)] = None

    @contextmanager
    def collecting(self):
        """Record the changes made inside; tell listeners if the block succeeds."""
        if getattr(self._local, "changes", None) is not None:  # nested: the outer one tells
            yield
            return
        self._local.changes = changes = {}
        try:
            yield
        finally:
            self._local.changes = None
        if changes:
            self._tell(list(changes))

    def _tell(self, changes: list[Change]) -> None:
        with self._lock:
            listeners = [ref() for ref in self._listeners]
            self._listeners = [ref for ref, live in zip(self._listeners, listeners) if live]
        for listener in listeners:
            if listener is None:
                continue
            try:
                listener(changes)
            except Exception as err:  # the label is saved; a widget's failure must not undo that
                warnings.warn(f"a store listener failed after a saved change: {err!r}",
                              RuntimeWarning, stacklevel=3)
