"""Reading labels and the store's tables as frames, and the counts behind the figures."""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import sqlalchemy as sa

from . import distributions, frames
from . import schema as s
from .retry import retried
from .types import StoreError


class ReadingMixin:
    """LabelStore's reads: every one a frame or plain values, never a live object."""

    @retried
    def image_states(self, task: str | None = None, labeler: str | None = None,
                     image_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Status, main class and last labeler of each image with labels (of ``task``
        and ``labeler`` if given); images absent from it are unlabeled."""
        task_id = self._cache.task(task).task_id if task is not None else None
        with self._read() as conn:
            return frames.image_states(conn, task_id, labeler, image_ids)

    @property
    @retried
    def annotations(self) -> pd.DataFrame:
        """Current labels (tags, shapes, masks) of every task and labeler."""
        return self.get_annotations()

    @retried
    def get_annotations(self, *, task: str | None = None, labeler: str | None = None,
                        kinds: Sequence[str] | None = None,
                        image_ids: Sequence[str] | None = None, history: bool = False
                        ) -> pd.DataFrame:
        """Labels, filtered; ``history=True`` gives every row ever written, superseded too."""
        a = s.annotations
        where = []
        if image_ids is not None:
            where.append(a.c.image_id.in_(list(image_ids)))
        if task is not None:
            where.append(a.c.task_id == self._cache.task(task).task_id)
        if labeler is not None:
            where.append(a.c.labeler_id == labeler)
        with self._read() as conn:
            return frames.annotations_frame(
                conn, history=history, kinds=kinds,
                where=sa.and_(*where) if where else None)

    @retried
    def current_values(self, task: str, image_ids: Sequence[str],
                       kinds: Sequence[str] = ("tag", "status")) -> list[tuple]:
        """(image_id, labeler, kind, value) of current rows: the light read a widget
        makes after every key press, without building a frame."""
        a = s.annotations
        query = sa.select(a.c.image_id, a.c.labeler_id, a.c.kind, a.c.value).where(
            a.c.task_id == self._cache.task(task).task_id, a.c.image_id.in_(list(image_ids)),
            a.c.kind.in_(list(kinds)), a.c.is_current, sa.not_(a.c.deleted))
        with self._read() as conn:
            return [tuple(row) for row in conn.execute(query)]

    @retried
    def statuses(self, task: str | None = None) -> pd.DataFrame:
        """Current lifecycle rows: image_id, task, labeler, status, comment, author, time.

        An image with no row for a labeler is unlabeled for that labeler.
        """
        frame = self.get_annotations(task=task, kinds=["status"])
        comments = frame["props"].apply(lambda p: (p or {}).get("comment"))
        return frame.assign(status=frame["value"], comment=comments)[
            ["image_id", "task", "labeler", "status", "comment", "author", "created_at"]]

    @property
    @retried
    def labelers(self) -> pd.DataFrame:
        with self._read() as conn:
            return frames.table_frame(conn, s.labelers, index="labeler_id")

    @property
    @retried
    def datasets(self) -> pd.DataFrame:
        with self._read() as conn:
            return frames.table_frame(conn, s.datasets, index="name")

    @property
    @retried
    def tasks(self) -> pd.DataFrame:
        with self._read() as conn:
            return frames.tasks_frame(conn)

    @retried
    def classes(self, task: str) -> list[str]:
        return list(self._cache.task(task, refresh=True).classes)

    @retried
    def class_colors(self, task: str) -> dict[str, str]:
        """Class -> colour (CSS hex), in the task's class order."""
        c = s.label_classes
        with self._read() as conn:
            return dict(conn.execute(sa.select(c.c.name, c.c.color).where(
                c.c.task_id == self._cache.task(task).task_id).order_by(c.c.position)).all())

    @retried
    def distribution(self, of: str, *, view: str | None = None, task: str | None = None
                     ) -> pd.DataFrame:
        """The counts behind a distribution figure, from the aggregates (``plots.frames``
        shapes them): ``of`` is "classes" or "class pixels" (of a class ``view``),
        "labelers", "datasets", "cells" (images per grid cell), "splits" (of ``task``)
        or "shared" (the tags and masks of images two or more labelers labeled)."""
        with self._read() as conn:
            if of in distributions.BY_VIEW:
                return distributions.BY_VIEW[of](conn, view)
            if of == "splits":
                return distributions.split_classes(conn, self._cache.task(task).task_id)
            if of in distributions.WHOLE:
                return distributions.WHOLE[of](conn)
        known = [*distributions.BY_VIEW, *distributions.WHOLE, "splits"]
        raise StoreError(f"no distribution of {of!r}; there are {', '.join(map(repr, known))}")

    @retried
    def stats(self) -> dict:
        """Counts of current labels per dataset, labeler and class (``geolabel stats``)."""
        with self._read() as conn:
            return frames.stats(conn)
