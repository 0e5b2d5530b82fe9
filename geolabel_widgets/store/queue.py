"""The queue: which images a labeler works through next, in which order."""

from __future__ import annotations

import random
from typing import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from . import frames
from . import schema as s
from .types import StoreError


class QueueMixin:
    """LabelStore's queue and status reads."""

    def queue(self, task: str, labeler: str, *, status: str | Sequence[str] | None = "unlabeled",
              dataset: str | Sequence[str] | None = None,
              bbox: tuple[float, float, float, float] | None = None,
              image_ids: Sequence[str] | None = None, value: str | None = None,
              order: str | pd.Series = "stable", seed: int | None = None) -> list[str]:
        """Image ids for a labeler to work through.

        ``status`` filters on that labeler's status (None: all); ``bbox`` is
        (lon_min, lat_min, lon_max, lat_max); ``value`` keeps images whose current
        label (by anyone) has that class. ``order`` is "stable" (the order images
        were added, so a labeler resumes where they stopped), "random" (with
        ``seed``), or a Series of scores by image_id, highest first.
        """
        info = self._task(task)
        i, a, d = s.images, s.annotations, s.datasets
        status_row = a.alias("status_row")
        label_id = sa.literal(f"status/{info.task_id}/") + i.c.image_id + sa.literal(f"/{labeler}")
        current_status = sa.func.coalesce(status_row.c.value, "unlabeled")
        query = (
            sa.select(i.c.image_id)
            .select_from(i.outerjoin(status_row, sa.and_(status_row.c.label_id == label_id,
                                                         status_row.c.is_current,
                                                         sa.not_(status_row.c.deleted))))
            .order_by(i.c.seq)
        )
        if status is not None:
            query = query.where(current_status.in_([status] if isinstance(status, str)
                                                   else list(status)))
        with self._read() as conn:
            query = query.where(self._in_scope(conn, info))
            if dataset is not None:
                names = [dataset] if isinstance(dataset, str) else list(dataset)
                query = query.where(i.c.dataset_id.in_(
                    sa.select(d.c.dataset_id).where(d.c.name.in_(names))))
            if bbox is not None:
                lon0, lat0, lon1, lat1 = bbox
                query = query.where(i.c.lon.between(lon0, lon1), i.c.lat.between(lat0, lat1))
            if value is not None:
                query = query.where(sa.exists().where(
                    frames.current_label_rows(), a.c.image_id == i.c.image_id,
                    a.c.task_id == info.task_id, a.c.value == value))
            ids = conn.execute(query).scalars().all()
        if image_ids is not None:
            wanted = set(image_ids)
            ids = [image_id for image_id in ids if image_id in wanted]
        if isinstance(order, pd.Series):
            scores = order.reindex(ids).fillna(-np.inf).to_numpy()
            ids = [ids[k] for k in np.argsort(-scores, kind="stable")]
        elif order == "random":
            random.Random(seed).shuffle(ids)
        elif order != "stable":
            raise StoreError(f"unknown order {order!r}: use 'stable', 'random' or a Series")
        return ids

    def _in_scope(self, conn, info) -> sa.ColumnElement:
        """Images a task covers: its dataset group's, or every image."""
        group = conn.execute(sa.select(s.tasks.c.group_id)
                             .where(s.tasks.c.task_id == info.task_id)).scalar()
        if group is None:
            return sa.true()
        members = sa.select(s.dataset_group_members.c.dataset_id).where(
            s.dataset_group_members.c.group_id == group)
        return s.images.c.dataset_id.in_(members)

    def status_of(self, image_id: str, *, task: str, labeler: str) -> str:
        with self._read() as conn:
            return self._status_of(conn, image_id, self._task(task), labeler)
