"""A learner that works with no model at hand: a scikit-learn classifier of a tag task's
images, fitted on the tags people make and fitted again, in a thread of its own, as
more arrive. Its predictions are rows like any model's, so the tagger shows them and
an uncertain queue follows them."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pandas as pd

from ..store import LabelStore, StoreError
from .features import FEATURES, add_image_features

LEARNER = "learner"  # the model name its predictions carry
CHANGE = 0.02  # a prediction whose class holds and whose score moves less is not rewritten


def default_classifier():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


class Learner:
    """Fit ``classifier`` (any scikit-learn classifier with ``predict_proba``; default:
    a logistic regression on standardised features) on the current tags of ``task``
    and predict every image no one has tagged, with a score per class.

    ``start()`` listens to the store: each committed tag of the task asks for a new
    fit, made in the learner's thread, so a labeler's key press never waits for it.
    ``fit_predict()`` does one round here and now. The images' features are the set
    ``features``, computed for images that have none with ``embed`` (any model's
    embedding, as ``add_image_features`` takes it; by default the built-in colour and
    texture statistics). A set of another name with no ``embed`` is used as stored:
    images without it are left out.
    """

    def __init__(self, store: LabelStore, task: str, *, features: str = FEATURES,
                 embed=None, classifier=None, name: str = LEARNER):
        tasks = store.tasks
        if task not in tasks.index:
            raise StoreError(f"no task named {task!r}; create it with store.add_task")
        if tasks.loc[task, "type"] not in ("tag", "classification"):
            raise StoreError(f"the learner predicts one class per image; task {task!r} is "
                             f"{tasks.loc[task, 'type']!r}")
        self.store, self.task, self.features, self.name = store, task, features, name
        self.embed = embed
        self.classifier = classifier if classifier is not None else default_classifier()
        self.fits = 0  # rounds made
        self.note: str | None = None  # why the last round failed, if it did
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def fit_predict(self) -> int:
        """Fit on the tags made so far and predict the untagged images; returns how
        many predictions were written (0 until two classes have been tagged). Only
        what changed is written: the same class, its score within ``CHANGE``, stays,
        so history grows with what the learner learned, not with each fit."""
        from sklearn.base import clone

        ids = self.store.queue(self.task, None, status=None)
        if self.embed is not None or self.features == FEATURES:
            add_image_features(self.store, ids, name=self.features, embed=self.embed,
                               progress=False)
        x = self.store.features(self.features, image_ids=ids)
        tags = self.store.get_annotations(task=self.task, kinds=["tag"])
        # an image's class: its latest tag, whoever made it
        y = tags.drop_duplicates("image_id", keep="last").set_index("image_id")["value"]
        y = y[y.index.isin(x.index)]
        if y.nunique() < 2:
            return 0
        model = clone(self.classifier).fit(x.loc[y.index].to_numpy(), y.to_numpy())
        rest = x.index[~x.index.isin(y.index)]
        if rest.empty:
            return 0
        proba = model.predict_proba(x.loc[rest].to_numpy())
        classes = [str(c) for c in model.classes_]
        best = proba.argmax(axis=1)
        frame = pd.DataFrame({
            "image_id": rest, "value": np.asarray(classes)[best],
            "score": proba[np.arange(len(rest)), best].clip(0, 1),
            "scores": [dict(zip(classes, np.round(row, 4).clip(0, 1).tolist()))
                       for row in proba]})
        before = self.store.predictions(task=self.task, model=self.name,
                                        image_ids=list(rest)).set_index("image_id")
        same = (frame["image_id"].map(before["value"]) == frame["value"]) & \
            ((frame["image_id"].map(before["score"]) - frame["score"]).abs() < CHANGE)
        self.fits += 1
        if same.all():
            return 0
        return self.store.add_predictions(frame[~same], task=self.task, model=self.name,
                                          version=f"fit {self.fits} on {len(y)} tags")

    def start(self) -> "Learner":
        """Fit now and again after each tag of the task, in the learner's thread."""
        if self._thread is None:
            self.store.subscribe(self._on_change)
            self.store.model_runs.append(self)
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="geolabel-learner")
            self._thread.start()
            self._ask()
        return self

    def stop(self) -> None:
        self._stopped = True
        self.store.unsubscribe(self._on_change)
        self._wanted.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no fit is asked for or running; False if ``timeout`` ran out."""
        return self._idle.wait(timeout)

    def _on_change(self, changes) -> None:
        # the store calls this after a commit, in the writer's thread: ask, never fit
        # (and not for the predictions this learner's own thread just wrote)
        if threading.current_thread() is not self._thread and \
                any(task == self.task for task, _ in changes):
            self._ask()

    def _ask(self) -> None:
        self._idle.clear()
        self._wanted.set()

    def _run(self) -> None:
        while not self._stopped:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopped:
                break
            try:
                self.fit_predict()
                self.note = None
            except Exception as err:  # the labels are safe; say so and go on listening
                self.note = (f"the learner of {self.task!r} could not fit: "
                             f"{type(err).__name__}: {err} (labeling goes on)")
                warnings.warn(self.note, RuntimeWarning)
            if not self._wanted.is_set():
                self._idle.set()
        self._idle.set()
