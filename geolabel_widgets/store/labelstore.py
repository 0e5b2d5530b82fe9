"""LabelStore: the one source of truth for images and labels.

Every write method is one committed transaction (one "action") before it
returns, so a label made is a label kept even if the kernel dies next.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import pandas as pd
import sqlalchemy as sa

from . import aggregates, writes
from . import schema as s
from .backend import is_url, make_engine, storage_refused, writer
from .cache import Cache
from .changes import ChangeFeed
from .geometry import POSTGIS, add_spatial_indexes, choose_geometry
from .history import HistoryMixin
from .images import ImagesMixin, UnreadableImagesWarning
from .labels import LabelsMixin
from .masks import DatabaseMasks, FolderMasks
from .models import ModelsMixin
from .quality import QualityMixin, check_fraction
from .queue import QueueMixin
from .reading import ReadingMixin
from .retry import PATIENCE_SECONDS, retried, server_gone, unavailable, waiting_at_most
from .roles import add_role, permission_refused, role_of
from .splits import SplitMixin
from .text import refused
from .types import StoreError, TaskInfo
from .writes import Action, ImportSummary

if TYPE_CHECKING:
    from ..imagery.chips import ChipReport
    from .ingest import IngestReport

__all__ = ["LabelStore", "StoreError", "UnreadableImagesWarning"]

DEFAULT_TAG_CLASSES = ("present", "not present")


class LabelStore(ImagesMixin, LabelsMixin, ReadingMixin, HistoryMixin, QueueMixin, SplitMixin,
                 QualityMixin, ModelsMixin):
    """Images, tasks, labelers and labels, read as pandas frames, written by methods.

    This class opens the store, holds its transactions and sets up datasets, tasks
    and labelers; each mixin is one part of the public API. What a mixin may use
    of it: ``_read``, ``_write``, ``_transaction`` and ``_action`` (connections),
    ``_check_writer``, ``_cache`` (tasks and labelers) and ``_changes`` (the feed
    a ``writes.Action`` tells); the label rows themselves go through ``writes``.
    """

    def __init__(self, engine: sa.Engine, mask_dir: Path | None, location: str):
        self.engine = engine
        self.masks_at = FolderMasks(mask_dir, engine) if mask_dir is not None else \
            DatabaseMasks()
        self.mask_dir = self.masks_at.folder  # None: masks are rows of the database
        self.location = location
        self._writer = writer(engine)
        self._local = threading.local()  # the connection of a transaction() in this thread
        self._changes = ChangeFeed()
        self._cache = Cache(self._read)  # tasks and labelers, read once
        self.on_server = engine.dialect.name != "sqlite"
        # a labeler's own database role: the only name this store writes labels under
        self.role: str | None = None
        if self.on_server:
            with engine.connect() as conn:
                self.role = role_of(conn)
        self.patience = PATIENCE_SECONDS  # how long a call waits for a server that went away
        # what the latest add_images, add_chips and add_labels (an import) did
        self.last_ingest: IngestReport | None = None
        self.last_chips: ChipReport | None = None
        self.last_import: ImportSummary | None = None
        # the models running beside the labelers (add_model, a Learner): each has a .note
        # saying why it stopped, which the widgets show
        self.model_runs: list = []

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, target: str | os.PathLike, mask_dir: str | os.PathLike | None = None
             ) -> "LabelStore":
        """Open (or create) a store: a file path for SQLite, or a ``postgresql://`` URL.

        Mask rasters go in ``mask_dir``: by default a folder beside a SQLite file,
        and the database itself on a server (so that a team needs no shared disk).
        """
        engine = make_engine(target)
        location = engine.url.render_as_string(hide_password=True) if is_url(target) \
            else str(target)
        try:
            cls._prepare(engine, location)
        except sa.exc.DBAPIError as err:
            engine.dispose()
            if is_url(target) and server_gone(err):
                raise unavailable(location, err) from err
            if (why := storage_refused(err, location)) is not None:
                raise why from None
            if (why := permission_refused(err, engine.url.username)) is not None:
                raise StoreError(f"{location}: {why}; a role without grants cannot open "
                                 f"the store") from None
            raise
        if mask_dir is None and not is_url(target):
            path = Path(target).expanduser().absolute()
            mask_dir = path.with_name(path.stem + "_masks")
        return cls(engine, mask_dir, location)

    @staticmethod
    def _prepare(engine: sa.Engine, location: str) -> None:
        """Create the tables of a new store, or bring an older one up to date. A store
        already up to date is only read: opening one never waits for a writer."""
        with engine.begin() as conn:
            info = _store_info(conn)
            if info.get("schema_version") == str(s.SCHEMA_VERSION):
                choose_geometry(conn, False, info.get("geometry"))
                return
        with writer(engine).begin() as conn:
            info = _store_info(conn)
            known = info.get("schema_version")
            kind = choose_geometry(conn, known is None, info.get("geometry"))
            s.metadata.create_all(conn)
            if known is None:
                conn.execute(sa.insert(s.store_info), [
                    dict(key="schema_version", value=str(s.SCHEMA_VERSION)),
                    dict(key="geometry", value=kind)])
                if kind == POSTGIS:
                    add_spatial_indexes(conn)
            elif int(known) > s.SCHEMA_VERSION:
                raise StoreError(f"{location} was written by a newer geolabel_widgets "
                                 f"(schema {known}); upgrade the package to open it")
            elif int(known) < s.SCHEMA_VERSION:
                _migrate(conn, int(known))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "LabelStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LabelStore({self.location!r})"

    def waiting_at_most(self, seconds: float):
        """A block whose calls (in this thread) wait at most ``seconds`` for a server
        that went away, instead of ``store.patience``; a widget keeps its label and
        says so sooner."""
        return waiting_at_most(self, seconds)

    def subscribe(self, listener) -> None:
        """Call ``listener(changes)`` after each committed write of labels in this
        process, with the (task title, image_id) pairs it changed. Bound methods are
        held weakly."""
        self._changes.subscribe(listener)

    def unsubscribe(self, listener) -> None:
        self._changes.unsubscribe(listener)

    @contextmanager
    def transaction(self):
        """Every write inside is one transaction: all kept when the block ends, none if
        it raises. Reads inside see those writes; listeners hear once, after the commit.
        Imports run in one, so that a bad file leaves the store as it was."""
        if getattr(self._local, "conn", None) is not None:  # nested: a savepoint
            with self._write():
                yield self
            return
        try:
            with self._changes.collecting(), self._writer.begin() as conn:
                self._local.conn = conn
                try:
                    yield self
                finally:
                    self._local.conn = None
        except BaseException as err:
            self._cache.forget()  # rows it vouched for may have been rolled back
            if (why := refused(err) or permission_refused(err, self.role)) is not None:
                raise why from None
            if self.on_server and isinstance(err, sa.exc.DBAPIError) and server_gone(err):
                raise unavailable(self.location, err) from err
            if not self.on_server and (why := storage_refused(err, self.location)):
                raise why from None
            raise

    @contextmanager
    def _write(self):
        """A write transaction of its own, or a savepoint inside ``transaction()``."""
        outer = getattr(self._local, "conn", None)
        try:
            if outer is None:
                with self._writer.begin() as conn:
                    yield conn
            else:
                with outer.begin_nested():
                    yield outer
        except sa.exc.StatementError as err:
            if (why := refused(err)) is not None:  # the values never reached the database
                raise why from None
            if (why := permission_refused(err, self.role)) is not None:
                raise why from None
            if outer is None and not self.on_server and \
                    (why := storage_refused(err, self.location)):  # else transaction() says
                raise why from None
            raise

    @contextmanager
    def _read(self):
        """A connection to read with; inside ``transaction()``, its own."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.engine.connect() as conn:
                yield conn
        else:
            yield conn

    @contextmanager
    def _transaction(self):
        """A write transaction whose changed images listeners hear of once committed."""
        with self._changes.collecting(), self._write() as conn:
            yield conn

    # -- datasets, tasks, labelers ---------------------------------------------------------
    @retried
    def add_dataset(self, name: str, *, site: str | None = None, sensor: str | None = None,
                    description: str | None = None, source: str | None = None,
                    synthetic: bool = False, props: dict | None = None) -> str:
        """Create a dataset (a Coast Train record, an Image Labeler event ...).

        Calling it again for the same name fills in the details given.
        """
        details = dict(site=site, sensor=sensor, description=description, source=source,
                       props=props)
        with self._write() as conn:
            dataset_id = writes.dataset_id(conn, name, create={**details, "synthetic": synthetic})
            given = {k: v for k, v in details.items() if v is not None}
            if given or synthetic:
                conn.execute(sa.update(s.datasets).where(s.datasets.c.dataset_id == dataset_id)
                             .values(**given, **({"synthetic": True} if synthetic else {})))
        return name

    @retried
    def add_group(self, name: str, datasets: Iterable[str], description: str | None = None
                  ) -> str:
        """A dataset group, as S3Label has them: a task can label a whole group."""
        g, m = s.dataset_groups, s.dataset_group_members
        with self._write() as conn:
            group_id = conn.execute(sa.select(g.c.group_id).where(g.c.name == name)).scalar()
            if group_id is None:
                group_id = conn.execute(sa.insert(g).values(name=name, description=description)
                                        ).inserted_primary_key[0]
            members = set(conn.execute(sa.select(m.c.dataset_id)
                                       .where(m.c.group_id == group_id)).scalars())
            for dataset in datasets:
                dataset_id = writes.dataset_id(conn, dataset)
                if dataset_id not in members:
                    conn.execute(sa.insert(m).values(group_id=group_id, dataset_id=dataset_id))
        return name

    @retried
    def add_task(self, title: str, *, type: str = "tag",
                 classes: Sequence[str] = DEFAULT_TAG_CLASSES, description: str | None = None,
                 group: str | None = None, labels_per_image: int = 1,
                 colors: dict[str, str] | None = None,
                 geometry_types: dict[str, str] | None = None,
                 gold_share: float | None = None, min_agreement: float | None = None) -> str:
        """Create a task with its classes, or add classes missing from an existing one.

        ``gold_share``: the share of each labeler's queue given to gold images (default
        5%); ``min_agreement``: below it an image cannot be completed and waits in
        ``adjudication``. Either, given for an existing task, changes it.
        """
        check_fraction("gold_share", gold_share)
        check_fraction("min_agreement", min_agreement)
        if type not in s.TASK_TYPES:
            raise StoreError(f"unknown task type {type!r}; choose one of {', '.join(s.TASK_TYPES)}")
        if isinstance(classes, str):
            raise StoreError("classes is a list of class names, not one string")
        t, c = s.tasks, s.label_classes
        colors, geometry_types = colors or {}, geometry_types or {}
        with self._write() as conn:
            row = conn.execute(sa.select(t.c.task_id, t.c.type).where(t.c.title == title)).first()
            if row is None:
                group_id = None
                if group is not None:
                    group_id = conn.execute(sa.select(s.dataset_groups.c.group_id).where(
                        s.dataset_groups.c.name == group)).scalar()
                    if group_id is None:
                        raise StoreError(f"no dataset group named {group!r}")
                task_id = conn.execute(sa.insert(t).values(
                    title=title, description=description, type=type, group_id=group_id,
                    labels_per_image=labels_per_image, created_at=time.time())
                ).inserted_primary_key[0]
            elif row.type != type:
                raise StoreError(f"task {title!r} exists with type {row.type!r}, not {type!r}")
            else:
                task_id = row.task_id
            quality = {k: v for k, v in (("gold_share", gold_share),
                                         ("min_agreement", min_agreement)) if v is not None}
            if quality:
                conn.execute(sa.update(t).where(t.c.task_id == task_id).values(**quality))
            known = set(conn.execute(sa.select(c.c.name).where(c.c.task_id == task_id)).scalars())
            for position, name in enumerate(classes, start=len(known)):
                if name not in known:
                    conn.execute(sa.insert(c).values(
                        task_id=task_id, name=name, position=position,
                        color=colors.get(name, _default_color(position)),
                        geometry_type=geometry_types.get(name)))
                    known.add(name)
        self._cache.forget_task(title)
        return title

    @retried
    def add_labeler(self, labeler_id: str, *, display_name: str | None = None,
                    anonymized_id: str | None = None, email: str | None = None) -> str:
        with self._write() as conn:
            self._cache.ensure_labeler(conn, labeler_id, display_name=display_name,
                                 anonymized_id=anonymized_id, email=email)
        return labeler_id

    @retried
    def add_role(self, name: str, *, admin: bool = False, password: str | None = None) -> str:
        """On PostgreSQL, create the login role ``name`` as a labeler of this store (or an
        admin); run as the store's owner. See ``roles``."""
        with self._write() as conn:
            add_role(conn, name, admin=admin, password=password)
            if not admin:
                self._cache.ensure_labeler(conn, name)
        return name

    @retried
    def assign(self, task: str, labeler: str, *, receive_new: bool = True) -> None:
        """Assign a task to a labeler (``receive_new``: new images join their work)."""
        info = self._cache.task(task)
        a = s.assignments
        with self._write() as conn:
            self._cache.ensure_labeler(conn, labeler)
            conn.execute(sa.delete(a).where(a.c.task_id == info.task_id,
                                            a.c.labeler_id == labeler))
            conn.execute(sa.insert(a).values(task_id=info.task_id, labeler_id=labeler,
                                             receive_new=receive_new))

    @property
    @retried
    def groups(self) -> dict[str, list[str]]:
        """Each dataset group's name and its datasets."""
        g, m, d = s.dataset_groups, s.dataset_group_members, s.datasets
        with self._read() as conn:
            rows = conn.execute(sa.select(g.c.name, d.c.name).select_from(
                g.outerjoin(m, m.c.group_id == g.c.group_id)
                .outerjoin(d, d.c.dataset_id == m.c.dataset_id))
                .order_by(g.c.group_id, d.c.dataset_id)).all()
        groups: dict[str, list[str]] = {}
        for group, dataset in rows:
            groups.setdefault(group, [])
            if dataset is not None:
                groups[group].append(dataset)
        return groups

    @property
    @retried
    def assignments(self) -> pd.DataFrame:
        """task, labeler, receive_new: who works on which task."""
        a, t = s.assignments, s.tasks
        with self._read() as conn:
            return pd.read_sql(sa.select(t.c.title.label("task"), a.c.labeler_id.label("labeler"),
                                         a.c.receive_new)
                               .select_from(a.join(t, t.c.task_id == a.c.task_id))
                               .order_by(t.c.title, a.c.labeler_id), conn)

    @retried
    def remap(self, name: str, aliases: dict) -> str:
        """A class view: class names mapped to others (merge, rename), the labels untouched.

        ``aliases`` maps class -> new class for every dataset, or dataset name ->
        {class: new class} with ``"*"`` for the rest (the same class can go to different
        classes in different datasets: a split). Unmapped classes keep their name.
        Calling it again with the same name replaces the mapping.
        """
        aliases = _view_aliases(aliases)
        v = s.class_views
        with self._write() as conn:
            view_id = conn.execute(sa.select(v.c.view_id).where(v.c.name == name)).scalar()
            if view_id is None:
                view_id = conn.execute(sa.insert(v).values(
                    name=name, aliases=aliases, created_at=time.time())).inserted_primary_key[0]
            else:
                conn.execute(sa.update(v).where(v.c.view_id == view_id).values(aliases=aliases))
            aggregates.build_view(conn, view_id, aliases)
        return name

    @retried
    def view_aliases(self, name: str) -> dict:
        """A class view's mapping, by dataset (``"*"``: every other); {} if there is none."""
        v = s.class_views
        with self._read() as conn:
            aliases = conn.execute(sa.select(v.c.aliases).where(v.c.name == name)).scalar()
        return dict(aliases or {})

    # -- internals -------------------------------------------------------------------------
    def _check_writer(self, labeler: str) -> None:
        """On a labeler's own database role, refuse writing under another name (the
        database would too: row-level security)."""
        if self.role is not None and labeler != self.role:
            raise StoreError(f"this store is opened as the database role {self.role!r}: it "
                             f"writes only as {self.role!r}, not as {labeler!r}")

    @contextmanager
    def _action(self, info: TaskInfo, labeler: str, image_id: str):
        """A write transaction holding one new edit action, after checking the image."""
        self._check_writer(labeler)
        try:
            with self._transaction() as conn:
                exists = conn.execute(sa.select(s.images.c.seq).where(
                    s.images.c.image_id == image_id)).first()
                if exists is None:
                    raise StoreError(f"no image with id {image_id!r} in this store")
                self._cache.ensure_labeler(conn, labeler)
                yield Action.begin(conn, info, labeler, "edit", self._changes)
        except BaseException:
            self._cache.forget_labelers(labeler)  # its row may have been rolled back
            raise


def _store_info(conn: sa.Connection) -> dict[str, str]:
    """The store's own settings; none for a new database."""
    if not sa.inspect(conn).has_table(s.store_info.name):
        return {}
    return dict(conn.execute(sa.select(s.store_info.c.key, s.store_info.c.value)).all())


def _migrate(conn, version: int) -> None:
    """Bring a store written by an older schema up to date, in the opening transaction."""
    if version < 2:  # no aggregates: derive them from the rows
        aggregates.rebuild(conn)
    if version < 3:  # no sources: each image's own uri is its first
        i = s.images
        conn.execute(sa.insert(s.image_sources).from_select(
            ["image_id", "uri", "dataset_id", "added_at"],
            sa.select(i.c.image_id, i.c.uri, i.c.dataset_id, i.c.added_at)))
    if version < 6:  # quality settings (gold_labels itself is made by create_all)
        have = {c["name"] for c in sa.inspect(conn).get_columns("tasks")}
        for column in {"gold_share", "min_agreement"} - have:
            conn.execute(sa.text(f"ALTER TABLE tasks ADD COLUMN {column} FLOAT"))
    # 7: predictions and image_features are new tables: create_all has made them
    conn.execute(sa.update(s.store_info).where(s.store_info.c.key == "schema_version")
                 .values(value=str(s.SCHEMA_VERSION)))


def _view_aliases(aliases: dict) -> dict:
    if not isinstance(aliases, dict) or not aliases:
        raise StoreError("aliases map class names to new names: {'sand': 'sediment', ...}")
    if all(isinstance(v, str) for v in aliases.values()):
        aliases = {"*": aliases}
    for scope, mapping in aliases.items():
        if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise StoreError(f"aliases for {scope!r} must map class names to class names")
    return aliases


def _default_color(position: int) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return to_hex(colormaps["tab20"](position % 20))
