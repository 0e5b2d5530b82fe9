"""DataGym export JSON: label classes, then one entry per labeled media (image) with its
labeler, status, global classifications and geometries, in image pixels.

Read: the exporter's real file (a top-level array, ``label_classes`` first, every value
an array, children nested in it, integer coordinates, null for an invalid one: that
geometry is left out and counted), the object shape ``{label_classes, tasks}``, and
DataGym's internal model (a project folder's ``LabelTasks.json``, or one task).
Written: the real array, coordinates truncated to integers as DataGym does (our exact
ones ride along in ``geolabel_pixels``), negative ones null as DataGym writes them, or
clamped to 0 with ``for_import`` so that DataGym's import schema takes the file.

Geometries become shapes of the task (rectangle -> box, image_segmentation -> polygon
with holes); a geometry's own classifications go in its ``props``, and a nested
geometry is a shape whose ``props["parent"]`` is its parent's label id. Global
classifications become tags ``name=value`` (``parent/name=value`` when nested) of a
multilabel task "<task> classifications".
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import pandas as pd
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from ..store import LabelStore
from .atomic import whole_or_nothing
from .datagym_internal import export_task, is_internal_task, label_classes
from .records import Parsed, current_labels, write_records
from .registry import Format
from .safety import FormatError, is_number, read_json

GEOMETRY_KINDS = {"point": "point", "line": "line", "rectangle": "box", "polygon": "polygon",
                  "image_segmentation": "polygon"}
STATUS_IN = {"backlog": "unlabeled", "waiting": "unlabeled", "waiting_changed": "unlabeled",
             "in_progress": "in_progress", "completed": "labeled", "skipped": "skipped",
             "reviewed": "reviewed", "reviewed_skip": "skipped"}
STATUS_OUT = {"unlabeled": "waiting", "in_progress": "in_progress", "labeled": "completed",
              "skipped": "skipped", "reviewed": "reviewed", "needs_improvement": "in_progress"}


def classifications_task(task: str) -> str:
    return f"{task} classifications"


def read_datagym(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
                 task: str | None = None, images_dir=None, progress: bool = True) -> list[str]:
    """Import an export, a project folder (its ``LabelTasks.json``) or an internal task;
    media files are looked for in ``images_dir`` (default: the JSON's folder) and kept
    as catalogue rows (their URL, where the model has one) where absent."""
    source = Path(source)
    classes, media, path = _load(source)
    name = source.name if source.is_dir() else source.stem
    parsed = parse_datagym({"label_classes": classes, "tasks": media}, path,
                          task=task or name, dataset=dataset or name,
                          images_dir=Path(images_dir or path.parent))
    return write_records(store, parsed, progress=progress)


def _load(source: Path) -> tuple[list, list, Path]:
    """(label classes, export task objects, the JSON file) of any shape DataGym writes."""
    path = source / "LabelTasks.json" if source.is_dir() else source
    if not path.is_file():
        raise FileNotFoundError(f"no DataGym export or project at {source}")
    document = read_json(path)
    if isinstance(document, dict) and is_internal_task(document):
        document = [document]
    if isinstance(document, list) and document and all(map(is_internal_task, document)):
        return label_classes(document), [export_task(t, f"{path} task {k}")
                                         for k, t in enumerate(document)], path
    if isinstance(document, list):  # the exporter's array; [] when nothing was exportable
        head = document[0] if document else {"label_classes": []}
        if not isinstance(head, dict) or "label_classes" not in head:
            raise FormatError(f"{path}: a JSON array whose first element is not "
                              "{\"label_classes\": [...]}: not a DataGym export")
        return head["label_classes"], document[1:], path
    if isinstance(document, dict) and isinstance(document.get("tasks"), list):
        return document.get("label_classes"), document["tasks"], path
    raise FormatError(f"{path}: not a DataGym export (an array, label classes first), "
                      "project (LabelTasks.json) or task")


def parse_datagym(document, source: Path, *, task: str, dataset: str, images_dir: Path
                 ) -> Parsed:
    geometry_types, classification_classes = _classes(document.get("label_classes"), source)
    images, labels, statuses, tags = {}, [], [], []
    invalid = []
    for k, media in enumerate(document["tasks"]):
        where = f"task {k}"
        if not isinstance(media, dict) or not isinstance(media.get("external_media_ID"), str):
            raise FormatError(f"{source}: {where} has no external_media_ID")
        key = str(media.get("internal_media_ID") or media["external_media_ID"])
        # URL-encoded in real exports; only its last part names a file beside the export
        name = PurePosixPath(unquote(media["external_media_ID"]).replace("\\", "/")).name
        path = images_dir / name
        url = media.get("media_url")
        images[key] = {"uri": str(path) if path.is_file() else url or f"datagym://{key}/{name}",
                       "name": name, "dataset": dataset}
        labeler = str(media.get("labeler") or "datagym")
        status = media.get("status")
        if status is not None:
            if not isinstance(status, str) or status not in STATUS_IN:
                raise FormatError(f"{source}: {where} has status {status!r}; DataGym's are "
                                  f"{', '.join(STATUS_IN)}")
            statuses.append((key, task, labeler, STATUS_IN[status]))
        for value in _flatten(media.get("global_classifications") or {}, "", source, where):
            tags.append((key, classifications_task(task), labeler, "tag", value, None, None,
                         None))
        exact = media.get("geolabel_pixels") if isinstance(media.get("geolabel_pixels"),
                                                           dict) else {}
        labels += _geometries(media.get("labels") or {}, key, task, labeler, geometry_types,
                              source, where, parent=None, prefix=f"datagym/{key}/{labeler}",
                              exact=exact, invalid=invalid)
    if invalid:
        warnings.warn(f"{source}: {len(invalid)} geometries with a null coordinate (DataGym "
                      f"writes null for an invalid one) left out, the first {invalid[0]}",
                      stacklevel=3)
    frame = pd.DataFrame(labels + tags, columns=["image", "task", "labeler", "kind", "value",
                                                 "geometry", "props", "label_id"])
    tasks = {task: {"type": "instance_segmentation", "classes": list(geometry_types)}}
    values = list(dict.fromkeys(frame.loc[frame["kind"] == "tag", "value"]))
    if values or classification_classes:
        tasks[classifications_task(task)] = {"type": "multilabel", "classes": values}
    return Parsed(images=pd.DataFrame.from_dict(images, orient="index").reindex(
                      columns=["uri", "name", "dataset"]), tasks=tasks,
                  labels=frame, statuses=pd.DataFrame(statuses, columns=["image", "task",
                                                                         "labeler", "status"]),
                  datasets={dataset: {"source": "datagym"}})


def _classes(label_classes, source: Path) -> tuple[dict, list]:
    if not isinstance(label_classes, list):
        raise FormatError(f"{source}: 'label_classes' is not a list")
    geometry_types, classifications = {}, []
    for k, item in enumerate(label_classes):
        if not isinstance(item, dict) or not isinstance(item.get("class_name"), str):
            raise FormatError(f"{source}: label class {k} has no class_name")
        kind = item.get("geometry_type")
        if kind is None and item.get("classification_type") == "image_segmentation":
            kind = "image_segmentation"  # the exporter files it with the classifications
        if kind is not None:
            if not isinstance(kind, str) or kind not in GEOMETRY_KINDS:
                raise FormatError(f"{source}: label class {k} has geometry_type {kind!r}")
            geometry_types[item["class_name"]] = kind
        else:
            classifications.append(item["class_name"])
    return geometry_types, classifications


def _flatten(classifications, path: str, source: Path, where: str) -> list[str]:
    """``{"weather": ["sun"], "car_type": ["sedan", {"color": ["red"]}], "note": [null]}``
    (the exporter's arrays; plain text and nested objects also read) ->
    ``["weather=sun", "car_type=sedan", "car_type/color=red"]``."""
    if not isinstance(classifications, dict):
        raise FormatError(f"{source}: {where}: classifications are not an object")
    out = []
    for name, value in classifications.items():
        key = f"{path}{name}"
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                out.append(f"{key}={item}")
            elif isinstance(item, dict):
                out += _flatten(item, f"{key}/", source, where)
            elif item is not None:  # [null]: an empty checklist
                raise FormatError(f"{source}: {where}: classification {key!r} holds "
                                  f"{item!r}, neither text nor nested classifications")
    return out


def _geometries(labels, image, task, labeler, geometry_types, source, where, parent, prefix,
                exact, invalid):
    if not isinstance(labels, dict):
        raise FormatError(f"{source}: {where}: labels are not an object")
    rows = []
    for cls, items in labels.items():
        if cls not in geometry_types:
            raise FormatError(f"{source}: {where}: class {cls!r} is not among the label "
                              "classes with a geometry_type")
        if not isinstance(items, list):
            raise FormatError(f"{source}: {where}: {cls!r} is not a list of geometries")
        kind = geometry_types[cls]
        for j, item in enumerate(items):
            here = f"{where}, {cls!r} geometry {j}"
            if not isinstance(item, dict) or not isinstance(item.get(kind), list):
                raise FormatError(f"{source}: {here} has no {kind!r} list")
            label_id = f"{prefix}/{cls}/{j}"
            try:
                geometry = _shape(kind, item[kind], source, here)
            except _Invalid:
                invalid.append(here)
                continue
            wkt = exact.get(label_id)
            if isinstance(wkt, str):  # ours: the coordinates before DataGym's truncation
                try:
                    geometry = shapely.from_wkt(wkt)
                except shapely.errors.GEOSException:
                    raise FormatError(f"{source}: {here}: geolabel_pixels is not WKT") from None
            props = {"datagym_type": kind}
            if item.get("classifications"):  # kept in the exporter's arrays
                props["classifications"] = _nest(_flatten(item["classifications"], "", source,
                                                           here))
            if parent is not None:
                props["parent"] = parent
            rows.append((image, task, labeler, GEOMETRY_KINDS[kind], cls, geometry, props,
                         label_id))
            nested = item.get("nested_geometries")
            if nested:
                rows += _geometries(nested, image, task, labeler, geometry_types, source,
                                    f"{here} nested", label_id, label_id, exact, invalid)
    return rows


class _Invalid(Exception):
    """A coordinate DataGym wrote as null: that geometry was invalid there."""


def _number(value):
    """A coordinate: a number, or a digit string as DataGym's import takes."""
    if value is None:
        raise _Invalid
    if isinstance(value, str) and value.isdigit():
        return float(value)
    return value


def _xy(point, source, here) -> tuple[float, float]:
    if not isinstance(point, dict):
        raise FormatError(f"{source}: {here}: a point is not an object with x and y")
    x, y = _number(point.get("x")), _number(point.get("y"))
    if not (is_number(x) and is_number(y)):
        raise FormatError(f"{source}: {here}: a coordinate is {x!r}, {y!r} (DataGym writes "
                          "null for an invalid one)")
    return float(x), float(y)


def _shape(kind: str, value: list, source, here):
    if kind == "rectangle":
        if len(value) != 1 or not isinstance(value[0], dict):
            raise FormatError(f"{source}: {here}: a rectangle is one {{x, y, w, h}}")
        x, y = _xy(value[0], source, here)
        w, h = _number(value[0].get("w")), _number(value[0].get("h"))
        if not all(is_number(v) and v >= 0 for v in (w, h)):
            raise FormatError(f"{source}: {here}: rectangle size {w!r} x {h!r}")
        return box(x, y, x + w, y + h)
    if kind == "image_segmentation":
        rings = [[_xy(p, source, here) for p in ring] if isinstance(ring, list) else None
                 for ring in value]
        if not rings or any(r is None or len(r) < 3 for r in rings):
            raise FormatError(f"{source}: {here}: a segmentation ring has fewer than 3 points")
        return Polygon(rings[0], rings[1:])
    points = [_xy(p, source, here) for p in value]
    need = {"point": 1, "line": 2, "polygon": 3}[kind]
    if len(points) < need:
        raise FormatError(f"{source}: {here}: a {kind} needs at least {need} point(s)")
    return Point(points[0]) if kind == "point" else \
        LineString(points) if kind == "line" else Polygon(points)


@whole_or_nothing
def write_datagym(store: LabelStore, dest: str | os.PathLike, *, task: str,
                  for_import: bool = False) -> list:
    """One task (and its "<task> classifications") as DataGym's exporter writes a project:
    an array, the label classes first. ``for_import``: no nulls, so that DataGym's
    import schema takes it. Returns the document."""
    shapes = current_labels(store, task, kinds=("box", "polygon", "point", "line"))
    extra = classifications_task(task)
    tags = current_labels(store, extra, kinds=("tag",)) if extra in store.tasks.index \
        else shapes.iloc[:0]
    geometry_types = _geometry_types(shapes, task)
    kinds = {c: geometry_types.get(c, "polygon") for c in store.classes(task)}
    names = sorted({v.split("=", 1)[0].split("/", 1)[0] for v in tags["value"]})
    order = ["point", "line", "polygon", "image_segmentation", "rectangle"]
    label_classes = [{"class_name": c, "geometry_type": k} if k != "image_segmentation"
                     else {"class_name": c, "classification_type": k}
                     for c, k in sorted(kinds.items(), key=lambda ck: order.index(ck[1]))]
    label_classes += [{"class_name": n, "classification_type": "select"} for n in names]
    statuses = store.statuses(task).set_index(["image_id", "labeler"])["status"]
    media = []
    keys = pd.concat([shapes, tags])[["image_id", "labeler"]].drop_duplicates()
    keys = pd.concat([keys, statuses.index.to_frame(index=False)]).drop_duplicates()
    for image_id, labeler in keys.itertuples(index=False):
        image = store.images.loc[image_id]
        mine = shapes[(shapes["image_id"] == image_id) & (shapes["labeler"] == labeler)]
        mine_tags = tags[(tags["image_id"] == image_id) & (tags["labeler"] == labeler)]
        status = statuses.get((image_id, labeler), "unlabeled")
        labels, exact = _labels(mine, geometry_types, for_import,
                                f"datagym/{image_id}/{labeler}")
        media.append({"internal_media_ID": image_id, "external_media_ID": image["name"],
                      "labeler": labeler, "status": STATUS_OUT[status],
                      "global_classifications": _nest(mine_tags["value"]),
                      "labels": labels, "geolabel_pixels": exact})
    document = [{"label_classes": label_classes}, *media]
    Path(dest).write_text(json.dumps(document, indent=2))
    return document


def _geometry_types(shapes: pd.DataFrame, task: str) -> dict:
    seen: dict[str, set] = {}
    for row in shapes.itertuples():
        seen.setdefault(row.value, set()).add((row.props or {}).get("datagym_type")
                                              or _type_of(row))
    geometry_types = {}
    for cls, types in seen.items():
        if types == {"polygon", "image_segmentation"}:
            types = {"image_segmentation"}  # a polygon is a segmentation without holes
        if len(types) > 1:
            raise FormatError(f"class {cls!r} of {task!r} holds {' and '.join(sorted(types))} "
                              "shapes; a DataGym class has one geometry type")
        geometry_types[cls] = types.pop()
    return geometry_types


def _type_of(row) -> str:
    if row.kind != "polygon":
        return {"box": "rectangle", "point": "point", "line": "line"}[row.kind]
    parts = getattr(row.geometry, "geoms", [row.geometry])
    return "image_segmentation" if any(p.interiors for p in parts) else "polygon"


def _nest(values) -> dict:
    """The inverse of ``_flatten``, in the exporter's arrays: ``{"car_type": ["sedan",
    {"color": ["red"]}]}``; a name without a value of its own starts with null."""
    tree: dict = {}
    for value in values:
        path, item = value.split("=", 1)
        *parents, name = path.split("/")
        level = tree
        for parent in parents:
            level = level.setdefault(parent, {"values": [], "children": {}})["children"]
        level.setdefault(name, {"values": [], "children": {}})["values"].append(item)

    def arrays(level: dict) -> dict:
        out = {}
        for name, node in level.items():
            values = node["values"] or [None]
            if node["children"]:  # DataGym's import takes one object, second in the array
                values = [values[0], arrays(node["children"]), *values[1:]]
            out[name] = values
        return out
    return arrays(tree)


def _labels(shapes: pd.DataFrame, geometry_types: dict, for_import: bool, prefix: str
            ) -> tuple[dict, dict]:
    """Top-level geometries with their nested ones under them, and each one's exact
    pixels by the label id the reader will give it (``prefix/<class>/<index>``, a nested
    one under its parent's)."""
    objects = {}
    for row in shapes.itertuples():
        props = row.props or {}
        kind = geometry_types[row.value]
        item = {kind: _coordinates(kind, row.geometry, for_import)}
        if props.get("classifications"):
            item["classifications"] = props["classifications"]
        objects[row.label_id] = (row.value, item, props.get("parent"), row.geometry)
    exact: dict = {}

    def place(parent, prefix: str) -> dict:
        level: dict = {}
        for label_id, (cls, item, of, geometry) in objects.items():
            if (of if of in objects else None) != parent:
                continue
            here = f"{prefix}/{cls}/{len(level.setdefault(cls, []))}"
            exact[here] = shapely.to_wkt(geometry, rounding_precision=-1)
            nested = place(label_id, here)
            if nested:
                item["nested_geometries"] = nested
            level[cls].append(item)
        return level

    return place(None, prefix), exact


def _coordinates(kind: str, geometry, for_import: bool) -> list:
    """Integers, as DataGym's exporter truncates them; a negative one is null there
    (and 0 for its import, which refuses nulls)."""
    def number(value: float):
        return int(value) if value >= 0 else 0 if for_import else None

    def point(x, y):
        x, y = number(x), number(y)
        return {"x": x, "y": y} if x is not None and y is not None else {"x": None, "y": None}

    if kind == "rectangle":
        minx, miny, maxx, maxy = geometry.bounds
        values = [number(v) for v in (minx, miny)]
        w, h = int(maxx - minx), int(maxy - miny)
        if None in values:
            return [{"x": None, "y": None, "w": None, "h": None}]
        return [{"x": values[0], "y": values[1], "w": w, "h": h}]
    if kind == "image_segmentation":
        return [[point(x, y) for x, y in geometry.exterior.coords[:-1]],
                *[[point(x, y) for x, y in ring.coords[:-1]] for ring in geometry.interiors]]
    if kind == "polygon":
        return [point(x, y) for x, y in geometry.exterior.coords[:-1]]
    return [point(x, y) for x, y in geometry.coords]


FORMAT = Format("datagym", read=read_datagym, write=write_datagym, parse=parse_datagym,
                import_options=frozenset({"images_dir"}), export_options=frozenset({"for_import"}))
