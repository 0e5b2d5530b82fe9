"""Writing labels: tags, shapes, masks, imports of many, and each image's lifecycle
(status, review, comment). Every call is one action, written through ``writes``."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from shapely.geometry import shape as geometry_from_dict
from shapely.geometry.base import BaseGeometry

from . import frames
from . import schema as s
from .masks import MaskRef, decode_mask, encode_mask, pixel_counts
from .retry import retried
from .rotated import box_of
from .types import StoreError, TaskInfo, chunks, label_key
from .writes import (Action, ImportSummary, check_mask_shape, current, current_with_prefix,
                     outcome, place, placed, status_of)

REVIEW_VERDICTS = {"accept": "reviewed", "reviewed": "reviewed",
                   "needs_improvement": "needs_improvement",
                   "needs improvement": "needs_improvement"}


class LabelsMixin:
    """LabelStore's label writes, over its ``_action`` and ``_transaction``."""

    @retried
    def tag(self, image_id: str, value: str | Sequence[str] | None, *, task: str,
            labeler: str, props: dict | None = None) -> None:
        """Tag an image with a class (or a list for a multilabel task; None clears).
        ``props`` are kept with the tag (where it came from, say)."""
        info = self._cache.task(task)
        values = [] if value is None else [value] if isinstance(value, str) else list(value)
        self._cache.check_classes(info, values)
        with self._action(info, labeler, image_id) as act:
            self._tag(act, image_id, values, labeler, props=props)

    @retried
    def add_labels(self, labels: pd.DataFrame, *, task: str, mode: str = "replace"
                   ) -> ImportSummary:
        """Write many labels in one transaction, as an import does.

        Columns: ``image_id``, ``labeler``, ``kind`` ("tag"; "doodles" for doodles
        known only by their ``props["doodled_fraction"]``; or a shape: "box",
        "rotated_box" (its corners, see ``rotated_box``), "polygon", "point", "line",
        "stroke"), ``value`` (a class, or a list of them for a
        multilabel task) and optionally ``props``, and for shapes ``geometry`` (pixels,
        as ``annotate`` takes it) and ``label_id``. Where a labeler already has a tag on
        an image, or a shape of that ``label_id``, ``mode="replace"`` supersedes it
        (history keeps it) and ``mode="keep"`` changes nothing there; a shape without a
        ``label_id`` is new. A label equal to the current one is not written again.
        Each labeler's rows are one action, so one undo takes back their whole import;
        nothing is written if any row is wrong.
        """
        if mode not in ("replace", "keep"):
            raise StoreError(f"mode is 'replace' or 'keep', not {mode!r}")
        info = self._cache.task(task, refresh=True)
        missing = {"image_id", "labeler", "kind", "value"} - set(labels.columns)
        if "kind" in labels and labels["kind"].isin(s.SHAPE_KINDS).any() \
                and "geometry" not in labels:
            missing.add("geometry")
        if missing:
            raise StoreError(f"labels need the columns {sorted(missing)}")
        props = labels["props"] if "props" in labels.columns else pd.Series(None, labels.index)
        try:
            self.last_import = self._write_labels(labels, props, info, mode)
            return self.last_import
        except BaseException:
            self._cache.forget_labelers()  # rows it vouched for may have been rolled back
            raise

    def _write_labels(self, labels: pd.DataFrame, props: pd.Series, info: TaskInfo,
                      mode: str) -> ImportSummary:
        summary = ImportSummary()
        with self._transaction() as conn:
            known = set()
            for chunk in chunks(list(labels["image_id"].unique()), 900):
                known.update(conn.execute(sa.select(s.images.c.image_id).where(
                    s.images.c.image_id.in_(chunk))).scalars())
            places: dict[str, sa.Row] = {}  # image id -> its place
            for labeler, rows in labels.groupby("labeler", sort=False):
                self._check_writer(labeler)
                self._cache.ensure_labeler(conn, labeler)
                act = Action.begin(conn, info, labeler, "edit", self._changes, deferred=True)
                shaped = set()  # images this labeler drew on: "in_progress" if unlabeled
                for row, extra in zip(rows.itertuples(), props[rows.index]):
                    if row.image_id not in known:
                        raise StoreError(f"row {row.Index}: no image {row.image_id!r}")
                    if row.kind == "tag":
                        values = [] if not isinstance(row.value, (str, list, tuple)) else \
                            [row.value] if isinstance(row.value, str) else list(row.value)
                        self._cache.check_classes(info, values)
                        summary.add(self._tag(act, row.image_id, values, labeler, mode))
                    elif row.kind == "doodles":
                        label_id = label_key("doodles", info, row.image_id, labeler)
                        done = outcome(current(conn, label_id), extra, mode,
                                       lambda c: c.props)
                        if done in ("added", "replaced"):
                            act.put(label_id, row.image_id, labeler, kind="doodles",
                                    props=extra)
                        summary.add(Counter([done]))
                    elif row.kind in s.SHAPE_KINDS:
                        summary.add(self._import_shape(act, row, extra, mode, places))
                        shaped.add(row.image_id)
                    else:
                        raise StoreError(f"row {row.Index}: add_labels writes tags, doodles "
                                         f"and shapes, not {row.kind!r}")
                for image_id in shaped:
                    if status_of(conn, info, image_id, labeler) == "unlabeled":
                        act.set_status(image_id, labeler, "in_progress")
                act.flush()
                act.drop_if_empty()
        return summary

    def _import_shape(self, act: Action, row, props, mode: str, places: dict) -> Counter:
        """One shape row of ``add_labels``: written as ``annotate`` writes it."""
        geometry = _as_geometry(row.geometry)
        self._cache.check_classes(act.info, [row.value])
        _check_shape(row.kind, geometry)
        given = getattr(row, "label_id", None)
        previous = None
        if isinstance(given, str):
            a = s.annotations
            previous = act.conn.execute(sa.select(a.c.annotation_id, a.c.kind, a.c.value,
                                              a.c.deleted, a.c.props).where(
                a.c.label_id == given, a.c.is_current)).first()
            if previous is not None and mode == "keep":
                return Counter(["kept"])
        if row.image_id not in places:
            places[row.image_id] = place(act.conn, row.image_id)
        world = placed(geometry, places[row.image_id])
        act.put(given if isinstance(given, str) else uuid.uuid4().hex, row.image_id,
                row.labeler, kind=row.kind, value=row.value, geometry=shapely.to_wkb(geometry),
                world_geometry=world, props=props if isinstance(props, dict) else None,
                previous=previous)
        return Counter(["added" if previous is None else "replaced"])

    def _tag(self, act: Action, image_id: str, values: list[str], labeler: str,
             mode: str | None = None, props: dict | None = None) -> Counter:
        """Set a labeler's tags on an image. ``mode`` None: as a person tags (every call
        is written); "replace" or "keep": as an import (see ``add_labels``)."""
        info = act.info
        prefix = label_key("tag", info, image_id, labeler)
        outcomes = Counter()
        if info.type == "multilabel":
            tags = current_with_prefix(act.conn, prefix + "/")
            have = {row.value for row in tags.values()}
            for cls in values:
                if cls not in have:
                    act.put(prefix + "/" + cls, image_id, labeler, kind="tag", value=cls,
                            props=props)
                outcomes["unchanged" if cls in have else "added"] += 1
            for label_id, row in tags.items():
                if row.value in values:
                    continue
                if mode == "keep":
                    outcomes["kept"] += 1
                    continue
                act.put(label_id, image_id, labeler, kind="tag", value=row.value, deleted=True)
                outcomes["replaced"] += 1
        else:
            if len(values) > 1:
                raise StoreError(f"task {info.title!r} takes one class per image, got {values}")
            value = values[0] if values else None
            done = "added"
            if mode is not None:
                done = outcome(current(act.conn, prefix), value, mode, lambda c: c.value)
            if done in ("added", "replaced"):
                act.put(prefix, image_id, labeler, kind="tag", value=value, deleted=not values,
                        props=props)
            outcomes[done] += 1
            if done == "kept":
                return outcomes
        act.set_status(image_id, labeler, "labeled" if values or outcomes["kept"] else "unlabeled")
        return outcomes

    def annotate(self, image_id: str, geometry, value: str, *, task: str, labeler: str,
                 kind: str | None = None, label_id: str | None = None,
                 props: dict | None = None) -> str:
        """Add a shape in full-resolution pixels (or replace ``label_id``); returns its id.

        World coordinates (EPSG:4326) are stored too when the image is georeferenced.
        """
        geometry = _as_geometry(geometry)
        # chosen before a retry, so a call tried twice writes one label
        label_id = label_id or uuid.uuid4().hex
        self._annotate(image_id, geometry, value, task, labeler, kind or _kind_of(geometry),
                       label_id, props)
        return label_id

    @retried
    def _annotate(self, image_id: str, geometry: BaseGeometry, value: str, task: str,
                  labeler: str, kind: str, label_id: str, props: dict | None) -> None:
        info = self._cache.task(task)
        self._cache.check_classes(info, [value])
        _check_shape(kind, geometry)
        with self._action(info, labeler, image_id) as act:
            world = placed(geometry, place(act.conn, image_id))
            act.put(label_id, image_id, labeler, kind=kind, value=value,
                    geometry=shapely.to_wkb(geometry), world_geometry=world, props=props)
            if status_of(act.conn, info, image_id, labeler) == "unlabeled":
                act.set_status(image_id, labeler, "in_progress")

    @retried
    def delete_label(self, label_id: str, *, labeler: str) -> None:
        """Delete a label (a tombstone row supersedes it; history keeps it)."""
        with self._read() as conn:
            row = current(conn, label_id)
        if row is None:
            raise StoreError(f"no current label {label_id!r}")
        info = self._cache.task_by_id(row.task_id)
        with self._action(info, labeler, row.image_id) as act:
            act.put(label_id, row.image_id, row.labeler_id, kind=row.kind, value=row.value,
                    geometry=row.geometry, world_geometry=row.world_geometry, deleted=True)

    @retried
    def add_mask(self, image_id: str, mask: np.ndarray, *, task: str, labeler: str,
                 classes: Sequence[str] | None = None, kind: str = "mask",
                 props: dict | None = None) -> int:
        """Store a dense label raster and its per-class pixel counts; returns the row id.

        ``kind="mask"``: pixel value i is ``classes[i]``. ``kind="doodles"``: 0 is
        "not doodled" and k is ``classes[k-1]`` (Coast Train's NPZ convention).
        """
        info = self._cache.task(task)
        classes = list(classes or info.classes)
        self._cache.check_classes(info, classes)
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise StoreError(f"a mask is one value per pixel (2-D); this one has shape "
                             f"{mask.shape}")
        offset = 1 if kind == "doodles" else 0
        if mask.size and int(mask.max()) >= len(classes) + offset:
            raise StoreError(f"mask holds value {int(mask.max())} but only {len(classes)} classes")
        file_name, png = encode_mask(mask)
        counts = pixel_counts(mask, [""] * offset + classes)
        counts.pop("", None)
        label_id = label_key(kind, info, image_id, labeler)
        ref = MaskRef(file_name, int(mask.shape[0]), int(mask.shape[1]), tuple(classes), counts)
        with self._action(info, labeler, image_id) as act:
            check_mask_shape(act.conn, image_id, mask.shape)
            self.masks_at.put(act.conn, file_name, png)
            annotation_id = act.put(label_id, image_id, labeler, kind=kind, value=None,
                                    props=props, mask=ref)
            if kind == "mask":
                act.set_status(image_id, labeler, "labeled")
        return annotation_id

    @retried
    def mask(self, annotation_id: int) -> tuple[np.ndarray, list[str]]:
        """The raster of a mask row and its class names."""
        with self._read() as conn:
            row = conn.execute(sa.select(s.masks).where(
                s.masks.c.annotation_id == int(annotation_id))).first()
            if row is None:
                raise StoreError(f"annotation {annotation_id} has no mask")
            return decode_mask(self.masks_at.get(conn, row.path)), list(row.classes)

    # -- lifecycle -------------------------------------------------------------------------
    @retried
    def set_status(self, image_id: str, status: str, *, task: str, labeler: str,
                   comment: str | None = None, author: str | None = None) -> None:
        if status not in s.STATUSES:
            raise StoreError(f"unknown status {status!r}; choose one of {', '.join(s.STATUSES)}")
        info = self._cache.task(task)
        with self._action(info, author or labeler, image_id) as act:
            self._cache.ensure_labeler(act.conn, labeler)
            act.set_status(image_id, labeler, status, comment=comment, author=author)

    @retried
    def skip(self, image_id: str, *, task: str, labeler: str) -> None:
        self.set_status(image_id, "skipped", task=task, labeler=labeler)

    @retried
    def complete(self, image_id: str, *, task: str, labeler: str) -> None:
        """Mark a labeler's drawing on an image as finished; refused while its labelers
        agree less than the task's ``min_agreement``."""
        self._check_agreement(self._cache.task(task, refresh=True), image_id)
        self.set_status(image_id, "labeled", task=task, labeler=labeler)

    @retried
    def review(self, image_id: str, verdict: str, *, task: str, reviewer: str,
               comment: str | None = None, labeler: str | None = None) -> None:
        """Accept a label ("accept") or send it back ("needs_improvement", with a comment).

        ``labeler`` names whose label is reviewed; by default everyone's on that image.
        """
        status = REVIEW_VERDICTS.get(verdict)
        if status is None:
            raise StoreError(f"unknown verdict {verdict!r}; use 'accept' or 'needs_improvement'")
        info = self._cache.task(task)
        with self._action(info, reviewer, image_id) as act:
            owners = [labeler] if labeler else act.conn.execute(
                sa.select(s.annotations.c.labeler_id).distinct().where(
                    frames.current_label_rows(), s.annotations.c.image_id == image_id,
                    s.annotations.c.task_id == info.task_id)).scalars().all()
            if not owners:
                raise StoreError(f"image {image_id} has no labels in task {task!r} to review")
            for owner in owners:
                act.set_status(image_id, owner, status, comment=comment, author=reviewer)

    @retried
    def comment(self, image_id: str, text: str, *, task: str, labeler: str) -> None:
        """A labeler's note on an image (one current comment per labeler)."""
        info = self._cache.task(task)
        with self._action(info, labeler, image_id) as act:
            act.put(label_key("comment", info, image_id, labeler), image_id, labeler,
                    kind="comment", value=text)


def _as_geometry(geometry) -> BaseGeometry:
    if isinstance(geometry, BaseGeometry):
        return geometry
    if isinstance(geometry, dict) or hasattr(geometry, "__geo_interface__"):
        return geometry_from_dict(getattr(geometry, "__geo_interface__", geometry))
    if geometry is None:
        raise StoreError("a shape has no geometry (None), as a box of NaN coordinates has none")
    raise StoreError(f"a geometry is a shapely geometry or GeoJSON dict, got {type(geometry)}")


def _check_shape(kind: str, geometry: BaseGeometry) -> None:
    if kind not in s.SHAPE_KINDS:
        raise StoreError(f"a shape's kind is one of {', '.join(s.SHAPE_KINDS)}, not {kind!r}")
    if kind == "rotated_box":
        box_of(geometry)  # four corners of a rectangle, or a clear error


def _kind_of(geometry: BaseGeometry) -> str:
    return {"Point": "point", "MultiPoint": "point", "LineString": "line",
            "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"
            }.get(geometry.geom_type, geometry.geom_type.lower())
