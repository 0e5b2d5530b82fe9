"""Labels a team can trust: gold images with known answers mixed into every
labeler's queue and scored, consensus of several labelers' labels written as a
labeler of its own, and the images they disagree on queued for a reviewer.

Gold answers are rows of ``gold_labels``, never labels: they count in no figure,
export or queue. Consensus labels are labels of the labeler ``consensus``.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from . import consensus as merge
from . import schema as s
from .agreement import mask_agreement, matched
from .retry import retried
from .types import StoreError, TaskInfo

GOLD_SHARE = 0.05  # of each labeler's queue, unless the task says otherwise
CONSENSUS = "consensus"  # the labeler consensus labels are written under
MERGED_KINDS = ("tag", "mask", *s.SHAPE_KINDS)


def check_fraction(name: str, value) -> None:
    if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
        raise StoreError(f"{name} is a fraction between 0 and 1, not {value!r}")


class QualityMixin:
    """LabelStore's gold images, per-image agreement, consensus and adjudication."""

    # -- gold ------------------------------------------------------------------------------
    @retried
    def add_gold(self, task: str, labels: pd.DataFrame | None = None, *,
                 labeler: str | None = None, image_ids: Sequence[str] | None = None) -> int:
        """Mark images of a task as gold, with their known answers; returns how many.

        The answers are ``labels`` (columns image_id, value, and for shapes kind and
        geometry in pixels), or the current labels of ``labeler`` (tags, shapes and
        masks) on ``image_ids`` (by default every image they labeled). An image made
        gold again has its answers replaced. Nothing is written if any row is wrong.
        """
        info = self._cache.task(task, refresh=True)
        if (labels is None) == (labeler is None):
            raise StoreError("add_gold takes either a frame of labels or a labeler whose "
                             "labels are the answers")
        rows = self._gold_from(info, labeler, image_ids) if labeler is not None else \
            _gold_rows(labels, info)
        images = sorted(set(rows["image_id"]))
        if not images:
            raise StoreError(f"no answers given for gold images of task {task!r}")
        g = s.gold_labels
        with self._write() as conn:
            known = set()
            for start in range(0, len(images), 900):
                known.update(conn.execute(sa.select(s.images.c.image_id).where(
                    s.images.c.image_id.in_(images[start:start + 900]))).scalars())
            unknown = [i for i in images if i not in known]
            if unknown:
                raise StoreError(f"{len(unknown)} gold image(s) are not in this store, "
                                 f"e.g. {unknown[0]!r}")
            for start in range(0, len(images), 900):
                conn.execute(sa.delete(g).where(g.c.task_id == info.task_id,
                                                g.c.image_id.in_(images[start:start + 900])))
            now = time.time()
            conn.execute(sa.insert(g), [dict(task_id=info.task_id, added_at=now, source=labeler,
                                             **row) for row in rows.to_dict("records")])
        return len(images)

    def _gold_from(self, info: TaskInfo, labeler: str, image_ids) -> pd.DataFrame:
        found = self.get_annotations(task=info.title, labeler=labeler, kinds=MERGED_KINDS,
                                     image_ids=image_ids)
        if image_ids is not None and (missing := set(image_ids) - set(found["image_id"])):
            raise StoreError(f"{labeler!r} has no labels on {len(missing)} of the images "
                             f"given, e.g. {sorted(missing)[0]!r}")
        return pd.DataFrame({
            "image_id": found["image_id"], "kind": found["kind"], "value": found["value"],
            "geometry": [None if g is None else shapely.to_wkb(g) for g in found["geometry"]],
            "mask_annotation": [int(a) if k == "mask" else None
                                for a, k in zip(found["annotation_id"], found["kind"])]})

    @retried
    def gold(self, task: str) -> pd.DataFrame:
        """The answers of a task's gold images: image_id, kind, value, geometry
        (pixels), mask_annotation (the mask row that is the answer), source."""
        g = s.gold_labels
        with self._read() as conn:
            frame = pd.read_sql(sa.select(g.c.image_id, g.c.kind, g.c.value, g.c.geometry,
                                          g.c.mask_annotation, g.c.source)
                                .where(g.c.task_id == self._cache.task(task).task_id)
                                .order_by(g.c.gold_id), conn)
        frame["geometry"] = shapely.from_wkb(frame["geometry"].to_numpy())
        frame["mask_annotation"] = frame["mask_annotation"].astype("Int64")
        return frame

    @retried
    def gold_accuracy(self, task: str, *, threshold: float = 0.5) -> pd.DataFrame:
        """Each labeler against the gold answers, read from the labels as they are now:
        labeler, kind, images (gold images they labeled), accuracy (tags: the share
        answered exactly; shapes: F1 of shapes matched at ``threshold`` IoU; masks: mean
        class IoU) and mean_iou (of matched shapes, or of masks)."""
        check_fraction("threshold", threshold)
        gold = self.gold(task)
        labels = self.get_annotations(task=task, kinds=MERGED_KINDS,
                                      image_ids=sorted(set(gold["image_id"])))
        labels = labels[labels["labeler"] != CONSENSUS]
        records = []
        for labeler, mine in labels.groupby("labeler", sort=True):
            for kind, theirs, answers in _by_kind(mine, gold):
                images = sorted(set(theirs["image_id"]))
                if kind == "tag":
                    got = [_tag_set(theirs, i) == _tag_set(answers, i) for i in images]
                    records.append((labeler, kind, len(images), float(np.mean(got)), np.nan))
                elif kind == "mask":
                    ious = [self._mask_iou(theirs, answers, i) for i in images]
                    score = float(np.nanmean(ious)) if ious else np.nan
                    records.append((labeler, kind, len(images), score, score))
                else:
                    hits, drawn = [], 0
                    for i in images:
                        a, b = theirs[theirs["image_id"] == i], answers[answers["image_id"] == i]
                        hits += list(matched(merge.class_iou(a, b), threshold))
                        drawn += len(a) + len(b)
                    records.append((labeler, "shape", len(images), 2 * len(hits) / drawn,
                                    float(np.mean(hits)) if hits else 0.0))
        return pd.DataFrame.from_records(records, columns=[
            "labeler", "kind", "images", "accuracy", "mean_iou"])

    def _mask_iou(self, theirs: pd.DataFrame, answers: pd.DataFrame, image_id: str) -> float:
        answer = answers.loc[answers["image_id"] == image_id, "mask_annotation"].dropna()
        if not len(answer):
            return np.nan
        one = self._named_mask(theirs.loc[theirs["image_id"] == image_id,
                                          "annotation_id"].iloc[0])
        other = self._named_mask(answer.iloc[0])
        return float(mask_agreement(one, other)["iou"].mean()) if one.shape == other.shape \
            else np.nan

    def _named_mask(self, annotation_id) -> np.ndarray:
        raster, classes = self.mask(int(annotation_id))
        return np.asarray(classes, dtype=object)[raster]

    def _gold_images(self, conn, info: TaskInfo) -> set[str]:
        g = s.gold_labels
        return set(conn.execute(sa.select(g.c.image_id).distinct()
                                .where(g.c.task_id == info.task_id)).scalars())

    @staticmethod
    def _with_gold(info: TaskInfo, labeler: str, regular: list[str], gold: list[str],
                   done: int) -> list[str]:
        """``regular`` with ``gold`` images in every 1/gold_share-th place of the
        labeler's whole sequence (``done`` images in), at an offset of their own, so
        that nothing marks which ones are gold; gold left over goes last."""
        if not gold or info.gold_share <= 0:
            return regular
        period = max(1, round(1 / info.gold_share))
        offset = int.from_bytes(labeler.encode()[:8].ljust(8, b"\0"), "big") % period
        merged, r, g = [], 0, 0
        for position in range(done, done + len(regular) + len(gold)):
            slot_is_gold = (position + offset) % period == period - 1
            if g < len(gold) and (slot_is_gold or r == len(regular)):
                merged.append(gold[g])
                g += 1
            else:
                merged.append(regular[r])
                r += 1
        return merged

    # -- agreement per image, consensus, adjudication --------------------------------------
    @retried
    def image_agreement(self, task: str, *, image_ids: Sequence[str] | None = None,
                        threshold: float = 0.5) -> pd.DataFrame:
        """Per image two or more labelers labeled (``consensus`` not counted): kind,
        labelers, and agreement in [0, 1] (tags: share of labelers giving the majority
        answer; shapes: mean F1 of shapes matched at ``threshold`` IoU; masks: mean
        class IoU over pairs, Coast Train's measure)."""
        return self._merged(task, image_ids, threshold).drop(columns="merged")

    @retried
    def consensus(self, task: str, *, min_agreement: float | None = None,
                  threshold: float = 0.5) -> pd.DataFrame:
        """Merge the labels of every image two or more labelers labeled into one, written
        as the labeler ``consensus``: the classes most chose, each pixel's majority
        class, the shapes most drew (fused). Images whose agreement is below
        ``min_agreement`` (default the task's) are left for ``adjudication``. Returns
        ``image_agreement`` with a column ``written``."""
        check_fraction("min_agreement", min_agreement)
        info = self._cache.task(task, refresh=True)
        bar = min_agreement if min_agreement is not None else info.min_agreement or 0.0
        merged = self._merged(task, None, threshold)
        merged["written"] = (merged["agreement"] >= bar) & merged["merged"].map(_has_answer)
        with self.transaction():
            for row in merged[merged["written"]].itertuples():
                self._write_consensus(info, row.image_id, row.kind, row.merged)
        return merged.drop(columns="merged")

    def _write_consensus(self, info: TaskInfo, image_id: str, kind: str, merged) -> None:
        if kind == "tag":
            self.tag(image_id, merged if info.type == "multilabel" else merged[0],
                     task=info.title, labeler=CONSENSUS)
        elif kind == "mask":
            classes, raster = np.unique(merged, return_inverse=True)
            self.add_mask(image_id, raster.reshape(merged.shape), task=info.title,
                          labeler=CONSENSUS, classes=list(classes))
        else:
            before = self.get_annotations(task=info.title, labeler=CONSENSUS,
                                          kinds=s.SHAPE_KINDS, image_ids=[image_id])
            for label_id in before["label_id"]:
                self.delete_label(label_id, labeler=CONSENSUS)
            for shape in merged.itertuples():
                self.annotate(image_id, shape.geometry, shape.value, task=info.title,
                              labeler=CONSENSUS, kind=shape.kind,
                              props={"support": int(shape.support)})

    @retried
    def adjudication(self, task: str, *, min_agreement: float | None = None,
                     threshold: float = 0.5) -> pd.DataFrame:
        """The images a reviewer should decide, least agreed first: agreement below
        ``min_agreement`` (default the task's, else 1: any disagreement) and no
        consensus label yet. A reviewer decides one by labeling it as ``consensus``
        (``TaggerWidget(store, task, labeler="consensus")``)."""
        check_fraction("min_agreement", min_agreement)
        info = self._cache.task(task, refresh=True)
        bar = min_agreement if min_agreement is not None else \
            info.min_agreement if info.min_agreement is not None else 1.0
        table = self.image_agreement(task, threshold=threshold)
        decided = set(self.get_annotations(task=task, labeler=CONSENSUS,
                                           kinds=MERGED_KINDS)["image_id"])
        waiting = table[(table["agreement"] < bar) & ~table["image_id"].isin(decided)]
        return waiting.sort_values(["agreement", "image_id"]).reset_index(drop=True)

    def _check_agreement(self, info: TaskInfo, image_id: str) -> None:
        """Refuse to complete an image its labelers disagree on below the task's bar."""
        if info.min_agreement is None:
            return
        table = self.image_agreement(info.title, image_ids=[image_id])
        if len(table) and (low := table["agreement"].min()) < info.min_agreement:
            raise StoreError(f"image {image_id}: its labelers agree {low:.2f}, below task "
                             f"{info.title!r}'s {info.min_agreement:.2f}; it waits in "
                             f"store.adjudication for a reviewer")

    def _merged(self, task: str, image_ids, threshold: float) -> pd.DataFrame:
        """image_id, kind, labelers, agreement and the merged label of each image that
        two or more labelers (not ``consensus``) labeled."""
        check_fraction("threshold", threshold)
        labels = self.get_annotations(task=task, kinds=MERGED_KINDS, image_ids=image_ids)
        labels = labels[labels["labeler"] != CONSENSUS]
        labels = labels.assign(group=np.where(labels["kind"].isin(s.SHAPE_KINDS), "shape",
                                              labels["kind"]))
        records = []
        for (image_id, group), rows in labels.groupby(["image_id", "group"], sort=True):
            labelers = rows["labeler"].nunique()
            if labelers < 2:
                continue
            if group == "tag":
                answers = rows.groupby("labeler")["value"].agg(list)
                result, score = merge.majority_tags(answers)
            elif group == "mask":
                masks = [self._named_mask(a) for a in rows["annotation_id"]]
                if len({m.shape for m in masks}) > 1:
                    continue  # drawn on different grids: nothing to compare
                result, score = merge.vote_masks(masks)
            else:
                result, score = merge.fuse_shapes(rows, threshold)
            records.append((image_id, group, labelers, score, result))
        return pd.DataFrame.from_records(records, columns=[
            "image_id", "kind", "labelers", "agreement", "merged"])


def _has_answer(merged) -> bool:
    return len(merged) > 0 if not isinstance(merged, np.ndarray) else True


def _gold_rows(labels: pd.DataFrame, info: TaskInfo) -> pd.DataFrame:
    """A frame of gold answers checked and turned into gold_labels rows."""
    missing = {"image_id", "value"} - set(labels.columns)
    if missing:
        raise StoreError(f"gold labels need the columns {sorted(missing)}")
    kinds = labels["kind"] if "kind" in labels else pd.Series("tag", labels.index)
    if not kinds.isin(("tag", *s.SHAPE_KINDS)).all():
        raise StoreError(f"gold answers are tags or shapes ({', '.join(s.SHAPE_KINDS)}); "
                         f"give gold masks as a labeler's labels (labeler=)")
    unknown = sorted(set(labels["value"]) - set(info.classes))
    if unknown:
        raise StoreError(f"task {info.title!r} has no class {unknown[0]!r}; its classes: "
                         f"{', '.join(info.classes)}")
    shapes = kinds != "tag"
    geometry = labels["geometry"] if "geometry" in labels else pd.Series(None, labels.index)
    if (shapes & geometry.isna()).any():
        raise StoreError("a gold shape needs its geometry (pixels)")
    return pd.DataFrame({
        "image_id": labels["image_id"].astype(str), "kind": kinds, "value": labels["value"],
        "geometry": [shapely.to_wkb(g) if shape else None
                     for g, shape in zip(geometry, shapes)],
        "mask_annotation": None})


def _by_kind(mine: pd.DataFrame, gold: pd.DataFrame):
    """(kind, a labeler's labels, the answers) for tags, shapes and masks of gold images
    that have answers of that kind."""
    for kind, kinds in (("tag", ["tag"]), ("shape", list(s.SHAPE_KINDS)), ("mask", ["mask"])):
        answers = gold[gold["kind"].isin(kinds)]
        theirs = mine[mine["kind"].isin(kinds) & mine["image_id"].isin(answers["image_id"])]
        if len(theirs):
            yield kind, theirs, answers


def _tag_set(rows: pd.DataFrame, image_id: str) -> frozenset:
    return frozenset(rows.loc[rows["image_id"] == image_id, "value"])

