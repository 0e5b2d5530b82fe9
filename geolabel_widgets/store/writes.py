"""The write core: every label row goes through here, over one open connection.

A label is never updated in place. ``Action.put`` writes a new current row for a
label id and marks the one before it superseded, moves the distribution aggregates
from the old row's contribution to the new one's, and tells the change feed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry

from . import aggregates
from . import schema as s
from .changes import ChangeFeed
from .masks import MaskRef
from .types import StoreError, TaskInfo, label_key

# Statuses after which an image is no longer in its labeler's work.
OPEN_STATUSES = ("unlabeled", "in_progress")
_UNREAD = object()  # put reads the current row itself

# Built once: put runs for every row an import writes, and building the statements
# each time cost as much as running them.
_a = s.annotations
_PREVIOUS = sa.select(_a.c.annotation_id, _a.c.kind, _a.c.value, _a.c.deleted,
                      _a.c.props).where(_a.c.label_id == sa.bindparam("label_id"),
                                        _a.c.is_current)
_SUPERSEDE = sa.update(_a).where(_a.c.annotation_id == sa.bindparam("old_id")).values(
    is_current=False)
_INSERT = sa.insert(_a)


@dataclass
class Action:
    """One action's writes (a key press, an import, an undo): its connection, its row
    in ``actions``, its task, and the feed told of the images it changed.

    A ``deferred`` action moves the aggregates once per image when ``flush``ed (an
    import writes thousands of rows); any other, with every row it writes."""

    conn: sa.Connection
    action_id: int
    info: TaskInfo
    changes: ChangeFeed
    deferred: bool = False
    pending: dict[tuple[str, str], aggregates.Delta] = field(default_factory=dict)

    @classmethod
    def begin(cls, conn: sa.Connection, info: TaskInfo, labeler: str, kind: str,
              changes: ChangeFeed, undoes: int | None = None, deferred: bool = False
              ) -> "Action":
        action_id = conn.execute(sa.insert(s.actions).values(
            task_id=info.task_id, labeler_id=labeler, kind=kind, undoes=undoes,
            created_at=time.time())).inserted_primary_key[0]
        return cls(conn, action_id, info, changes, deferred)

    def flush(self) -> None:
        """Move the aggregates by what this action wrote since the last flush."""
        if self.pending:
            aggregates.apply(self.conn, self.info.task_id, self.pending)
            self.pending = {}

    def put(self, label_id: str, image_id: str, labeler: str, *, kind: str, value=None,
            geometry=None, world_geometry=None, props=None, deleted: bool = False,
            author: str | None = None, mask: MaskRef | None = None, previous=_UNREAD
            ) -> int:
        """Write a new current row for ``label_id``, superseding the one before (read
        here unless the caller has it); returns the new row's id."""
        conn = self.conn
        if previous is _UNREAD:
            previous = conn.execute(_PREVIOUS, {"label_id": label_id}).first()
        before = aggregates.NOTHING
        if previous is not None:
            conn.execute(_SUPERSEDE, {"old_id": previous.annotation_id})
            dense = previous.kind in ("mask", "doodles")
            before = contribution(previous.kind, previous.value, previous.deleted,
                                  previous.props,
                                  MaskRef.load(conn, previous.annotation_id) if dense else None)
        annotation_id = conn.execute(_INSERT, dict(
            label_id=label_id, action_id=self.action_id, image_id=image_id,
            task_id=self.info.task_id, labeler_id=labeler, author_id=author or labeler,
            kind=kind, value=value, geometry=geometry, world_geometry=world_geometry,
            props=props, created_at=time.time(),
            supersedes=getattr(previous, "annotation_id", None), deleted=deleted,
            is_current=True,
        )).inserted_primary_key[0]
        if mask is not None:
            mask.attach(conn, annotation_id)
        after = contribution(kind, value, deleted, props, mask)
        if after != before:
            self.pending.setdefault((image_id, labeler), aggregates.Delta()).add(before, after)
            if not self.deferred:
                self.flush()
        self.changes.record(self.info.title, image_id)
        return annotation_id

    def set_status(self, image_id: str, labeler: str, status: str,
                   comment: str | None = None, author: str | None = None) -> None:
        """A labeler's status on an image; a finished image's lease goes back."""
        label_id = label_key("status", self.info, image_id, labeler)
        now = current(self.conn, label_id)
        unchanged = now is not None and not now.deleted and now.value == status
        if (unchanged and comment is None) or (now is None and status == "unlabeled"):
            return
        self.put(label_id, image_id, labeler, kind="status", value=status,
                 props={"comment": comment} if comment else None, author=author,
                 previous=now)
        if status not in OPEN_STATUSES:
            le = s.leases
            self.conn.execute(sa.delete(le).where(
                le.c.task_id == self.info.task_id, le.c.image_id == image_id,
                le.c.labeler_id == labeler))

    def drop_if_empty(self) -> None:
        """Remove this action's row if it wrote no label: nothing for an undo to undo."""
        a = s.annotations
        if self.conn.execute(sa.select(a.c.annotation_id).where(
                a.c.action_id == self.action_id).limit(1)).first() is None:
            self.conn.execute(sa.delete(s.actions).where(
                s.actions.c.action_id == self.action_id))


def dataset_id(conn: sa.Connection, name: str, create: dict | None = None) -> int:
    """A dataset's id; with ``create`` (its details), made if there is none."""
    d = s.datasets
    found = conn.execute(sa.select(d.c.dataset_id).where(d.c.name == name)).scalar()
    if found is None:
        if create is None:
            raise StoreError(f"no dataset named {name!r}")
        found = conn.execute(sa.insert(d).values(
            name=name, created_at=time.time(), **{"synthetic": False, **create})
        ).inserted_primary_key[0]
    return found


def current(conn: sa.Connection, label_id: str) -> sa.Row | None:
    """The current row of a label id (a tombstone too), or None."""
    a = s.annotations
    return conn.execute(sa.select(a).where(a.c.label_id == label_id, a.c.is_current)).first()


def current_with_prefix(conn: sa.Connection, prefix: str) -> dict[str, sa.Row]:
    """Label id -> current live row, of every label id starting with ``prefix``."""
    a = s.annotations
    rows = conn.execute(sa.select(a).where(
        a.c.label_id >= prefix, a.c.label_id < prefix + "\uffff", a.c.is_current,
        sa.not_(a.c.deleted))).all()
    return {row.label_id: row for row in rows}


def status_of(conn: sa.Connection, info: TaskInfo, image_id: str, labeler: str) -> str:
    row = current(conn, label_key("status", info, image_id, labeler))
    return row.value if row is not None and not row.deleted else "unlabeled"


def outcome(now, new, mode: str, content) -> str:
    """How an import treats one label, given the current row (or None)."""
    if now is None or now.deleted:
        return "added" if new is not None else "unchanged"
    if content(now) == new:
        return "unchanged"
    return "kept" if mode == "keep" else "replaced"


def contribution(kind, value, deleted, props, mask: MaskRef | None):
    if mask is None:
        return aggregates.contribution(kind, value, deleted, props)
    return aggregates.contribution(kind, value, deleted, props, mask.counts, mask.size)


def place(conn: sa.Connection, image_id: str) -> sa.Row:
    """Where an image lies on the Earth, as its shapes need it."""
    i = s.images.c
    row = conn.execute(sa.select(i.image_id, i.crs, i.transform,
                                 i.footprint.is_not(None).label("on_earth"))
                       .where(i.image_id == image_id)).first()
    if row is None:
        raise StoreError(f"no image with id {image_id!r} in this store")
    return row


def placed(geometry: BaseGeometry, where: sa.Row) -> bytes | None:
    """Check a shape's coordinates are numbers; its world geometry (WKB) when on the Earth.

    A shape may lie partly or wholly past the image's edge (imports keep what the file
    says); a NaN or infinite coordinate is no place at all.
    """
    if not np.isfinite(shapely.get_coordinates(geometry)).all():
        raise StoreError(f"a shape on image {where.image_id!r} has a coordinate that is "
                         f"not a finite number: {shapely.to_wkt(geometry, trim=True)[:120]}")
    if where.crs and where.transform and where.on_earth:
        from ..imagery.georef import pixel_to_lonlat  # pyproj, with the first one on Earth

        return shapely.to_wkb(pixel_to_lonlat(geometry, where.crs, where.transform))
    return None


def check_mask_shape(conn: sa.Connection, image_id: str, shape: tuple) -> None:
    """A mask covers its image pixel for pixel (when the image's size is known)."""
    size = conn.execute(sa.select(s.images.c.height, s.images.c.width, s.images.c.name)
                        .where(s.images.c.image_id == image_id)).first()
    if size.height is not None and size.width is not None and \
            tuple(shape) != (size.height, size.width):
        raise StoreError(f"a mask of {shape[0]} x {shape[1]} pixels does not fit image "
                         f"{size.name!r}, which is {size.height} x {size.width} (rows x "
                         "columns); nothing was stored")


@dataclass
class ImportSummary:
    """What an import did to the labels already there."""

    added: int = 0  # labels where there were none
    replaced: int = 0  # labels superseded (history keeps the old ones)
    kept: int = 0  # labels left as they were (mode "keep") though the import differs
    unchanged: int = 0  # labels equal to what was there: nothing written

    def add(self, outcomes: Counter) -> None:
        for name, n in outcomes.items():
            setattr(self, name, getattr(self, name) + n)

    def __str__(self) -> str:
        return (f"{self.added} labels added, {self.replaced} replaced, {self.kept} kept, "
                f"{self.unchanged} unchanged")
