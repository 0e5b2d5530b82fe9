"""LabelStore: the one source of truth for images and labels.

Every write method is one committed transaction (one "action") before it
returns, so a label made is a label kept even if the kernel dies next.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from shapely.geometry import shape as geometry_from_dict
from shapely.geometry.base import BaseGeometry

from ..batch import run_batch
from ..imagery.georef import pixel_to_lonlat
from . import aggregates, distributions, frames
from . import schema as s
from .backend import is_url, make_engine, storage_refused, writer
from .changes import ChangeFeed
from .geometry import POSTGIS, add_spatial_indexes, choose_geometry
from .history import HistoryMixin
from .text import refused
from .types import StoreError, TaskInfo, label_key
from .ingest import (AddedImages, ChipJob, IngestReport, chip_rows, is_remote, merge_report,
                     rows_from_files, rows_from_frame)
from .masks import DatabaseMasks, FolderMasks, MaskRef, decode_mask, encode_mask, pixel_counts
from .quality import GOLD_SHARE, QualityMixin, check_fraction
from .queue import OPEN_STATUSES, QueueMixin
from .roles import add_role, permission_refused, role_of
from .retry import PATIENCE_SECONDS, retried, server_gone, unavailable, waiting_at_most
from .rotated import box_of
from .splits import SplitMixin

if TYPE_CHECKING:
    from ..imagery.chips import ChipReport

DEFAULT_TAG_CLASSES = ("present", "not present")
_UNREAD = object()  # _put reads the current row itself
REVIEW_VERDICTS = {"accept": "reviewed", "reviewed": "reviewed",
                   "needs_improvement": "needs_improvement",
                   "needs improvement": "needs_improvement"}


class LabelStore(HistoryMixin, QueueMixin, SplitMixin, QualityMixin):
    """Images, tasks, labelers and labels, read as pandas frames, written by methods."""

    def __init__(self, engine: sa.Engine, mask_dir: Path | None, location: str):
        self.engine = engine
        self.masks_at = FolderMasks(mask_dir, engine) if mask_dir is not None else \
            DatabaseMasks()
        self.mask_dir = self.masks_at.folder  # None: masks are rows of the database
        self.location = location
        self._writer = writer(engine)
        self._local = threading.local()  # the connection of a transaction() in this thread
        self._changes = ChangeFeed()
        self._tasks: dict[str, TaskInfo] = {}
        self._labelers: set[str] = set()
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
            self._forget_cached()  # rows it vouched for may have been rolled back
            if (why := refused(err) or permission_refused(err, self.role)) is not None:
                raise why from None
            if self.on_server and isinstance(err, sa.exc.DBAPIError) and server_gone(err):
                raise unavailable(self.location, err) from err
            if not self.on_server and (why := storage_refused(err, self.location)):
                raise why from None
            raise

    def _forget_cached(self) -> None:
        """Drop what this object remembers of tasks and labelers (read again when needed)."""
        self._tasks.clear()
        self._labelers.clear()

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
            dataset_id = self._dataset_id(conn, name, create={**details, "synthetic": synthetic})
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
                dataset_id = self._dataset_id(conn, dataset)
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
        self._tasks.pop(title, None)
        return title

    @retried
    def add_labeler(self, labeler_id: str, *, display_name: str | None = None,
                    anonymized_id: str | None = None, email: str | None = None) -> str:
        with self._write() as conn:
            self._ensure_labeler(conn, labeler_id, display_name=display_name,
                                 anonymized_id=anonymized_id, email=email)
        return labeler_id

    @retried
    def add_role(self, name: str, *, admin: bool = False, password: str | None = None) -> str:
        """On PostgreSQL, create the login role ``name`` as a labeler of this store (or an
        admin); run as the store's owner. See ``roles``."""
        with self._write() as conn:
            add_role(conn, name, admin=admin, password=password)
            if not admin:
                self._ensure_labeler(conn, name)
        return name

    @retried
    def assign(self, task: str, labeler: str, *, receive_new: bool = True) -> None:
        """Assign a task to a labeler (``receive_new``: new images join their work)."""
        info = self._task(task)
        a = s.assignments
        with self._write() as conn:
            self._ensure_labeler(conn, labeler)
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

    # -- images ----------------------------------------------------------------------------
    def add_images(self, source, *, dataset: str, recursive: bool = True,
                   progress: bool = True, scheduler: str | None = None,
                   workers: int | None = None) -> AddedImages:
        """Add images by reference: a folder, file, list of paths, or a (Geo)DataFrame.

        Files are hashed (sha256) and only their headers read: here, or on Dask with
        ``scheduler="local"`` (a LocalCluster of ``workers``) or a scheduler's address,
        for catalogues of many thousand files. Returns the ids of every usable image
        found, including those already in the store (a list, shown as a one-line
        count); unreadable files are listed in one warning (and in its ``.report``).
        """
        report = IngestReport()
        if isinstance(source, pd.DataFrame):
            rows = rows_from_frame(source, report)
        else:
            rows = rows_from_files(source, recursive, progress, report, scheduler, workers)
        report.image_ids, report.added = self._insert_images(rows, dataset)
        self._ingested(report)
        return AddedImages(report)

    def _ingested(self, report: IngestReport) -> None:
        self.last_ingest = report
        if report.failures or report.without_footprint:
            import warnings

            warnings.warn(report.summary(), UnreadableImagesWarning, stacklevel=3)

    def add_chips(self, scene: str | os.PathLike | Sequence, *, size: int = 512,
                  overlap: int = 0, region=None, dataset: str | None = None,
                  folder: str | os.PathLike | None = None, progress: bool = True,
                  scheduler: str | None = None, workers: int | None = None) -> list[str]:
        """Cut large georeferenced rasters into ``size`` x ``size`` chips and add them.

        ``scene``: one raster, or a list of them, cut one per Dask task with
        ``scheduler`` ("local" or a scheduler's address; default: here, in turn). A
        scene is read window by window (never whole); chips of nodata only, and
        chips outside ``region`` (a shapely geometry or GeoJSON dict in lon/lat), are
        skipped. Chips are GeoTIFFs in ``folder`` (default: ``<scene>_chips`` beside the
        store's masks; a store on a server, or a cluster, needs one every kernel and
        worker reads; several scenes get a folder each inside it), each with its
        footprint, and remember their scene and window in ``props``. A scene's chips
        are its dataset (``dataset``, default the scene's name). Returns the chips'
        image ids; ``store.last_chips`` says what was cut.
        """
        from ..imagery.chips import ChipReport

        scenes = [scene] if isinstance(scene, (str, os.PathLike)) else list(scene)
        if folder is None and self.mask_dir is None:
            raise StoreError("a store on a server keeps no files: give add_chips a folder "
                             "that every labeler's kernel can read")
        jobs = [ChipJob(str(one), str(self._chip_folder(one, folder, len(scenes) > 1)),
                        size, overlap, region, progress and len(scenes) == 1)
                for one in scenes]
        folders = {Path(job.folder) for job in jobs} | ({Path(folder)} if folder else set())
        made = [path for path in folders if not path.exists()]  # removed if this fails
        total, report = ChipReport(), IngestReport()
        try:
            cuts = run_batch(chip_rows, jobs, scheduler=scheduler, workers=workers,
                             desc="Chipping scenes", progress=progress and len(scenes) > 1)
            added = self._insert_chips(jobs, cuts, dataset)
            for (cut, _, found), (ids, n) in zip(cuts, added):
                report.image_ids += ids
                report.added += n
                total.paths += cut.paths
                total.windows += cut.windows
                total.nodata_only += cut.nodata_only
                total.outside_region += cut.outside_region
                merge_report(report, found)
        except BaseException:  # no chip files without their rows
            for path in made:
                shutil.rmtree(path, ignore_errors=True)
            raise
        self.last_chips = total
        self._ingested(report)
        return AddedImages(report)

    @retried
    def _insert_chips(self, jobs, cuts, dataset) -> list[tuple[list[str], int]]:
        """Every scene's chips in one transaction (tried again whole if the server goes)."""
        with self.transaction():
            return [self._insert_images(rows, dataset or Path(job.scene).stem)
                    for job, (_, rows, _) in zip(jobs, cuts)]

    def _chip_folder(self, scene, folder, several: bool) -> Path:
        name = f"{Path(str(scene)).stem}_chips"
        if folder is None:
            return self.mask_dir.parent / name
        return Path(folder) / name if several else Path(folder)

    @retried
    def _insert_images(self, rows: list[dict], dataset: str) -> tuple[list[str], int]:
        """Insert the rows not yet in the store, and record every new (image, uri) source."""
        ids = list(dict.fromkeys(row["image_id"] for row in rows))
        src = s.image_sources
        with self._write() as conn:
            dataset_id = self._dataset_id(conn, dataset, create={})
            known: dict[str, str] = {}  # image id -> its uri
            sources: set[tuple[str, str]] = set()
            for chunk in _chunks(ids, 900):
                known.update(conn.execute(sa.select(s.images.c.image_id, s.images.c.uri)
                                          .where(s.images.c.image_id.in_(chunk))).all())
                sources.update(conn.execute(sa.select(src.c.image_id, src.c.uri)
                                            .where(src.c.image_id.in_(chunk))).all())
            new, seen, new_sources = [], set(known), []
            for row in rows:
                if row["image_id"] not in seen:
                    seen.add(row["image_id"])
                    new.append({**row, "dataset_id": dataset_id})
                if (row["image_id"], row["uri"]) not in sources:
                    sources.add((row["image_id"], row["uri"]))
                    new_sources.append(dict(image_id=row["image_id"], uri=row["uri"],
                                            dataset_id=dataset_id, added_at=row["added_at"],
                                            props=row.get("props")))
            if new:
                conn.execute(sa.insert(s.images), new)
                aggregates.on_images_added(conn, new)
            if new_sources:
                conn.execute(sa.insert(src), new_sources)
            _follow_moved_files(conn, rows, known)
        return ids, len(new)

    @retried
    def image(self, image_id: str) -> dict:
        """One image's row as a dict (uri, size, georeference ...)."""
        with self._read() as conn:
            row = conn.execute(sa.select(s.images).where(s.images.c.image_id == image_id)).first()
        if row is None:
            raise StoreError(f"no image with id {image_id!r} in this store")
        return dict(row._mapping)

    @property
    @retried
    def sources(self) -> pd.DataFrame:
        """Where each image was found: one row per (image, path or URL), with its dataset.

        An image added again from another path (the same bytes) has several rows.
        """
        src, d = s.image_sources, s.datasets
        with self._read() as conn:
            frame = frames.read_query(conn, sa.select(
                src.c.image_id, src.c.uri, d.c.name.label("dataset"), src.c.added_at)
                .join(d, d.c.dataset_id == src.c.dataset_id)
                .order_by(src.c.added_at, src.c.image_id))
        frame["added_at"] = pd.to_datetime(frame["added_at"], unit="s", utc=True)
        return frame

    # -- writing labels --------------------------------------------------------------------
    @retried
    def tag(self, image_id: str, value: str | Sequence[str] | None, *, task: str,
            labeler: str) -> None:
        """Tag an image with a class (or a list for a multilabel task; None clears)."""
        info = self._task(task)
        values = [] if value is None else [value] if isinstance(value, str) else list(value)
        self._check_classes(info, values)
        with self._action(info, labeler, image_id) as (conn, action):
            self._tag(conn, action, info, image_id, values, labeler)

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
        info = self._task(task, refresh=True)
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
            self._labelers.clear()  # rows it vouched for may have been rolled back
            raise

    def _write_labels(self, labels: pd.DataFrame, props: pd.Series, info: TaskInfo,
                      mode: str) -> ImportSummary:
        summary = ImportSummary()
        with self._transaction() as conn:
            known = set()
            for chunk in _chunks(list(labels["image_id"].unique()), 900):
                known.update(conn.execute(sa.select(s.images.c.image_id).where(
                    s.images.c.image_id.in_(chunk))).scalars())
            places: dict[str, sa.Row] = {}  # image id -> its _place
            for labeler, rows in labels.groupby("labeler", sort=False):
                self._check_writer(labeler)
                self._ensure_labeler(conn, labeler)
                action = self._new_action(conn, info, labeler, "edit")
                shaped = set()  # images this labeler drew on: "in_progress" if unlabeled
                for row, extra in zip(rows.itertuples(), props[rows.index]):
                    if row.image_id not in known:
                        raise StoreError(f"row {row.Index}: no image {row.image_id!r}")
                    if row.kind == "tag":
                        values = [] if not isinstance(row.value, (str, list, tuple)) else \
                            [row.value] if isinstance(row.value, str) else list(row.value)
                        self._check_classes(info, values)
                        summary.add(self._tag(conn, action, info, row.image_id, values,
                                              labeler, mode))
                    elif row.kind == "doodles":
                        label_id = label_key("doodles", info, row.image_id, labeler)
                        current = self._current(conn, label_id)
                        outcome = _outcome(current, extra, mode, lambda c: c.props)
                        if outcome in ("added", "replaced"):
                            self._put(conn, action, label_id, row.image_id, info, labeler,
                                      kind="doodles", props=extra)
                        summary.add(Counter([outcome]))
                    elif row.kind in s.SHAPE_KINDS:
                        summary.add(self._import_shape(conn, action, info, row, extra, mode,
                                                       places))
                        shaped.add(row.image_id)
                    else:
                        raise StoreError(f"row {row.Index}: add_labels writes tags, doodles "
                                         f"and shapes, not {row.kind!r}")
                for image_id in shaped:
                    if self._status_of(conn, image_id, info, labeler) == "unlabeled":
                        self._set_status(conn, action, image_id, info, labeler, "in_progress")
                a = s.annotations
                if conn.execute(sa.select(a.c.annotation_id).where(a.c.action_id == action)
                                .limit(1)).first() is None:  # nothing for an undo to undo
                    conn.execute(sa.delete(s.actions).where(s.actions.c.action_id == action))
        return summary

    def _import_shape(self, conn, action: int, info: TaskInfo, row, props, mode: str,
                      places: dict) -> Counter:
        """One shape row of ``add_labels``: written as ``annotate`` writes it."""
        geometry = _as_geometry(row.geometry)
        self._check_classes(info, [row.value])
        _check_shape(row.kind, geometry)
        given = getattr(row, "label_id", None)
        previous = None
        if isinstance(given, str):
            a = s.annotations
            previous = conn.execute(sa.select(a.c.annotation_id, a.c.kind, a.c.value,
                                              a.c.deleted, a.c.props).where(
                a.c.label_id == given, a.c.is_current)).first()
            if previous is not None and mode == "keep":
                return Counter(["kept"])
        if row.image_id not in places:
            places[row.image_id] = _place(conn, row.image_id)
        world = _placed(geometry, places[row.image_id])
        self._put(conn, action, given if isinstance(given, str) else uuid.uuid4().hex,
                  row.image_id, info, row.labeler, kind=row.kind, value=row.value,
                  geometry=shapely.to_wkb(geometry), world_geometry=world,
                  props=props if isinstance(props, dict) else None, previous=previous)
        return Counter(["added" if previous is None else "replaced"])

    def _tag(self, conn, action: int, info: TaskInfo, image_id: str, values: list[str],
             labeler: str, mode: str | None = None) -> Counter:
        """Set a labeler's tags on an image. ``mode`` None: as a person tags (every call
        is written); "replace" or "keep": as an import (see ``add_labels``)."""
        prefix = label_key("tag", info, image_id, labeler)
        outcomes = Counter()
        if info.type == "multilabel":
            current = self._current_with_prefix(conn, prefix + "/")
            have = {row.value for row in current.values()}
            for cls in values:
                if cls not in have:
                    self._put(conn, action, prefix + "/" + cls, image_id, info, labeler,
                              kind="tag", value=cls)
                outcomes["unchanged" if cls in have else "added"] += 1
            for label_id, row in current.items():
                if row.value in values:
                    continue
                if mode == "keep":
                    outcomes["kept"] += 1
                    continue
                self._put(conn, action, label_id, image_id, info, labeler, kind="tag",
                          value=row.value, deleted=True)
                outcomes["replaced"] += 1
        else:
            if len(values) > 1:
                raise StoreError(f"task {info.title!r} takes one class per image, got {values}")
            value = values[0] if values else None
            outcome = "added"
            if mode is not None:
                current = self._current(conn, prefix)
                outcome = _outcome(current, value, mode, lambda c: c.value)
            if outcome in ("added", "replaced"):
                self._put(conn, action, prefix, image_id, info, labeler, kind="tag",
                          value=value, deleted=not values)
            outcomes[outcome] += 1
            if outcome == "kept":
                return outcomes
        self._set_status(conn, action, image_id, info, labeler,
                         "labeled" if values or outcomes["kept"] else "unlabeled")
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
        info = self._task(task)
        self._check_classes(info, [value])
        _check_shape(kind, geometry)
        with self._action(info, labeler, image_id) as (conn, action):
            world = _placed(geometry, _place(conn, image_id))
            self._put(conn, action, label_id, image_id, info, labeler, kind=kind, value=value,
                      geometry=shapely.to_wkb(geometry), world_geometry=world, props=props)
            if self._status_of(conn, image_id, info, labeler) == "unlabeled":
                self._set_status(conn, action, image_id, info, labeler, "in_progress")

    @retried
    def delete_label(self, label_id: str, *, labeler: str) -> None:
        """Delete a label (a tombstone row supersedes it; history keeps it)."""
        with self._read() as conn:
            row = self._current(conn, label_id)
        if row is None:
            raise StoreError(f"no current label {label_id!r}")
        info = self._task_by_id(row.task_id)
        with self._action(info, labeler, row.image_id) as (conn, action):
            self._put(conn, action, label_id, row.image_id, info, row.labeler_id,
                      kind=row.kind, value=row.value, geometry=row.geometry,
                      world_geometry=row.world_geometry, deleted=True)

    @retried
    def add_mask(self, image_id: str, mask: np.ndarray, *, task: str, labeler: str,
                 classes: Sequence[str] | None = None, kind: str = "mask",
                 props: dict | None = None) -> int:
        """Store a dense label raster and its per-class pixel counts; returns the row id.

        ``kind="mask"``: pixel value i is ``classes[i]``. ``kind="doodles"``: 0 is
        "not doodled" and k is ``classes[k-1]`` (Coast Train's NPZ convention).
        """
        info = self._task(task)
        classes = list(classes or info.classes)
        self._check_classes(info, classes)
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
        with self._action(info, labeler, image_id) as (conn, action):
            _check_mask_shape(conn, image_id, mask.shape)
            self.masks_at.put(conn, file_name, png)
            annotation_id = self._put(conn, action, label_id, image_id, info, labeler,
                                      kind=kind, value=None, props=props, mask=ref)
            if kind == "mask":
                self._set_status(conn, action, image_id, info, labeler, "labeled")
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
        info = self._task(task)
        with self._action(info, author or labeler, image_id) as (conn, action):
            self._ensure_labeler(conn, labeler)
            self._set_status(conn, action, image_id, info, labeler, status, comment=comment,
                             author=author)

    @retried
    def skip(self, image_id: str, *, task: str, labeler: str) -> None:
        self.set_status(image_id, "skipped", task=task, labeler=labeler)

    @retried
    def complete(self, image_id: str, *, task: str, labeler: str) -> None:
        """Mark a labeler's drawing on an image as finished; refused while its labelers
        agree less than the task's ``min_agreement``."""
        self._check_agreement(self._task(task, refresh=True), image_id)
        self.set_status(image_id, "labeled", task=task, labeler=labeler)

    @retried
    def review(self, image_id: str, task: str, verdict: str, *, reviewer: str,
               comment: str | None = None, labeler: str | None = None) -> None:
        """Accept a label ("accept") or send it back ("needs_improvement", with a comment).

        ``labeler`` names whose label is reviewed; by default everyone's on that image.
        """
        status = REVIEW_VERDICTS.get(verdict)
        if status is None:
            raise StoreError(f"unknown verdict {verdict!r}; use 'accept' or 'needs_improvement'")
        info = self._task(task)
        with self._action(info, reviewer, image_id) as (conn, action):
            owners = [labeler] if labeler else conn.execute(
                sa.select(s.annotations.c.labeler_id).distinct().where(
                    frames.current_label_rows(), s.annotations.c.image_id == image_id,
                    s.annotations.c.task_id == info.task_id)).scalars().all()
            if not owners:
                raise StoreError(f"image {image_id} has no labels in task {task!r} to review")
            for owner in owners:
                self._set_status(conn, action, image_id, info, owner, status, comment=comment,
                                 author=reviewer)

    @retried
    def comment(self, image_id: str, text: str, *, task: str, labeler: str) -> None:
        """A labeler's note on an image (one current comment per labeler)."""
        info = self._task(task)
        with self._action(info, labeler, image_id) as (conn, action):
            self._put(conn, action, label_key("comment", info, image_id, labeler), image_id,
                      info, labeler, kind="comment", value=text)

    # -- reading ---------------------------------------------------------------------------
    @property
    @retried
    def images(self) -> gpd.GeoDataFrame:
        """Every image, indexed by image_id; geometry is the footprint in EPSG:4326."""
        with self._read() as conn:
            return frames.images_frame(conn)

    @retried
    def footprints(self, task: str | None = None) -> gpd.GeoDataFrame:
        """Name, dataset, place in the store's order (seq) and footprint (or centroid
        point) of every located image (of those ``task`` covers): what a map needs,
        without the rest of each image's row."""
        with self._read() as conn:
            scope = self._in_scope(conn, self._task(task)) if task is not None else None
            return frames.footprints_frame(conn, scope)

    @retried
    def centres(self, task: str | None = None) -> pd.DataFrame:
        """Dataset and centre (lon, lat) of every located image (of those ``task`` covers),
        indexed by its place in the store's order: what a map of a million images draws
        first, while their footprints are read."""
        with self._read() as conn:
            scope = self._in_scope(conn, self._task(task)) if task is not None else None
            return frames.centres_frame(conn, scope)

    @retried
    def image_states(self, task: str | None = None, labeler: str | None = None,
                     image_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Status, main class and last labeler of each image with labels (of ``task``
        and ``labeler`` if given); images absent from it are unlabeled."""
        task_id = self._task(task).task_id if task is not None else None
        with self._read() as conn:
            return frames.image_states(conn, task_id, labeler, image_ids)

    @retried
    def images_of(self, image_ids: Sequence[str]) -> gpd.GeoDataFrame:
        """The rows of these images, in this order: what a queue of a few hundred needs,
        without reading every image's row."""
        ids = list(image_ids)
        if len(ids) > 20 * 900:  # most of the store: one read is quicker
            return self.images.reindex(ids)
        with self._read() as conn:
            parts = [frames.images_frame(conn, where=s.images.c.image_id.in_(chunk))
                     for chunk in _chunks(ids, 900)]
        if not parts:
            return self.images.iloc[:0]
        return pd.concat(parts).reindex(ids)

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
            where.append(a.c.task_id == self._task(task).task_id)
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
            a.c.task_id == self._task(task).task_id, a.c.image_id.in_(list(image_ids)),
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
        return list(self._task(task, refresh=True).classes)

    @retried
    def class_colors(self, task: str) -> dict[str, str]:
        """Class -> colour (CSS hex), in the task's class order."""
        c = s.label_classes
        with self._read() as conn:
            return dict(conn.execute(sa.select(c.c.name, c.c.color).where(
                c.c.task_id == self._task(task).task_id).order_by(c.c.position)).all())

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
                return distributions.split_classes(conn, self._task(task).task_id)
            if of in distributions.WHOLE:
                return distributions.WHOLE[of](conn)
        known = [*distributions.BY_VIEW, *distributions.WHOLE, "splits"]
        raise StoreError(f"no distribution of {of!r}; there are {', '.join(map(repr, known))}")

    @retried
    def stats(self) -> dict:
        """Counts of current labels per dataset, labeler and class (``geolabel stats``)."""
        with self._read() as conn:
            return frames.stats(conn)

    # -- internals -------------------------------------------------------------------------
    def _task(self, title: str, refresh: bool = False) -> TaskInfo:
        info = None if refresh else self._tasks.get(title)
        if info is None:
            with self._read() as conn:
                row = conn.execute(sa.select(s.tasks.c.task_id, s.tasks.c.type,
                                             s.tasks.c.labels_per_image, s.tasks.c.gold_share,
                                             s.tasks.c.min_agreement)
                                   .where(s.tasks.c.title == title)).first()
                if row is None:
                    raise StoreError(f"no task named {title!r}; create it with store.add_task")
                classes = conn.execute(
                    sa.select(s.label_classes.c.name).where(s.label_classes.c.task_id == row.task_id)
                    .order_by(s.label_classes.c.position)).scalars().all()
            info = TaskInfo(row.task_id, title, row.type, tuple(classes), row.labels_per_image,
                            GOLD_SHARE if row.gold_share is None else row.gold_share,
                            row.min_agreement)
            self._tasks[title] = info
        return info

    def _task_by_id(self, task_id: int) -> TaskInfo:
        with self._read() as conn:
            title = conn.execute(sa.select(s.tasks.c.title)
                                 .where(s.tasks.c.task_id == task_id)).scalar_one()
        return self._task(title)

    def _check_classes(self, info: TaskInfo, values: Iterable[str]) -> None:
        unknown = [v for v in values if v not in info.classes]
        if unknown and set(unknown) - set(self._task(info.title, refresh=True).classes):
            raise StoreError(f"task {info.title!r} has no class {unknown[0]!r}; its classes: "
                             f"{', '.join(self._tasks[info.title].classes)}")

    def _dataset_id(self, conn, name: str, create: dict | None = None) -> int:
        d = s.datasets
        dataset_id = conn.execute(sa.select(d.c.dataset_id).where(d.c.name == name)).scalar()
        if dataset_id is None:
            if create is None:
                raise StoreError(f"no dataset named {name!r}")
            dataset_id = conn.execute(sa.insert(d).values(
                name=name, created_at=time.time(), **{"synthetic": False, **create})
            ).inserted_primary_key[0]
        return dataset_id

    def _ensure_labeler(self, conn, labeler_id: str, **details) -> None:
        if labeler_id in self._labelers and not any(details.values()):
            return
        if not isinstance(labeler_id, str) or not labeler_id:
            raise StoreError("a labeler is a non-empty name")
        known = conn.execute(sa.select(s.labelers.c.labeler_id)
                             .where(s.labelers.c.labeler_id == labeler_id)).scalar()
        values = {k: v for k, v in details.items() if v is not None}
        if known is None:
            conn.execute(sa.insert(s.labelers).values(labeler_id=labeler_id,
                                                      created_at=time.time(), **values))
        elif values:
            conn.execute(sa.update(s.labelers).where(s.labelers.c.labeler_id == labeler_id)
                         .values(**values))
        self._labelers.add(labeler_id)

    def _check_writer(self, labeler: str) -> None:
        """On a labeler's own database role, refuse writing under another name (the
        database would too: row-level security)."""
        if self.role is not None and labeler != self.role:
            raise StoreError(f"this store is opened as the database role {self.role!r}: it "
                             f"writes only as {self.role!r}, not as {labeler!r}")

    def _new_action(self, conn, info: TaskInfo, labeler: str, kind: str, undoes=None) -> int:
        self._check_writer(labeler)
        return conn.execute(sa.insert(s.actions).values(
            task_id=info.task_id, labeler_id=labeler, kind=kind, undoes=undoes,
            created_at=time.time())).inserted_primary_key[0]

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
                self._ensure_labeler(conn, labeler)
                yield conn, self._new_action(conn, info, labeler, "edit")
        except BaseException:
            self._labelers.discard(labeler)  # its row may have been rolled back
            raise

    def _current(self, conn, label_id: str):
        a = s.annotations
        return conn.execute(sa.select(a).where(a.c.label_id == label_id, a.c.is_current)).first()

    def _current_with_prefix(self, conn, prefix: str) -> dict:
        a = s.annotations
        rows = conn.execute(sa.select(a).where(
            a.c.label_id >= prefix, a.c.label_id < prefix + "\uffff", a.c.is_current,
            sa.not_(a.c.deleted))).all()
        return {row.label_id: row for row in rows}

    def _put(self, conn, action: int, label_id: str, image_id: str, info: TaskInfo,
             labeler: str, *, kind: str, value=None, geometry=None, world_geometry=None,
             props=None, deleted: bool = False, author: str | None = None,
             mask: MaskRef | None = None, previous=_UNREAD) -> int:
        """Write a new current row for ``label_id``, superseding the one before (read
        here unless the caller has it), and move the distribution aggregates from the
        old row to the new."""
        a = s.annotations
        if previous is _UNREAD:
            previous = conn.execute(sa.select(a.c.annotation_id, a.c.kind, a.c.value,
                                              a.c.deleted, a.c.props).where(
                a.c.label_id == label_id, a.c.is_current)).first()
        before = aggregates.NOTHING
        if previous is not None:
            conn.execute(sa.update(a).where(a.c.annotation_id == previous.annotation_id)
                         .values(is_current=False))
            dense = previous.kind in ("mask", "doodles")
            before = _contribution(previous.kind, previous.value, previous.deleted,
                                   previous.props,
                                   MaskRef.load(conn, previous.annotation_id) if dense else None)
        annotation_id = conn.execute(sa.insert(a).values(
            label_id=label_id, action_id=action, image_id=image_id, task_id=info.task_id,
            labeler_id=labeler, author_id=author or labeler, kind=kind, value=value,
            geometry=geometry, world_geometry=world_geometry, props=props,
            created_at=time.time(), supersedes=getattr(previous, "annotation_id", None),
            deleted=deleted, is_current=True,
        )).inserted_primary_key[0]
        if mask is not None:
            mask.attach(conn, annotation_id)
        aggregates.on_label_change(conn, info.task_id, image_id, labeler, before,
                                   _contribution(kind, value, deleted, props, mask))
        self._changes.record(info.title, image_id)
        return annotation_id

    def _status_of(self, conn, image_id: str, info: TaskInfo, labeler: str) -> str:
        row = self._current(conn, label_key("status", info, image_id, labeler))
        return row.value if row is not None and not row.deleted else "unlabeled"

    def _set_status(self, conn, action: int, image_id: str, info: TaskInfo, labeler: str,
                    status: str, comment: str | None = None, author: str | None = None) -> None:
        label_id = label_key("status", info, image_id, labeler)
        current = self._current(conn, label_id)
        unchanged = current is not None and not current.deleted and current.value == status
        if unchanged and comment is None:
            return
        if current is None and status == "unlabeled":
            return
        self._put(conn, action, label_id, image_id, info, labeler, kind="status", value=status,
                  props={"comment": comment} if comment else None, author=author,
                  previous=current)
        if status not in OPEN_STATUSES:  # done with it: the lease goes back
            le = s.leases
            conn.execute(sa.delete(le).where(le.c.task_id == info.task_id,
                                             le.c.image_id == image_id, le.c.labeler_id == labeler))


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


def _outcome(current, new, mode: str, content) -> str:
    """How an import treats one label, given the current row (or None)."""
    if current is None or current.deleted:
        return "added" if new is not None else "unchanged"
    if content(current) == new:
        return "unchanged"
    return "kept" if mode == "keep" else "replaced"


def _check_mask_shape(conn: sa.Connection, image_id: str, shape: tuple) -> None:
    """A mask covers its image pixel for pixel (when the image's size is known)."""
    size = conn.execute(sa.select(s.images.c.height, s.images.c.width, s.images.c.name)
                        .where(s.images.c.image_id == image_id)).first()
    if size.height is not None and size.width is not None and \
            tuple(shape) != (size.height, size.width):
        raise StoreError(f"a mask of {shape[0]} x {shape[1]} pixels does not fit image "
                         f"{size.name!r}, which is {size.height} x {size.width} (rows x "
                         "columns); nothing was stored")


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
    conn.execute(sa.update(s.store_info).where(s.store_info.c.key == "schema_version")
                 .values(value=str(s.SCHEMA_VERSION)))


class UnreadableImagesWarning(UserWarning):
    """Some files given to add_images could not be used, or have no place on the map;
    the message lists them."""


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


def _contribution(kind, value, deleted, props, mask: MaskRef | None):
    if mask is None:
        return aggregates.contribution(kind, value, deleted, props)
    return aggregates.contribution(kind, value, deleted, props, mask.counts, mask.size)


def _place(conn, image_id: str) -> sa.Row:
    """Where an image lies on the Earth, as its shapes need it."""
    i = s.images.c
    place = conn.execute(sa.select(i.image_id, i.crs, i.transform,
                                   i.footprint.is_not(None).label("on_earth"))
                         .where(i.image_id == image_id)).first()
    if place is None:
        raise StoreError(f"no image with id {image_id!r} in this store")
    return place


def _placed(geometry: BaseGeometry, place: sa.Row) -> bytes | None:
    """Check a shape's coordinates are numbers; its world geometry (WKB) when on the Earth.

    A shape may lie partly or wholly past the image's edge (imports keep what the file
    says); a NaN or infinite coordinate is no place at all.
    """
    if not np.isfinite(shapely.get_coordinates(geometry)).all():
        raise StoreError(f"a shape on image {place.image_id!r} has a coordinate that is "
                         f"not a finite number: {shapely.to_wkt(geometry, trim=True)[:120]}")
    if place.crs and place.transform and place.on_earth:
        return shapely.to_wkb(pixel_to_lonlat(geometry, place.crs, place.transform))
    return None


def _as_geometry(geometry) -> BaseGeometry:
    if isinstance(geometry, BaseGeometry):
        return geometry
    if isinstance(geometry, dict) or hasattr(geometry, "__geo_interface__"):
        return geometry_from_dict(getattr(geometry, "__geo_interface__", geometry))
    if geometry is None:
        raise StoreError("a shape has no geometry (None), as a box of NaN coordinates has none")
    raise StoreError(f"a geometry is a shapely geometry or GeoJSON dict, got {type(geometry)}")


def _follow_moved_files(conn, rows: list[dict], known: dict[str, str]) -> None:
    """An image found again at a new path, its old one gone (the files moved, or the
    store came from another machine), is read from where it is now."""
    for row in rows:
        old = known.get(row["image_id"])
        if old is None or old == row["uri"] or row.get("file_missing") or is_remote(old) \
                or os.path.exists(old):
            continue
        conn.execute(sa.update(s.images).where(s.images.c.image_id == row["image_id"])
                     .values(uri=row["uri"], file_missing=False))
        known[row["image_id"]] = row["uri"]


def _check_shape(kind: str, geometry: BaseGeometry) -> None:
    if kind not in s.SHAPE_KINDS:
        raise StoreError(f"a shape's kind is one of {', '.join(s.SHAPE_KINDS)}, not {kind!r}")
    if kind == "rotated_box":
        box_of(geometry)  # four corners of a rectangle, or a clear error


def _kind_of(geometry: BaseGeometry) -> str:
    return {"Point": "point", "MultiPoint": "point", "LineString": "line",
            "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"
            }.get(geometry.geom_type, geometry.geom_type.lower())


def _default_color(position: int) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return to_hex(colormaps["tab20"](position % 20))


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
