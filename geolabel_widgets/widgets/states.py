"""What the map colours an image by: the status, main class and last labeler of its
labels, and a model's class for it, how confident that is, and whether the labels
agree with it."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..store import LabelStore

CONFIDENCE = ("90% or more", "70 to 90%", "50 to 70%", "under 50%", "no score")
AGREEMENT = ("agrees", "disagrees", "not labeled yet")
NO_PREDICTION = "no prediction"


def read_states(store: LabelStore, task: str | None, labeler: str | None,
                image_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per image with labels or predictions, indexed by image_id: ``seq``,
    ``status``, ``class``, ``labeler``, ``prediction``, ``confidence``, ``agreement``."""
    labels = store.image_states(task, labeler, image_ids=image_ids)
    predicted = store.prediction_states(task, image_ids=image_ids)
    states = labels.join(predicted[["prediction", "score"]], how="outer")
    states["seq"] = labels["seq"].combine_first(predicted["seq"]).reindex(states.index)
    score = states["score"]
    states["confidence"] = np.select(
        [score >= 0.9, score >= 0.7, score >= 0.5, score < 0.5,
         states["prediction"].notna()], list(CONFIDENCE), default=None)
    labeled = states["class"].notna()
    states["agreement"] = np.select(
        [labeled & (states["class"] == states["prediction"]),
         labeled & states["prediction"].notna(), states["prediction"].notna()],
        list(AGREEMENT), default=None)
    states["seq"] = states["seq"].astype("int64")
    return states.drop(columns="score").replace({None: np.nan})
