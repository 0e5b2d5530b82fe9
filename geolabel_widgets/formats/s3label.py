"""S3Label: its database (a PostgreSQL URL, or a SQLite file with its tables), and its
way of adding images (a recursive scan recording absolute paths and SHA-1 hashes).

Datasets have no name in S3Label, so ours goes in ``dataset_description``. A label
is one (image, task, user) with status flags; its ``label_history`` rows each hold
every shape (``label_serialised``), and the latest is current. On import each shape
of each history row is written in turn, so our history keeps the earlier ones.
A shape comes in two forms (FORMATS_REAL.md 3): the old ``{"label": class,
"polygon": {"regions": ...}}`` and the front end's ``{"label": geometry,
"label_class": class}`` (rectangles from the first click, negative sizes when dragged
up or left; points and circles with a radius); we write the front end's. S3Label has
no "skipped": we write it as ``admin_comment`` "geolabel:skipped".
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import shapely
import sqlalchemy as sa
from shapely.affinity import translate
from shapely.geometry import Point, Polygon, box
from tqdm.auto import tqdm

from ..imagery.files import IMAGE_SUFFIXES
from ..store import LabelStore
from ..store.backend import is_url
from ..store.ingest import path_of
from .atomic import whole_or_nothing
from . import s3label_schema as t3
from .records import current_labels
from .registry import Format
from .safety import FormatError

TABLES = [t.name for t in t3.meta.sorted_tables]
NEEDED = ("datasets", "label_tasks", "input_data", "users", "labels", "label_history")

TYPES_IN = {"semantic_segmentation": "semantic_segmentation",
            "instance_segmentation": "instance_segmentation", "bounding_boxes": "detection"}
TYPES_OUT = {"semantic_segmentation": "semantic_segmentation",
             "instance_segmentation": "instance_segmentation", "detection": "bounding_boxes"}
SKIPPED = "geolabel:skipped"


def add_images_s3label(store: LabelStore, folder: str | os.PathLike, *, dataset: str,
                       site: str | None = None, sensor: str | None = None,
                       progress: bool = True) -> list[str]:
    """Add every image below ``folder`` as S3Label does: a recursive scan, absolute
    paths, nothing copied, each file's SHA-1 kept (in the image's ``props``)."""
    folder = Path(folder).absolute()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    frame = pd.DataFrame({"uri": [str(p) for p in paths],
                          "props": [{"sha1": _sha1(p)} for p in tqdm(
                              paths, desc="Hashing (SHA-1)", disable=not progress)]})
    with store.transaction():
        store.add_dataset(dataset, site=site, sensor=sensor, source="s3label")
        return store.add_images(frame, dataset=dataset, progress=False) if len(frame) else []


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def read_s3label(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
                 root: str | os.PathLike | None = None, offset: float = 0.0,
                 progress: bool = True) -> list[str]:
    """Import an S3Label database (PostgreSQL URL or SQLite file), or, given a folder,
    add its images the S3Label way into ``dataset``. A relative ``data_path`` is
    taken against ``root`` (default: a SQLite file's folder). ``offset``: pixels to
    take off every coordinate (S3Label's mask exporter takes off a fixed 160)."""
    if not is_url(source) and Path(source).is_dir():
        return add_images_s3label(store, source, dataset=dataset or Path(source).name,
                                  progress=progress)
    engine = _engine(source, must_exist=True)
    if root is None and not is_url(source):
        root = Path(source).absolute().parent
    try:
        with engine.connect() as conn:
            found = sa.MetaData()
            found.reflect(conn, only=lambda name, _: name in TABLES)
            _check_schema(found, source)
            _json_as_text(found)
            tables = {name: pd.read_sql(sa.select(found.tables[name]), conn)
                      for name in TABLES if name in found.tables}
    except sa.exc.SQLAlchemyError as err:
        raise FormatError(f"{source}: not an S3Label database ({err.orig or err})") from None
    finally:
        engine.dispose()
    with store.transaction():
        return _import(store, tables, source, root, offset, progress)


def _check_schema(found: sa.MetaData, source) -> None:
    missing = [name for name in NEEDED if name not in found.tables]
    if missing:
        raise FormatError(f"{source}: not an S3Label database (no table {', '.join(missing)})")
    columns = set(found.tables["input_data"].columns.keys())
    if "data_path" not in columns and "image_path" in columns:
        raise FormatError(f"{source}: an S3Label database of the schema before 2018-04-12 "
                          "(input_data.image_path, no sha1_hash; label_serialised not yet "
                          "JSON): export it with that S3Label version's tools, or migrate it")


def _json_as_text(found: sa.MetaData) -> None:
    """Read JSON columns as they are, so a malformed one is named by the row it is in
    rather than failing the whole read (a driver that decodes JSONB still does)."""
    for table in found.tables.values():
        for column in table.columns:
            if isinstance(column.type, sa.JSON):
                column.type = sa.Text()


def _engine(target, must_exist: bool) -> sa.Engine:
    if is_url(target):
        return sa.create_engine(str(target))
    path = Path(target)
    if must_exist and not path.is_file():
        raise FileNotFoundError(f"no S3Label database at {path}")
    return sa.create_engine(f"sqlite:///{path.absolute()}")


def _import(store: LabelStore, t: dict, source, root, offset: float, progress: bool
            ) -> list[str]:
    names = {}
    for row in t["datasets"].itertuples():
        site, sensor = _text(row.site), _text(row.sensor)
        name = _text(row.dataset_description) or f"{site or ''} {sensor or ''}".strip() \
            or f"dataset {row.dataset_id}"
        names[row.dataset_id] = store.add_dataset(name, site=site, sensor=sensor,
                                                  source="s3label")
    groups = {}
    lists = t.get("dataset_group_lists", pd.DataFrame(columns=["dataset_group_id",
                                                               "dataset_id"]))
    for row in t.get("dataset_groups", pd.DataFrame()).itertuples():
        members = lists[lists["dataset_group_id"] == row.dataset_group_id]
        groups[row.dataset_group_id] = store.add_group(
            str(row.name), [_ref(names, d, "dataset", source) for d in members["dataset_id"]],
            description=_text(row.description))
    tasks = {}
    for row in t["label_tasks"].itertuples():
        classes, colors = _classes(row.label_classes, source, row.label_task_id)
        if not isinstance(row.type, str) or row.type not in TYPES_IN:
            raise FormatError(f"{source}: label task {row.label_task_id} has type {row.type!r}")
        tasks[row.label_task_id] = store.add_task(
            str(row.title), type=TYPES_IN[row.type], classes=classes, colors=colors,
            description=_text(row.description), group=groups.get(row.dataset_group_id))
    people = {}
    for row in t["users"].itertuples():
        people[row.user_id] = store.add_labeler(
            _text(row.email) or f"user{row.user_id}",
            display_name=" ".join(p for p in (_text(row.first_name), _text(row.last_name))
                                  if p) or None,
            email=_text(row.email))
    for row in t.get("users_label_tasks", pd.DataFrame()).itertuples():
        store.assign(_ref(tasks, row.label_task_id, "label task", source),
                     _ref(people, row.user_id, "user", source),
                     receive_new=bool(row.receive_new_unlabeled_data))
    images = {}
    for dataset_id, rows in t["input_data"].groupby("dataset_id"):
        frame = pd.DataFrame({"uri": [_path(p, root) for p in rows["data_path"]],
                              "props": [{"sha1": h} for h in rows["sha1_hash"]]})
        store.add_images(frame, dataset=_ref(names, dataset_id, "dataset", source),
                         progress=False)
        if store.last_ingest.failures:
            raise FormatError(store.last_ingest.summary())
        images.update(zip(rows["input_data_id"], store.last_ingest.row_ids))
    history = t["label_history"].sort_values(["timestamp_edit", "label_history_id"])
    for row in tqdm(t["labels"].itertuples(), total=len(t["labels"]), desc="Importing labels",
                    disable=not progress):
        image = _ref(images, row.input_data_id, "input data", source)
        task = _ref(tasks, row.label_task_id, "label task", source)
        labeler = _ref(people, row.user_id, "user", source)
        shown = set()
        for k, version in enumerate(history[history["label_id"] == row.label_id].itertuples()):
            shapes = _shapes(version.label_serialised, source, row.label_id, offset)
            now = set()
            for j, (kind, cls, geometry, props) in enumerate(shapes):
                label_id = f"s3label/{row.label_id}/{j}"
                store.annotate(image, geometry, cls, task=task, labeler=labeler, kind=kind,
                               props=props, label_id=label_id)
                now.add(label_id)
            for gone in shown - now:
                store.delete_label(gone, labeler=labeler)
            shown = now
        status = _status(row)
        if status is not None:
            store.set_status(image, status, task=task, labeler=labeler,
                             comment=_text(row.user_comment))
    return list(dict.fromkeys(images.values()))


def _ref(known: dict, key, what: str, source):
    """The row ``key`` names, or a clear error: a database whose rows point nowhere."""
    try:
        return known[key]
    except (KeyError, TypeError):
        raise FormatError(f"{source}: a row refers to {what} {key!r}, which is not there") \
            from None


def _classes(text, source, task_id) -> tuple[list[str], dict]:
    try:
        items = json.loads(text or "[]")
        classes = [item["label_class"] for item in items]
        colors = {item["label_class"]: "#{:02x}{:02x}{:02x}".format(*json.loads(item["color"]))
                  for item in items if item.get("color")}
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise FormatError(f"{source}: label task {task_id} has malformed label_classes "
                          f"({err})") from None
    return classes, colors


def _path(data_path, root) -> str:
    path = Path(str(data_path))
    return str(path if path.is_absolute() or root is None else Path(root) / path)


def _shapes(value, source, label_id, offset: float) -> list:
    """A history row's shapes; JSONB arrives parsed, a text column as JSON."""
    try:
        items = json.loads(value or "[]") if isinstance(value, (str, bytes)) else value
        if not isinstance(items, list):
            raise TypeError("not a list")
        shapes = [_shape(item) for item in items]
    except (ValueError, TypeError, KeyError, IndexError, shapely.errors.GEOSException) as err:
        raise FormatError(f"{source}: label {label_id} has a malformed label_serialised "
                          f"({err})") from None
    return [(kind, cls, translate(g, -offset, -offset) if offset else g, props)
            for kind, cls, g, props in shapes]


def _shape(item: dict):
    """One S3Label shape, in either form: regions are rings combined even-odd (holes,
    parts); a rectangle is its first click and a signed size."""
    kind = item["type"]
    if "label_class" in item:  # the front end's form: the geometry sits in "label"
        cls, geometry = item["label_class"], item["label"]
    else:
        cls, geometry = item["label"], item["polygon"]
    if not isinstance(cls, str):
        raise TypeError(f"class {cls!r} is not a name")
    if "regions" not in geometry:
        x, y = float(geometry["x"]), float(geometry["y"])
        if kind == "rectangle":
            x2, y2 = x + float(geometry["boxWidth"]), y + float(geometry["boxHeight"])
            return "box", cls, box(min(x, x2), min(y, y2), max(x, x2), max(y, y2)), None
        if kind == "point":
            return "point", cls, Point(x, y), None
        if kind == "circle":
            radius = float(geometry["radius"])
            return "polygon", cls, Point(x, y).buffer(radius), {
                "s3label_type": "circle", "centre": [x, y], "radius": radius}
        raise ValueError(f"a {kind!r} shape without regions")
    regions = geometry["regions"]
    if kind == "point":
        return "point", cls, Point(regions[0][0]), None
    if kind == "rectangle":
        xs = [x for ring in regions for x, _ in ring]
        ys = [y for ring in regions for _, y in ring]
        return "box", cls, box(min(xs), min(ys), max(xs), max(ys)), None
    if kind not in ("polygon", "freehand", "circle"):
        raise ValueError(f"unknown shape type {kind!r}")
    shape = Polygon()
    for ring in regions:
        shape = shape.symmetric_difference(Polygon(ring))
    props = None if kind == "polygon" else {"s3label_type": kind}
    return "polygon", cls, shape, props


def _status(row) -> str | None:
    if _text(row.admin_comment) == SKIPPED:
        return "skipped"
    for flag, status in (("admin_complete", "reviewed"), ("needs_improvement",
                                                          "needs_improvement"),
                         ("user_complete", "labeled"), ("in_progress", "in_progress")):
        if bool(getattr(row, flag)):
            return status
    return None


@whole_or_nothing
def write_s3label(store: LabelStore, dest: str | os.PathLike) -> None:
    """Write the whole store as an S3Label database (an empty SQLite file or URL), in
    S3Label's own tables."""
    engine = _engine(dest, must_exist=False)
    try:
        with engine.begin() as conn:
            if sa.inspect(conn).has_table("labels"):
                raise FormatError(f"{dest} already holds S3Label tables; write to a new one")
            t3.meta.create_all(conn)
            _export(store, conn)
    finally:
        engine.dispose()


def _export(store: LabelStore, conn) -> None:
    dataset_ids = {name: k for k, name in enumerate(store.datasets.index, start=1)}
    for name, row in store.datasets.iterrows():
        conn.execute(sa.insert(t3.datasets).values(
            dataset_id=dataset_ids[name], site=_text(row["site"]) or "",
            sensor=_text(row["sensor"]) or "", dataset_description=name))
    group_ids = {}
    for k, (name, members) in enumerate(store.groups.items(), start=1):
        group_ids[name] = k
        conn.execute(sa.insert(t3.dataset_groups).values(dataset_group_id=k, name=name))
        for member in members:
            conn.execute(sa.insert(t3.dataset_group_lists).values(
                dataset_group_id=k, dataset_id=dataset_ids[member]))
    task_ids = {}
    for k, (title, row) in enumerate(store.tasks.iterrows(), start=1):
        if row["type"] not in TYPES_OUT:
            continue  # tags are not S3Label tasks
        task_ids[title] = k
        colors = store.class_colors(title)
        classes = [{"label_class": c, "color": json.dumps(_rgb(colors.get(c, "#808080")))}
                   for c in store.classes(title)]
        conn.execute(sa.insert(t3.label_tasks).values(
            label_task_id=k, dataset_group_id=group_ids.get(row["group"]), title=title,
            description=_text(row["description"]) or "", type=TYPES_OUT[row["type"]],
            default_tool="rectangle" if row["type"] == "detection" else "freehand",
            label_classes=json.dumps(classes)))
    user_ids = {labeler: k for k, labeler in enumerate(store.labelers.index, start=1)}
    for labeler, row in store.labelers.iterrows():
        first, _, last = (_text(row["display_name"]) or labeler).partition(" ")
        conn.execute(sa.insert(t3.users).values(user_id=user_ids[labeler], first_name=first,
                                                last_name=last, email=labeler))
    for row in store.assignments.itertuples():
        if row.task in task_ids:
            conn.execute(sa.insert(t3.users_label_tasks).values(
                user_id=user_ids[row.labeler], label_task_id=task_ids[row.task],
                receive_new_unlabeled_data=bool(row.receive_new)))
    images = store.images
    image_ids = {image_id: k for k, image_id in enumerate(images.index, start=1)}
    for image_id, image in images.iterrows():
        path = path_of(image["uri"])
        sha1 = (image["props"] or {}).get("sha1") or \
            (_sha1(path) if path is not None and path.is_file() else "")
        conn.execute(sa.insert(t3.input_data).values(
            input_data_id=image_ids[image_id], dataset_id=dataset_ids[image["dataset"]],
            data_path=str(path or image["uri"]), sha1_hash=sha1,
            timestamp_upload=image["added_at"].floor("us").to_pydatetime()))
    shapes = current_labels(store, kinds=("box", "polygon", "point", "line", "tag"))
    left_out = ~shapes["task"].isin(task_ids) | (shapes["kind"] == "line")
    if left_out.any():
        warnings.warn(f"{int(left_out.sum())} label(s) (tags, lines) have no S3Label form and "
                      "were left out", stacklevel=3)
    shapes = shapes[~left_out]
    statuses = store.statuses()
    statuses = statuses[statuses["task"].isin(task_ids)]
    keys = pd.concat([shapes[["image_id", "task", "labeler"]],
                      statuses[["image_id", "task", "labeler"]]]).drop_duplicates()
    status_of = statuses.set_index(["image_id", "task", "labeler"])
    now = datetime.now(timezone.utc)
    for k, (image_id, task, labeler) in enumerate(keys.itertuples(index=False), start=1):
        mine = shapes[(shapes["image_id"] == image_id) & (shapes["task"] == task)
                      & (shapes["labeler"] == labeler)]
        status = status_of["status"].get((image_id, task, labeler), "unlabeled")
        comment = _text(status_of["comment"].get((image_id, task, labeler)))
        conn.execute(sa.insert(t3.labels).values(
            label_id=k, input_data_id=image_ids[image_id], label_task_id=task_ids[task],
            user_id=user_ids[labeler], in_progress=status == "in_progress",
            user_complete=status in ("labeled", "reviewed", "needs_improvement"),
            needs_improvement=status == "needs_improvement",
            admin_complete=status == "reviewed", user_comment=comment or None,
            admin_comment=SKIPPED if status == "skipped" else None))
        conn.execute(sa.insert(t3.label_history).values(
            label_id=k, timestamp_edit=now,
            label_serialised=[_serialise(r) for r in mine.itertuples()]))


def _text(value) -> str | None:
    """A text cell from a frame: None where pandas says NaN or NaT, or it is empty."""
    return value if isinstance(value, str) and value else None


def _rgb(color: str) -> list[int]:
    color = color.lstrip("#")
    return [int(color[i:i + 2], 16) for i in (0, 2, 4)]


def _serialise(row) -> dict:
    """A shape in the front end's form (what S3Label writes today)."""
    geometry, props = row.geometry, row.props or {}
    if row.kind == "point":
        kind, label = "point", {"x": geometry.x, "y": geometry.y, "radius": 4}
    elif row.kind == "box":
        minx, miny, maxx, maxy = geometry.bounds
        kind, label = "rectangle", {"x": minx, "y": miny, "boxWidth": maxx - minx,
                                    "boxHeight": maxy - miny}
    elif props.get("s3label_type") == "circle" and "radius" in props:
        (x, y), kind = props["centre"], "circle"
        label = {"x": x, "y": y, "radius": props["radius"]}
    else:
        kind = props.get("s3label_type", "polygon")
        parts = list(getattr(geometry, "geoms", [geometry]))
        label = {"regions": [[list(xy) for xy in ring.coords[:-1]]
                             for part in parts for ring in (part.exterior, *part.interiors)],
                 "inverted": False}
    return {"type": kind, "label": label, "label_class": row.value, "selected": False}


FORMAT = Format("s3label", read=read_s3label, write=write_s3label,
                import_options=frozenset({"root"}), exports="the store")
