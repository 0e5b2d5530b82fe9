"""The queue: which images a labeler works through next, in which order, and (for a
team sharing one store) which images each of them holds for now."""

from __future__ import annotations

import random
import time
from typing import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from . import frames
from . import schema as s
from .retry import retried
from .types import StoreError, chunks
from .writes import OPEN_STATUSES, status_of


# How long a claimed image stays a labeler's before others may receive it.
LEASE_SECONDS = 15 * 60
SPREAD_CELL = 0.1  # degrees: images closer than this are one place to a spread queue


class QueueMixin:
    """LabelStore's queue, leases and status reads."""

    @retried
    def queue(self, task: str, labeler: str | None, *,
              status: str | Sequence[str] | None = "unlabeled",
              dataset: str | Sequence[str] | None = None,
              bbox: tuple[float, float, float, float] | None = None,
              image_ids: Sequence[str] | None = None, value: str | None = None,
              order: str | pd.Series = "stable", seed: int | None = None,
              spread: bool = False) -> list[str]:
        """Image ids for a labeler to work through.

        A task assigned to labelers (``assign``) is only theirs: anyone else gets a
        StoreError. ``labeler`` None reads every image of the task (``status`` None).
        ``status`` filters on that labeler's status (None: all); ``bbox`` is
        (lon_min, lat_min, lon_max, lat_max); ``value`` keeps images whose current
        label (by anyone) has that class. ``order`` is "stable" (the order images
        were added, so a labeler resumes where they stopped), "random" (with
        ``seed``), "uncertain" (the images the models are least sure of first, see
        ``uncertainty``; those without predictions after them), or a Series of scores
        by image_id, highest first. ``spread`` takes the images in that order one per
        dataset and place (a 0.1° cell) in turn, so that fifty chips of one scene
        do not come in a row.
        """
        info = self._cache.task(task)
        if labeler is None and status is not None:
            raise StoreError("a status filter needs a labeler: whose status?")
        if labeler is not None:
            self._check_assigned(info, labeler)
        i, a, d = s.images, s.annotations, s.datasets
        query = sa.select(i.c.image_id).order_by(i.c.seq)
        if status is not None:
            status_row, on_status = self._status_join(info, labeler)
            current_status = sa.func.coalesce(status_row.c.value, "unlabeled")
            query = query.select_from(i.outerjoin(status_row, on_status))
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
        if labeler is not None and isinstance(order, str) and order == "stable":
            ids = self._gold_placed(info, labeler, ids)
        if isinstance(order, str) and order == "uncertain":
            order = self.uncertainty(task)
        if isinstance(order, pd.Series):
            scores = order.reindex(ids).fillna(-np.inf).to_numpy()
            ids = [ids[k] for k in np.argsort(-scores, kind="stable")]
        elif order == "random":
            random.Random(seed).shuffle(ids)
        elif order != "stable":
            raise StoreError(f"unknown order {order!r}: use 'stable', 'random', 'uncertain' "
                             "or a Series")
        return self._spread(ids) if spread else ids

    def _spread(self, ids: list[str]) -> list[str]:
        """``ids`` round by round: in each, the next image of every dataset and place."""
        i = s.images
        with self._read() as conn:
            where = pd.DataFrame(
                [row for chunk in chunks(ids, 900) for row in conn.execute(
                    sa.select(i.c.image_id, i.c.dataset_id, i.c.lon, i.c.lat)
                    .where(i.c.image_id.in_(chunk)))],
                columns=["image_id", "dataset_id", "lon", "lat"]).set_index("image_id")
        where = where.reindex(ids)
        cells = [where["dataset_id"]] + [np.floor(where[c].astype(float) / SPREAD_CELL)
                                         .fillna(np.inf) for c in ("lon", "lat")]
        rounds = where.groupby(cells, dropna=False, sort=False).cumcount().to_numpy()
        return [ids[k] for k in np.lexsort((np.arange(len(ids)), rounds))]

    @retried
    def claim(self, task: str, labeler: str, n: int = 1, *, lease: float = LEASE_SECONDS
              ) -> list[str]:
        """Hand a labeler up to ``n`` images of the task that still need labels.

        The images are theirs for ``lease`` seconds (or until they label or skip
        them): a task asking for k labels per image hands no image to more than k
        labelers at once, counting the labels already made. Images they hold or began
        come first, then the task's stable order; [] when nothing is left for them.
        Calling it again renews the lease of what they hold. A labeler assigned with
        ``receive_new=False`` (S3Label's receive_new_unlabeled_data) gets only those.
        """
        if not (isinstance(n, int) and n >= 0) or not lease > 0:
            raise StoreError(f"claim takes a count n >= 0 and a lease > 0 seconds, "
                             f"got n={n!r}, lease={lease!r}")
        self._check_writer(labeler)
        info = self._cache.task(task)
        receive_new = self._check_assigned(info, labeler)
        i, le, il = s.images, s.leases, s.image_labelers
        now = time.time()
        with self._write() as conn:
            self._cache.ensure_labeler(conn, labeler)
            conn.execute(sa.delete(le).where(le.c.expires_at <= now))
            held = (sa.select(le.c.image_id).where(le.c.task_id == info.task_id,
                                                   le.c.labeler_id == labeler))
            others = (sa.select(le.c.image_id, sa.func.count().label("n"))
                      .where(le.c.task_id == info.task_id, le.c.labeler_id != labeler,
                             le.c.expires_at > now)
                      .group_by(le.c.image_id).subquery("others"))
            status, on_status = self._status_join(info, labeler)
            labels = sa.func.coalesce(il.c.labelers, 0) + sa.func.coalesce(others.c.n, 0)
            current = sa.func.coalesce(status.c.value, "unlabeled")  # never NULL: NOT works
            mine = sa.or_(i.c.image_id.in_(held), current == "in_progress")
            gold = i.c.image_id.in_(sa.select(s.gold_labels.c.image_id).where(
                s.gold_labels.c.task_id == info.task_id))
            wanted = sa.select(i.c.image_id, mine.label("mine")).select_from(
                i.outerjoin(status, on_status)
                .outerjoin(il, sa.and_(il.c.task_id == info.task_id,
                                       il.c.image_id == i.c.image_id))
                .outerjoin(others, others.c.image_id == i.c.image_id)).where(
                self._in_scope(conn, info), current.in_(OPEN_STATUSES))
            rows = conn.execute(
                wanted.where(sa.or_(mine, sa.and_(sa.not_(gold), labels < info.labels_per_image))
                             if receive_new else mine)
                .order_by(sa.case((mine, 0), else_=1), i.c.seq).limit(n)).all()
            ids = [r.image_id for r in rows if r.mine]
            regular = [r.image_id for r in rows if not r.mine]
            if receive_new and len(ids) < n:
                # gold goes to everyone, whatever the labels it has already
                gold_ids = conn.execute(wanted.with_only_columns(i.c.image_id).where(
                    gold, sa.not_(mine)).order_by(i.c.seq).limit(n)).scalars().all()
                ids += self._with_gold(info, labeler, regular, gold_ids,
                                       self._finished(conn, info, labeler))
            ids = ids[:n]
            conn.execute(sa.delete(le).where(le.c.task_id == info.task_id,
                                             le.c.labeler_id == labeler, le.c.image_id.in_(ids)))
            if ids:
                conn.execute(sa.insert(le), [dict(task_id=info.task_id, image_id=image_id,
                                                  labeler_id=labeler, expires_at=now + lease)
                                             for image_id in ids])
        return ids

    @retried
    def release(self, task: str, labeler: str, image_ids: Sequence[str] | None = None) -> None:
        """Give back images a labeler holds (all of them by default) to the others."""
        self._check_writer(labeler)
        info = self._cache.task(task)
        le = s.leases
        query = sa.delete(le).where(le.c.task_id == info.task_id, le.c.labeler_id == labeler)
        if image_ids is not None:
            query = query.where(le.c.image_id.in_(list(image_ids)))
        with self._write() as conn:
            conn.execute(query)

    @property
    @retried
    def leases(self) -> pd.DataFrame:
        """task, image_id, labeler, expires_at (UTC) of the images handed out now."""
        le, t = s.leases, s.tasks
        with self._read() as conn:
            frame = pd.read_sql(
                sa.select(t.c.title.label("task"), le.c.image_id,
                          le.c.labeler_id.label("labeler"), le.c.expires_at)
                .select_from(le.join(t, t.c.task_id == le.c.task_id))
                .where(le.c.expires_at > time.time())
                .order_by(t.c.title, le.c.labeler_id, le.c.image_id), conn)
        frame["expires_at"] = pd.to_datetime(frame["expires_at"], unit="s", utc=True)
        return frame

    @retried
    def tasks_for(self, labeler: str) -> list[str]:
        """The tasks a labeler may work on: those assigned to them, and unassigned ones."""
        a, t = s.assignments, s.tasks
        assigned = sa.select(a.c.task_id)
        with self._read() as conn:
            return conn.execute(
                sa.select(t.c.title).where(sa.or_(
                    t.c.task_id.notin_(assigned),
                    t.c.task_id.in_(assigned.where(a.c.labeler_id == labeler))))
                .order_by(t.c.task_id)).scalars().all()

    def _check_assigned(self, info, labeler: str) -> bool:
        """Refuse a labeler the task is not assigned to; whether they receive new images."""
        a = s.assignments
        with self._read() as conn:
            assigned = dict(conn.execute(sa.select(a.c.labeler_id, a.c.receive_new)
                                         .where(a.c.task_id == info.task_id)).all())
        if assigned and labeler not in assigned:
            raise StoreError(f"task {info.title!r} is assigned to {', '.join(sorted(assigned))}, "
                             f"not to {labeler!r}")
        return bool(assigned.get(labeler, True))

    def _gold_placed(self, info, labeler: str, ids: list[str]) -> list[str]:
        """A labeler's queue with its gold images spread at the task's gold share."""
        with self._read() as conn:
            gold = self._gold_images(conn, info)
            if not gold:
                return ids
            done = self._finished(conn, info, labeler)
        return self._with_gold(info, labeler, [i for i in ids if i not in gold],
                               [i for i in ids if i in gold], done)

    @staticmethod
    def _finished(conn, info, labeler: str) -> int:
        """How many images of the task a labeler is done with (any status not open)."""
        a = s.annotations
        return conn.execute(sa.select(sa.func.count()).where(
            a.c.task_id == info.task_id, a.c.labeler_id == labeler, a.c.kind == "status",
            a.c.is_current, sa.not_(a.c.deleted), a.c.value.not_in(OPEN_STATUSES))).scalar()

    @staticmethod
    def _status_join(info, labeler: str):
        """A labeler's current status rows (aliased) and how they join on images."""
        row, i = s.annotations.alias("status_row"), s.images
        # label_key("status", info, image_id, labeler), in SQL
        label_id = sa.literal(f"status/{info.task_id}/") + i.c.image_id + sa.literal(f"/{labeler}")
        return row, sa.and_(row.c.label_id == label_id, row.c.is_current, sa.not_(row.c.deleted))

    def _in_scope(self, conn, info) -> sa.ColumnElement:
        """Images a task covers: its dataset group's, or every image."""
        group = conn.execute(sa.select(s.tasks.c.group_id)
                             .where(s.tasks.c.task_id == info.task_id)).scalar()
        if group is None:
            return sa.true()
        members = sa.select(s.dataset_group_members.c.dataset_id).where(
            s.dataset_group_members.c.group_id == group)
        return s.images.c.dataset_id.in_(members)

    @retried
    def status_of(self, image_id: str, *, task: str, labeler: str) -> str:
        with self._read() as conn:
            return status_of(conn, self._cache.task(task), image_id, labeler)

