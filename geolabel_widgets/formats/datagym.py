"""DataGym export JSON: label classes, then one entry per labeled media (image) with its
labeler, status, global classifications and geometries, in image pixels.

Geometries become shapes of the task (rectangle -> box, image_segmentation -> polygon
with holes); a geometry's own classifications go in its ``props``, and a nested
geometry is a shape whose ``props["parent"]`` is its parent's label id. Global
classifications become tags ``name=value`` (``parent/name=value`` when nested) of a
multilabel task "<task> classifications".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
from shapely.geometry import LineString, Point, Polygon, box

from ..store import LabelStore
from .records import Parsed, current_labels, write_records
from .safety import FormatError, is_number, read_json

GEOMETRY_KINDS = {"point": "point", "line": "line", "rectangle": "box", "polygon": "polygon",
                  "image_segmentation": "polygon"}
STATUS_IN = {"backlog": "unlabeled", "waiting": "unlabeled", "in_progress": "in_progress",
             "completed": "labeled", "skipped": "skipped", "reviewed": "reviewed"}
STATUS_OUT = {"unlabeled": "waiting", "in_progress": "in_progress", "labeled": "completed",
              "skipped": "skipped", "reviewed": "reviewed", "needs_improvement": "in_progress"}


def classifications_task(task: str) -> str:
    return f"{task} classifications"


def read_datagym(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
                 task: str | None = None, images_dir=None, progress: bool = True) -> list[str]:
    """Import an export; media files are looked for in ``images_dir`` (default: the
    JSON's folder) and kept as catalogue rows where absent."""
    source = Path(source)
    parsed = parse_export(read_json(source), source, task=task or source.stem,
                          dataset=dataset or source.stem,
                          images_dir=Path(images_dir or source.parent))
    return write_records(store, parsed, progress=progress)


def parse_export(document, source: Path, *, task: str, dataset: str, images_dir: Path
                 ) -> Parsed:
    if not isinstance(document, dict) or not isinstance(document.get("tasks"), list):
        raise FormatError(f"{source}: not a DataGym export (an object with 'tasks')")
    geometry_types, classification_classes = _classes(document.get("label_classes"), source)
    images, labels, statuses, tags = {}, [], [], []
    for k, media in enumerate(document["tasks"]):
        where = f"task {k}"
        if not isinstance(media, dict) or not isinstance(media.get("external_media_ID"), str):
            raise FormatError(f"{source}: {where} has no external_media_ID")
        key = str(media.get("internal_media_ID") or media["external_media_ID"])
        name = Path(media["external_media_ID"]).name
        path = images_dir / name
        images[key] = {"uri": str(path) if path.is_file() else f"datagym://{key}/{name}",
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
        labels += _geometries(media.get("labels") or {}, key, task, labeler, geometry_types,
                              source, where, parent=None, prefix=f"datagym/{key}/{labeler}")
    frame = pd.DataFrame(labels + tags, columns=["image", "task", "labeler", "kind", "value",
                                                 "geometry", "props", "label_id"])
    tasks = {task: {"type": "instance_segmentation", "classes": list(geometry_types)}}
    values = list(dict.fromkeys(frame.loc[frame["kind"] == "tag", "value"]))
    if values or classification_classes:
        tasks[classifications_task(task)] = {"type": "multilabel", "classes": values}
    return Parsed(images=pd.DataFrame.from_dict(images, orient="index"), tasks=tasks,
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
        if item.get("geometry_type") is not None:
            if not isinstance(item["geometry_type"], str) or \
                    item["geometry_type"] not in GEOMETRY_KINDS:
                raise FormatError(f"{source}: label class {k} has geometry_type "
                                  f"{item['geometry_type']!r}")
            geometry_types[item["class_name"]] = item["geometry_type"]
        else:
            classifications.append(item["class_name"])
    return geometry_types, classifications


def _flatten(classifications, path: str, source: Path, where: str) -> list[str]:
    """``{"weather": "sun", "objects": ["car"], "car": {"colour": "red"}}`` ->
    ``["weather=sun", "objects=car", "car/colour=red"]``."""
    if not isinstance(classifications, dict):
        raise FormatError(f"{source}: {where}: classifications are not an object")
    out = []
    for name, value in classifications.items():
        key = f"{path}{name}"
        if isinstance(value, str):
            out.append(f"{key}={value}")
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out += [f"{key}={v}" for v in value]
        elif isinstance(value, dict):
            out += _flatten(value, f"{key}/", source, where)
        else:
            raise FormatError(f"{source}: {where}: classification {key!r} is neither text, "
                              "a list of texts nor nested classifications")
    return out


def _geometries(labels, image, task, labeler, geometry_types, source, where, parent, prefix):
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
            props = {"datagym_type": kind}
            if item.get("classifications"):
                _flatten(item["classifications"], "", source, here)  # checked, kept as is
                props["classifications"] = item["classifications"]
            if parent is not None:
                props["parent"] = parent
            rows.append((image, task, labeler, GEOMETRY_KINDS[kind], cls,
                         _shape(kind, item[kind], source, here), props, label_id))
            nested = item.get("nested_geometries")
            if nested:
                rows += _geometries(nested, image, task, labeler, geometry_types, source,
                                    f"{here} nested", label_id, label_id)
    return rows


def _xy(point, source, here) -> tuple[float, float]:
    if not isinstance(point, dict):
        raise FormatError(f"{source}: {here}: a point is not an object with x and y")
    x, y = point.get("x"), point.get("y")
    if not (is_number(x) and is_number(y)):
        raise FormatError(f"{source}: {here}: a coordinate is {x!r}, {y!r} (DataGym writes "
                          "null for an invalid one)")
    return float(x), float(y)


def _shape(kind: str, value: list, source, here):
    if kind == "rectangle":
        if len(value) != 1 or not isinstance(value[0], dict):
            raise FormatError(f"{source}: {here}: a rectangle is one {{x, y, w, h}}")
        x, y = _xy(value[0], source, here)
        w, h = value[0].get("w"), value[0].get("h")
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


def write_datagym(store: LabelStore, dest: str | os.PathLike, *, task: str) -> dict:
    """One task (and its "<task> classifications") as a DataGym export."""
    shapes = current_labels(store, task, kinds=("box", "polygon", "point", "line"))
    extra = classifications_task(task)
    tags = current_labels(store, extra, kinds=("tag",)) if extra in store.tasks.index \
        else shapes.iloc[:0]
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
    label_classes = [{"class_name": c, "geometry_type": geometry_types.get(c, "polygon")}
                     for c in store.classes(task)]
    names = {v.split("=", 1)[0].split("/", 1)[0] for v in tags["value"]}
    label_classes += [{"class_name": n, "classification_type": "select"} for n in sorted(names)]
    statuses = store.statuses(task).set_index(["image_id", "labeler"])["status"]
    media = []
    keys = pd.concat([shapes, tags])[["image_id", "labeler"]].drop_duplicates()
    keys = pd.concat([keys, statuses.index.to_frame(index=False)]).drop_duplicates()
    for image_id, labeler in keys.itertuples(index=False):
        image = store.images.loc[image_id]
        mine = shapes[(shapes["image_id"] == image_id) & (shapes["labeler"] == labeler)]
        mine_tags = tags[(tags["image_id"] == image_id) & (tags["labeler"] == labeler)]
        status = statuses.get((image_id, labeler), "unlabeled")
        media.append({"internal_media_ID": image_id, "external_media_ID": image["name"],
                      "labeler": labeler, "status": STATUS_OUT[status],
                      "global_classifications": _nest(mine_tags["value"]),
                      "labels": _labels(mine, geometry_types)})
    document = {"label_classes": label_classes, "tasks": media}
    Path(dest).write_text(json.dumps(document))
    return document


def _type_of(row) -> str:
    if row.kind != "polygon":
        return {"box": "rectangle", "point": "point", "line": "line"}[row.kind]
    parts = getattr(row.geometry, "geoms", [row.geometry])
    return "image_segmentation" if any(p.interiors for p in parts) else "polygon"


def _nest(values) -> dict:
    """The inverse of ``_flatten``: a name seen twice becomes a list (a checklist)."""
    out: dict = {}
    for value in values:
        path, item = value.split("=", 1)
        *parents, name = path.split("/")
        level = out
        for parent in parents:
            level = level.setdefault(parent, {})
        if name in level:
            level[name] = [*([level[name]] if isinstance(level[name], str) else level[name]),
                           item]
        else:
            level[name] = item
    return out


def _labels(shapes: pd.DataFrame, geometry_types: dict) -> dict:
    """Top-level geometries with their nested ones under them."""
    objects, children = {}, {}
    for row in shapes.itertuples():
        props = row.props or {}
        kind = geometry_types[row.value]
        item = {kind: _coordinates(kind, row.geometry)}
        if props.get("classifications"):
            item["classifications"] = props["classifications"]
        objects[row.label_id] = (row.value, item, props.get("parent"))
    for label_id, (cls, item, parent) in objects.items():
        if parent in objects:
            children.setdefault(parent, []).append((cls, item))
    top: dict = {}
    for label_id, (cls, item, parent) in objects.items():
        if label_id in children:
            nested: dict = {}
            for child_cls, child in children[label_id]:
                nested.setdefault(child_cls, []).append(child)
            item["nested_geometries"] = nested
        if parent not in objects:
            top.setdefault(cls, []).append(item)
    return top


def _coordinates(kind: str, geometry) -> list:
    def points(coords):
        return [{"x": x, "y": y} for x, y in coords]

    if kind == "rectangle":
        minx, miny, maxx, maxy = geometry.bounds
        return [{"x": minx, "y": miny, "w": maxx - minx, "h": maxy - miny}]
    if kind == "image_segmentation":
        return [points(geometry.exterior.coords[:-1]),
                *[points(ring.coords[:-1]) for ring in geometry.interiors]]
    if kind == "polygon":
        return points(geometry.exterior.coords[:-1])
    return points(geometry.coords)
