"""What models say, kept apart from what people say.

A prediction is a row of ``predictions``: a model's class for an image (with its
score, and a score per class where the model gives them) or a shape with its
score. Predictions count in no figure, statistic or export. A model run again on
an image supersedes its earlier predictions there; history keeps them. A labeler
answers a prediction by confirming it (a label like any other, recording the
prediction it came from) or rejecting it (a row beside the labels, as a comment
is). How unsure the models are of each image orders an active queue; the image
features a learner fits on are stored here too, computed once.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from . import frames
from . import schema as s
from .modelrun import ModelRun, Predict
from .retry import retried
from .types import StoreError, TaskInfo, chunks, label_key
from .masks import decode_mask, encode_mask
from .writes import check_mask_shape, place, placed

PREDICTED_KINDS = ("tag", "mask", *s.SHAPE_KINDS)


class ModelsMixin:
    """LabelStore's predictions and image features."""

    @retried
    def add_predictions(self, predictions: pd.DataFrame, *, task: str, model: str,
                        version: str | None = None) -> int:
        """A model's predictions for images of ``task``; returns how many rows it wrote.

        Columns: ``image_id``, ``value`` (a class of the task) and optionally ``score``
        (the model's confidence in that class, 0 to 1), ``scores`` (a dict of class ->
        score, for a tag), ``kind`` ("tag" by default, or a shape kind, with
        ``geometry`` in full-resolution pixels, or "mask", with ``mask``: class indices
        into the task's classes, one per pixel; its value may be left out) and
        ``props``. The model's earlier predictions of these images are superseded.
        Nothing is written if any row is wrong (an unknown image or class, a score
        outside 0..1, a mask that does not fit its image).
        """
        if not isinstance(model, str) or not model.strip():
            raise StoreError("a model's predictions need the model's name: model='...'")
        info = self._cache.task(task, refresh=True)
        rows = _checked(predictions, info)
        now = time.time()
        p = s.predictions
        with self._transaction() as conn:
            ids = list(dict.fromkeys(row["image_id"] for row in rows))
            known = set()
            for chunk in chunks(ids, 900):
                known.update(conn.execute(sa.select(s.images.c.image_id).where(
                    s.images.c.image_id.in_(chunk))).scalars())
            unknown = [image_id for image_id in ids if image_id not in known]
            if unknown:
                raise StoreError(f"{len(unknown)} prediction image(s) are not in this store, "
                                 f"e.g. {unknown[0]!r}; nothing was written")
            places = {}
            for row in rows:
                mask = row.pop("mask")
                if mask is not None:  # kept as masks are, named in the row's props
                    check_mask_shape(conn, row["image_id"], mask.shape)
                    name, png = encode_mask(mask)
                    self.masks_at.put(conn, name, png)
                    row["props"] = {**(row["props"] or {}), "mask": name,
                                    "classes": list(info.classes)}
                if row["geometry"] is not None:
                    if row["image_id"] not in places:
                        places[row["image_id"]] = place(conn, row["image_id"])
                    row["world_geometry"] = placed(row["geometry"], places[row["image_id"]])
                    row["geometry"] = shapely.to_wkb(row["geometry"])
                row.update(task_id=info.task_id, model=model, version=version, created_at=now,
                           is_current=True)
            for chunk in chunks(ids, 900):
                conn.execute(sa.update(p).where(p.c.task_id == info.task_id, p.c.model == model,
                                                p.c.image_id.in_(chunk), p.c.is_current)
                             .values(is_current=False))
            if rows:
                conn.execute(sa.insert(p), rows)
            for image_id in ids:
                self._changes.record(info.title, image_id)
        return len(rows)

    def add_model(self, task: str, predict: Predict, *, name: str | None = None,
                  version: str | None = None, labeler: str | None = None, batch: int = 16,
                  timeout: float = 120.0, progress: bool = True) -> ModelRun:
        """Run a model on the task's images in the background and keep what it predicts.

        ``predict(image_ids)`` returns a DataFrame as ``add_predictions`` takes it. It is
        called ``batch`` images at a time on ``labeler``'s queue in its order (default:
        every image of the task), skipping images it has predicted already, with a
        progress bar. One that raises, answers wrongly or takes over ``timeout``
        seconds stops its run with a note (``run.note``, and a warning).
        """
        self._cache.task(task)  # an unknown task is refused here, not in the thread
        name = name or getattr(predict, "__name__", None) or type(predict).__name__
        run = ModelRun(self, task, predict, model=name, version=version, labeler=labeler,
                       batch=batch, timeout=timeout, progress=progress)
        self.model_runs.append(run)
        return run

    @retried
    def predictions(self, *, task: str, model: str | None = None,
                    image_ids: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
                    history: bool = False) -> pd.DataFrame:
        """Current predictions of ``task`` (every one ever made with ``history``): one row
        each, with ``prediction_id``, ``image_id``, ``model``, ``version``, ``kind``,
        ``value``, ``score``, ``scores``, ``geometry`` (pixels), ``props``, ``created_at``
        and, with ``history``, ``is_current``."""
        p = s.predictions
        where = [p.c.task_id == self._cache.task(task).task_id]
        if model is not None:
            where.append(p.c.model == model)
        if image_ids is not None:
            where.append(p.c.image_id.in_(list(image_ids)))
        if kinds is not None:
            where.append(p.c.kind.in_(list(kinds)))
        if not history:
            where.append(p.c.is_current)
        columns = [p.c.prediction_id, p.c.image_id, p.c.model, p.c.version, p.c.kind,
                   p.c.value, p.c.score, p.c.scores, p.c.geometry, p.c.props, p.c.created_at]
        if history:
            columns.append(p.c.is_current)
        with self._read() as conn:
            frame = frames.read_query(conn, sa.select(*columns).where(*where)
                                      .order_by(p.c.prediction_id))
        frame["score"] = frame["score"].astype(float)
        frame["scores"] = frames.json_column(frame["scores"])
        frame["props"] = frames.json_column(frame["props"])
        frame["geometry"] = frames.geometry_column(frame["geometry"])
        frame["created_at"] = frames.time_column(frame["created_at"])
        if history:
            frame["is_current"] = frame["is_current"].astype(bool)
        return frame

    @retried
    def current_predictions(self, task: str, image_ids: Sequence[str], kind: str = "tag"
                            ) -> list[tuple]:
        """(prediction_id, image_id, model, value, score) of the current predictions of
        ``kind`` on these images, oldest first: the light read a widget makes after every
        key press, without building a frame."""
        p = s.predictions
        query = sa.select(p.c.prediction_id, p.c.image_id, p.c.model, p.c.value, p.c.score
                          ).where(p.c.task_id == self._cache.task(task).task_id,
                                  p.c.image_id.in_(list(image_ids)), p.c.kind == kind,
                                  p.c.is_current).order_by(p.c.prediction_id)
        with self._read() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def accept_prediction(self, prediction_id: int, *, labeler: str, value: str | None = None,
                          geometry=None) -> str:
        """The labeler confirms a prediction, as it is or corrected (another ``value``, an
        edited ``geometry``): a label like any other, whose props name the prediction
        (and ``edited``). Returns the label's id."""
        row = self._prediction(prediction_id)
        info = self._cache.task_by_id(row.task_id)
        edited = (value is not None and value != row.value) or geometry is not None
        props = {"prediction_id": int(prediction_id), "model": row.model, "edited": edited}
        if row.kind == "tag":
            self.tag(row.image_id, value or row.value, task=info.title, labeler=labeler,
                     props=props)
            return label_key("tag", info, row.image_id, labeler)
        if row.kind == "mask":
            mask, classes = self.predicted_mask(prediction_id)
            self.add_mask(row.image_id, mask, task=info.title, labeler=labeler,
                          classes=classes, props=props)
            return label_key("mask", info, row.image_id, labeler)
        shape = geometry if geometry is not None else shapely.from_wkb(row.geometry)
        return self.annotate(row.image_id, shape, value or row.value, task=info.title,
                             labeler=labeler, kind=row.kind, props=props)

    @retried
    def reject_prediction(self, prediction_id: int, *, labeler: str) -> None:
        """The labeler says a prediction is wrong: a row beside the labels (kind
        "rejection", never a label); the image stays theirs to label."""
        row = self._prediction(prediction_id)
        info = self._cache.task_by_id(row.task_id)
        label_id = label_key("rejection", info, row.image_id, labeler) + f"/{prediction_id}"
        with self._action(info, labeler, row.image_id) as act:
            act.put(label_id, row.image_id, labeler, kind="rejection", value=row.value,
                    props={"prediction_id": int(prediction_id), "model": row.model})

    @retried
    def prediction_states(self, task: str | None = None, *,
                          image_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Per image with a current prediction (of ``task``, or any): its place in the
        store's order (``seq``), the class of its most confident prediction
        (``prediction``) and that ``score``: what a map colours by."""
        p, i = s.predictions, s.images
        where = [p.c.is_current]
        if task is not None:
            where.append(p.c.task_id == self._cache.task(task).task_id)
        if image_ids is not None:
            where.append(p.c.image_id.in_(list(image_ids)))
        with self._read() as conn:
            rows = frames.read_query(conn, sa.select(p.c.image_id, i.c.seq, p.c.value, p.c.score)
                                     .join(i, i.c.image_id == p.c.image_id).where(*where))
        rows["score"] = rows["score"].astype(float)
        best = rows.sort_values("score", ascending=False, na_position="last", kind="stable")
        return (best.drop_duplicates("image_id").set_index("image_id")
                .rename(columns={"value": "prediction"})[["seq", "prediction", "score"]])

    @retried
    def uncertainty(self, task: str, *, model: str | None = None) -> pd.Series:
        """How unsure the models are of each image they predicted for ``task``, 0 (sure)
        to 1: one minus the margin between a tag's two best classes (or its one score),
        and for a shape how near its score is to a coin toss; an image's most unsure
        prediction counts."""
        current = self.predictions(task=task, model=model)
        if current.empty:
            return pd.Series(dtype=float, name="uncertainty").rename_axis("image_id")
        unsure = [_uncertainty(kind, score, scores) for kind, score, scores in
                  zip(current["kind"], current["score"], current["scores"])]
        return (pd.Series(unsure, index=current["image_id"], name="uncertainty")
                .dropna().groupby(level=0).max())

    @retried
    def add_features(self, name: str, features: pd.DataFrame) -> int:
        """Store a vector per image (``features``: indexed by image_id, one column per
        dimension) under ``name``; an image's vector of that name is replaced."""
        values = np.asarray(features, dtype=np.float32)
        if values.ndim != 2 or not np.isfinite(values).all():
            raise StoreError(f"features {name!r} must be finite numbers, one row per image")
        f = s.image_features
        rows = [dict(image_id=str(image_id), name=name, vector=vector.tobytes())
                for image_id, vector in zip(features.index, values.astype("<f4"))]
        with self._write() as conn:
            for chunk in chunks([row["image_id"] for row in rows], 900):
                conn.execute(sa.delete(f).where(f.c.name == name, f.c.image_id.in_(chunk)))
            if rows:
                conn.execute(sa.insert(f), rows)
        return len(rows)

    @retried
    def features(self, name: str, image_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """The vectors stored under ``name``, one row per image (those of ``image_ids``
        that have one)."""
        f = s.image_features
        query = sa.select(f.c.image_id, f.c.vector).where(f.c.name == name)
        with self._read() as conn:
            if image_ids is None:
                rows = conn.execute(query).all()
            else:
                rows = [row for chunk in chunks(list(image_ids), 900)
                        for row in conn.execute(query.where(f.c.image_id.in_(chunk)))]
        if not rows:
            return pd.DataFrame(index=pd.Index([], name="image_id"))
        matrix = np.vstack([np.frombuffer(vector, dtype="<f4") for _, vector in rows])
        return pd.DataFrame(matrix, index=pd.Index([r[0] for r in rows], name="image_id"))

    @retried
    def predicted_mask(self, prediction_id: int) -> tuple[np.ndarray, list[str]]:
        """The raster of a mask prediction and its class names."""
        row = self._prediction(prediction_id)
        props = row.props or {}
        if row.kind != "mask" or "mask" not in props:
            raise StoreError(f"prediction {prediction_id} is a {row.kind}, not a mask")
        with self._read() as conn:
            return decode_mask(self.masks_at.get(conn, props["mask"])), list(props["classes"])

    def _prediction(self, prediction_id) -> sa.Row:
        p = s.predictions
        with self._read() as conn:
            row = conn.execute(sa.select(p).where(p.c.prediction_id == int(prediction_id))
                               ).first()
        if row is None:
            raise StoreError(f"no prediction {prediction_id} in this store")
        return row


def _checked(predictions: pd.DataFrame, info: TaskInfo) -> list[dict]:
    """The rows of a predictions frame, checked, as the table takes them."""
    masks_only = "kind" in predictions and (predictions["kind"] == "mask").all()
    missing = {"image_id", *(() if masks_only else ("value",))} - set(predictions.columns)
    if missing:
        raise StoreError(f"predictions need the columns {sorted(missing)}")
    rows = []
    for n, row in enumerate(predictions.to_dict("records")):
        where = f"prediction row {n}"
        kind = row.get("kind") if isinstance(row.get("kind"), str) else "tag"
        if kind not in PREDICTED_KINDS:
            raise StoreError(f"{where}: a prediction is a tag or a shape "
                             f"({', '.join(s.SHAPE_KINDS)}), not {kind!r}")
        value, mask = row.get("value"), None
        if kind == "mask":
            mask = _mask(row.get("mask"), info, where)
            if _missing(value):  # the class covering most of it
                value = info.classes[int(np.bincount(mask.ravel()).argmax())]
        if value not in info.classes:
            raise StoreError(f"{where}: task {info.title!r} has no class {value!r}; its "
                             f"classes: {', '.join(info.classes)}")
        score = _score(row.get("score"), where)
        scores = row.get("scores")
        if isinstance(scores, dict):
            unknown = set(scores) - set(info.classes)
            if unknown:
                raise StoreError(f"{where}: scores name classes the task has not got: "
                                 f"{sorted(unknown)}")
            scores = {str(k): _score(v, f"{where}, class {k!r}") for k, v in scores.items()}
            if score is None:
                score = scores.get(value)
        elif scores is not None and not _missing(scores):
            raise StoreError(f"{where}: scores is a dict of class -> score, not {scores!r}")
        else:
            scores = None
        geometry = row.get("geometry")
        if kind in ("tag", "mask"):
            geometry = None
        elif geometry is None or _missing(geometry):
            raise StoreError(f"{where}: a {kind} prediction needs its geometry in pixels")
        elif isinstance(geometry, dict):
            geometry = shapely.geometry.shape(geometry)
        props = row.get("props")
        rows.append(dict(image_id=str(row["image_id"]), kind=kind, value=value, score=score,
                         scores=scores, geometry=geometry, world_geometry=None, mask=mask,
                         props=props if isinstance(props, dict) else None))
    return rows


def _mask(value, info: TaskInfo, where: str) -> np.ndarray:
    """A predicted mask: a 2-D array of indices into the task's classes."""
    mask = None if value is None else np.asarray(value)
    if mask is None or mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise StoreError(f"{where}: a mask prediction needs its mask, a 2-D array of class "
                         "indices")
    if mask.size and (mask.min() < 0 or mask.max() >= len(info.classes)):
        raise StoreError(f"{where}: mask values index the task's {len(info.classes)} "
                         f"classes (0..{len(info.classes) - 1}), not {int(mask.max())}")
    return mask.astype(np.uint8)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _score(value, where: str) -> float | None:
    if _missing(value):
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise StoreError(f"{where}: a score is a number from 0 to 1, not {value!r}") from None
    if not 0 <= score <= 1:
        raise StoreError(f"{where}: a score is a number from 0 to 1, not {value!r}")
    return score


def _uncertainty(kind: str, score, scores) -> float:
    if kind == "tag" and isinstance(scores, dict) and len(scores) >= 2:
        best, second = sorted(scores.values(), reverse=True)[:2]
        return 1.0 - (best - second)
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return math.nan
    return 1.0 - score if kind == "tag" else 1.0 - abs(2.0 * score - 1.0)
