"""Undo and redo: each restores what a label was before an action, as new rows."""

from __future__ import annotations

import sqlalchemy as sa

from . import schema as s
from .masks import MaskRef
from .retry import retried
from .types import StoreError, TaskInfo
from .writes import Action, current

_CONTENT = ("kind", "value", "geometry", "world_geometry", "props", "deleted")


class HistoryMixin:
    """LabelStore's undo and redo, written as new rows through ``writes``."""

    @retried
    def undo(self, *, task: str, labeler: str, image_id: str | None = None) -> list[str]:
        """Undo the labeler's last action in the task (on one image if given).

        A new row restores what was there before; nothing is deleted. Returns the
        ids of the images changed: an empty list when there was nothing to undo.
        """
        info = self._cache.task(task)
        act = s.actions
        undone = sa.select(act.c.undoes).where(act.c.kind == "undo", act.c.undoes.is_not(None))
        query = self._actions_of(info, labeler, image_id).where(
            act.c.kind.in_(("edit", "redo")), act.c.action_id.not_in(undone))
        return self._revert_latest(info, labeler, query, "undo")

    @retried
    def redo(self, *, task: str, labeler: str, image_id: str | None = None) -> list[str]:
        """Redo the last undo, if nothing was edited since; returns the images changed."""
        info = self._cache.task(task)
        act = s.actions
        redone = sa.select(act.c.undoes).where(act.c.kind == "redo", act.c.undoes.is_not(None))
        last_edit = self._actions_of(info, labeler, image_id).where(act.c.kind == "edit") \
            .with_only_columns(sa.func.max(act.c.action_id)).order_by(None).limit(None) \
            .scalar_subquery()  # an aggregate: no ORDER BY (PostgreSQL refuses one)
        query = self._actions_of(info, labeler, image_id).where(
            act.c.kind == "undo", act.c.action_id.not_in(redone),
            act.c.action_id > sa.func.coalesce(last_edit, 0))
        return self._revert_latest(info, labeler, query, "redo")

    def _actions_of(self, info: TaskInfo, labeler: str, image_id: str | None):
        act, a = s.actions, s.annotations
        query = sa.select(act.c.action_id).where(act.c.task_id == info.task_id,
                                                 act.c.labeler_id == labeler)
        if image_id is not None:
            query = query.where(sa.exists().where(a.c.action_id == act.c.action_id,
                                                  a.c.image_id == image_id))
        return query.order_by(act.c.action_id.desc()).limit(1)

    def _revert_latest(self, info: TaskInfo, labeler: str, query, kind: str) -> list[str]:
        a = s.annotations
        changed: list[str] = []
        with self._transaction() as conn:
            target = conn.execute(query).scalar()
            if target is None:
                return changed
            self._check_writer(labeler)
            act = Action.begin(conn, info, labeler, kind, self._changes, undoes=target,
                               deferred=True)
            for row in conn.execute(sa.select(a).where(a.c.action_id == target)
                                    .order_by(a.c.annotation_id)).all():
                now = current(conn, row.label_id)
                if now is None or not _same_content(conn, now, row):
                    raise StoreError(f"cannot {kind}: label {row.label_id} was changed since "
                                     f"by {getattr(now, 'author_id', 'someone')}")
                before = conn.execute(sa.select(a).where(
                    a.c.annotation_id == row.supersedes)).first() if row.supersedes else None
                content = ({c: getattr(before, c) for c in _CONTENT} if before is not None
                           else {**{c: getattr(row, c) for c in _CONTENT}, "deleted": True})
                mask = MaskRef.load(conn, before.annotation_id) if before is not None else None
                act.put(row.label_id, row.image_id, row.labeler_id, author=labeler, mask=mask,
                        **content)
                if row.image_id not in changed:
                    changed.append(row.image_id)
            act.flush()
        return changed


def _same_content(conn, one, other) -> bool:
    """Whether two rows say the same (an undo may have restored what a row wrote)."""
    if one.annotation_id == other.annotation_id:
        return True
    if any(getattr(one, c) != getattr(other, c) for c in _CONTENT):
        return False
    paths = conn.execute(sa.select(s.masks.c.annotation_id, s.masks.c.path).where(
        s.masks.c.annotation_id.in_([one.annotation_id, other.annotation_id]))).all()
    return len({path for _, path in paths}) <= 1 and len(paths) in (0, 2)
