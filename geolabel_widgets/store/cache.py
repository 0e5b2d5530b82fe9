"""What a store remembers of its tasks and labelers between calls.

Both are read once and then trusted; a transaction that rolls back may have
written them, so the store forgets them then and reads them again when needed.
"""

from __future__ import annotations

import time
from typing import Callable, ContextManager, Iterable

import sqlalchemy as sa

from . import schema as s
from .quality import GOLD_SHARE
from .types import StoreError, TaskInfo


class Cache:
    def __init__(self, read: Callable[[], ContextManager[sa.Connection]]):
        self._read = read
        self._tasks: dict[str, TaskInfo] = {}
        self._labelers: set[str] = set()

    def task(self, title: str, refresh: bool = False) -> TaskInfo:
        """A task's id, type, classes and settings (read again with ``refresh``)."""
        info = None if refresh else self._tasks.get(title)
        if info is None:
            t, c = s.tasks, s.label_classes
            with self._read() as conn:
                row = conn.execute(sa.select(t.c.task_id, t.c.type, t.c.labels_per_image,
                                             t.c.gold_share, t.c.min_agreement)
                                   .where(t.c.title == title)).first()
                if row is None:
                    raise StoreError(f"no task named {title!r}; create it with store.add_task")
                classes = conn.execute(sa.select(c.c.name).where(c.c.task_id == row.task_id)
                                       .order_by(c.c.position)).scalars().all()
            info = TaskInfo(row.task_id, title, row.type, tuple(classes), row.labels_per_image,
                            GOLD_SHARE if row.gold_share is None else row.gold_share,
                            row.min_agreement)
            self._tasks[title] = info
        return info

    def task_by_id(self, task_id: int) -> TaskInfo:
        with self._read() as conn:
            title = conn.execute(sa.select(s.tasks.c.title)
                                 .where(s.tasks.c.task_id == task_id)).scalar_one()
        return self.task(title)

    def check_classes(self, info: TaskInfo, values: Iterable[str]) -> None:
        """Refuse a class the task has not got (read again first: another kernel may
        have added it)."""
        unknown = [v for v in values if v not in info.classes]
        if unknown and set(unknown) - set(self.task(info.title, refresh=True).classes):
            raise StoreError(f"task {info.title!r} has no class {unknown[0]!r}; its classes: "
                             f"{', '.join(self._tasks[info.title].classes)}")

    def ensure_labeler(self, conn: sa.Connection, labeler_id: str, **details) -> None:
        """The labeler's row, added (or its details filled in) on ``conn``."""
        if labeler_id in self._labelers and not any(details.values()):
            return
        if not isinstance(labeler_id, str) or not labeler_id:
            raise StoreError("a labeler is a non-empty name")
        lb = s.labelers
        known = conn.execute(sa.select(lb.c.labeler_id)
                             .where(lb.c.labeler_id == labeler_id)).scalar()
        values = {k: v for k, v in details.items() if v is not None}
        if known is None:
            conn.execute(sa.insert(lb).values(labeler_id=labeler_id, created_at=time.time(),
                                              **values))
        elif values:
            conn.execute(sa.update(lb).where(lb.c.labeler_id == labeler_id).values(**values))
        self._labelers.add(labeler_id)

    def forget_task(self, title: str) -> None:
        self._tasks.pop(title, None)

    def forget_labelers(self, *labelers: str) -> None:
        """Forget these labelers (all of them if none is named)."""
        if labelers:
            self._labelers.difference_update(labelers)
        else:
            self._labelers.clear()

    def forget(self) -> None:
        self._tasks.clear()
        self._labelers.clear()
