"""A model's shapes and mask on the image shown, as pre-annotations of the CanvasLabeler.

Its shapes are drawn dashed and are selected, moved, reshaped, turned or given
another class like any shape. Confirming one, as it is or edited, makes it this
labeler's label, whose props name the prediction (and whether it was edited);
rejecting one keeps a row saying so. Either way it is answered, and no longer drawn.
Its mask is shown over the image until doodles predict another; accepting the mask
saves the one shown, naming the prediction either way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..store import LabelStore
from .drawing import DRAWN_KINDS, Shape
from .gestures import Edit

PREFIX = "prediction/"  # the label id a predicted shape carries until it is confirmed


class Predicted:
    def __init__(self, store: LabelStore, task: str, labeler: str):
        self.store, self.task, self.labeler = store, task, labeler
        self.shapes: list[Shape] = []  # not yet answered by this labeler
        self._models: dict[str, str] = {}  # label id -> the model that predicted it
        self.mask: np.ndarray | None = None  # the newest mask prediction
        self.mask_classes: list[str] = []  # what its values stand for
        self._mask_source: dict | None = None  # its prediction id and model

    def load(self, image_id: str, labels: pd.DataFrame) -> None:
        """The image's predicted shapes that ``labels`` (this labeler's on it) and their
        rejections have not answered."""
        rejected = self.store.get_annotations(task=self.task, labeler=self.labeler,
                                              kinds=["rejection"], image_ids=[image_id])
        answered = {(props or {}).get("prediction_id")
                    for props in [*labels["props"], *rejected["props"]]}
        rows = self.store.predictions(task=self.task, image_ids=[image_id],
                                      kinds=[*DRAWN_KINDS, "mask"])
        masks, rows = rows[rows["kind"] == "mask"], rows[rows["kind"] != "mask"]
        rows = rows[~rows["prediction_id"].isin(answered)]
        self.shapes = [Shape(f"{PREFIX}{r.prediction_id}", r.kind, r.value, r.geometry, 0.0)
                       for r in rows.itertuples()]
        self._models = {f"{PREFIX}{r.prediction_id}": r.model for r in rows.itertuples()}
        if not len(masks):
            self.mask = self._mask_source = None
            return
        newest = masks.iloc[-1]
        source = {"prediction_id": int(newest["prediction_id"]), "model": newest["model"]}
        if source != self._mask_source:  # read once, not again after each edit
            self.mask, self.mask_classes = self.store.predicted_mask(source["prediction_id"])
            self._mask_source = source

    def mask_props(self, edited: bool) -> dict | None:
        """What a mask saved while the model's was shown keeps of it (None: none was)."""
        return None if self._mask_source is None else {**self._mask_source, "edited": edited}

    def holds(self, label_id: str | None) -> bool:
        return bool(label_id) and label_id in self._models

    def props(self, edit: Edit) -> dict:
        """What a label made from the predicted shape ``edit`` changes keeps of it."""
        shape = next(s for s in self.shapes if s.label_id == edit.label_id)
        edited = edit.value not in (None, shape.value) or edit.kind != shape.kind or \
            not edit.geometry.equals(shape.geometry)
        return {"prediction_id": int(edit.label_id[len(PREFIX):]),
                "model": self._models[edit.label_id], "edited": edited}

    def as_is(self, shape: Shape) -> Edit:
        """Confirming a predicted shape unchanged."""
        return Edit(shape.geometry, shape.kind, shape.value, shape.label_id)

    def reject(self, shape: Shape) -> None:
        self.store.reject_prediction(int(shape.label_id[len(PREFIX):]), labeler=self.labeler)
