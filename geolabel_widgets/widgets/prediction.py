"""The mask predicted from one image's doodles, made in a worker thread.

Every change of the strokes (or of the image) starts a new generation; a
prediction finished for an older generation is dropped, so what is shown, and
what is accepted, always comes from the latest strokes.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

from ..imagery.header import UnreadableImage
from ..segment import DoodleError, doodles_to_mask


class MaskPredictor:
    """Predicts in the background; ``lock`` is the canvas's, under which its inputs
    are read and each result is handed to ``shown`` (the mask, or None to clear)."""

    def __init__(self, lock: threading.RLock,
                 inputs: Callable[[], tuple[np.ndarray, np.ndarray, int]],
                 shown: Callable[[np.ndarray | None], None], say: Callable[[str], None]):
        self._lock = lock
        self._inputs = inputs  # (image, doodle raster, number of classes) of this generation
        self._shown = shown
        self._say = say
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geolabel-segment")
        self.generation = 0
        self.mask: np.ndarray | None = None  # class indices, full resolution
        self.doodles: np.ndarray | None = None  # the doodle raster the mask came from
        self._made_for = -1  # the generation self.mask belongs to

    def reset(self) -> None:
        """A new image: nothing predicted."""
        self.generation += 1
        self.mask = self.doodles = None
        self._made_for = -1

    def strokes_changed(self, classes_doodled: int) -> None:
        """Predict again once two classes are doodled; with fewer, clear the mask."""
        self.generation += 1
        if classes_doodled >= 2:
            self.submit()
        elif self.mask is not None:
            with self._lock:
                self.mask = self.doodles = None
                self._made_for = -1
                self._shown(None)
            self._say("Doodle two or more classes to see the predicted mask.")

    def submit(self) -> Future:
        return self._worker.submit(self._predict, self.generation)

    def wait(self) -> None:
        """Return once every prediction asked for so far is done."""
        self._worker.submit(lambda: None).result()

    def latest(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The mask and doodles of the current strokes, predicted now if the one shown
        is older; None if there is none to make."""
        with self._lock:
            if self._made_for != self.generation:
                self._predict(self.generation)
            if self._made_for != self.generation:
                return None
            return self.mask, self.doodles

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _predict(self, generation: int) -> None:
        try:
            with self._lock:  # the strokes and image of this generation, not the next
                if generation != self.generation or generation == self._made_for:
                    return
                image, doodles, n_classes = self._inputs()
            mask = doodles_to_mask(image, doodles, n_classes=n_classes)
        except (DoodleError, UnreadableImage) as err:
            self._say(f"⚠ {err}")
            return
        with self._lock:
            if generation != self.generation:
                return  # the strokes changed meanwhile; a newer prediction follows
            self.mask, self.doodles, self._made_for = mask, doodles, generation
            self._shown(mask)
