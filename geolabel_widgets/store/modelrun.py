"""Any model in the loop: ``predict(image_ids) -> DataFrame`` called in a background
thread on the images a labeler will see next, a batch at a time, each batch's
predictions written as it comes back.

A model that raises, hangs or answers with something wrong stops its own run with
a note saying why; no label depends on it, so the labeler goes on.
"""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from typing import Callable, Sequence

import pandas as pd

from .types import StoreError, chunks

Predict = Callable[[Sequence[str]], pd.DataFrame]


class ModelRun:
    """One model's run over a task's images (see ``LabelStore.add_model``): ``predicted``
    counts the rows written, ``note`` says why it stopped early, ``wait()`` until done."""

    def __init__(self, store, task: str, predict: Predict, *, model: str,
                 version: str | None, labeler: str | None, batch: int, timeout: float,
                 progress: bool):
        if batch < 1:
            raise StoreError(f"a model's batch is one image or more, not {batch!r}")
        self.store, self.task, self.model, self.version = store, task, model, version
        self._predict, self._labeler, self._batch = predict, labeler, batch
        self._timeout, self._progress = timeout, progress
        self.predicted = 0
        self.note: str | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"geolabel-model-{model}")
        self._thread.start()

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; False if ``timeout`` ran out first."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        """Stop after the batch in hand."""
        self._stop.set()

    def __repr__(self) -> str:
        state = "running" if self.running else self.note or "done"
        return f"<ModelRun {self.model!r} on {self.task!r}: {self.predicted} predicted, {state}>"

    def _images(self) -> list[str]:
        """The labeler's queue (or every image of the task), less those predicted."""
        store = self.store
        ids = (store.queue(self.task, self._labeler) if self._labeler is not None
               else store.queue(self.task, None, status=None))
        have = set(store.predictions(task=self.task, model=self.model)["image_id"])
        return [image_id for image_id in ids if image_id not in have]

    def _run(self) -> None:
        from tqdm.auto import tqdm

        # the model runs in a thread of its own, so that a hang is seen and left behind
        caller = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{self.model}")
        try:
            ids = self._images()
            with tqdm(total=len(ids), desc=f"{self.model} predicting", unit="image",
                      disable=not self._progress) as bar:
                for chunk in chunks(ids, self._batch):
                    if self._stop.is_set():
                        break
                    self.predicted += self._one_batch(caller, chunk)
                    bar.update(len(chunk))
        except Exception as err:  # a bug or a store gone: say so, the labels are safe
            self._stopped(f"failed: {type(err).__name__}: {err}")
        finally:
            caller.shutdown(wait=False, cancel_futures=True)
            self._done.set()

    def _one_batch(self, caller: ThreadPoolExecutor, chunk: list[str]) -> int:
        try:
            frame = caller.submit(self._predict, list(chunk)).result(timeout=self._timeout)
        except TimeoutError:
            self._stopped(f"has not answered in {self._timeout:g} s for {len(chunk)} images "
                          "and was left behind")
            return 0
        except Exception as err:
            self._stopped(f"raised {type(err).__name__}: {err} on {len(chunk)} images")
            return 0
        if not isinstance(frame, pd.DataFrame) or "image_id" not in frame:
            self._stopped("answered with no DataFrame of image_id, value (and score) rows")
            return 0
        stray = set(map(str, frame["image_id"])) - set(chunk)
        if stray:
            self._stopped(f"predicted {len(stray)} image(s) it was not asked about")
            return 0
        try:
            return self.store.add_predictions(frame, task=self.task, model=self.model,
                                              version=self.version)
        except StoreError as err:
            self._stopped(f"gave predictions the store refused: {err}")
            return 0

    def _stopped(self, why: str) -> None:
        self.note = (f"model {self.model!r} {why}; its run stopped after {self.predicted} "
                     "predictions (labeling goes on)")
        self._stop.set()
        warnings.warn(self.note, RuntimeWarning, stacklevel=2)
