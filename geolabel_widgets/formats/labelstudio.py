"""Label Studio's JSON export: a list of tasks, each an image with its annotations.

Coordinates are percent of the image's ``original_width`` / ``original_height``; a
rectangle turns by ``rotation`` degrees clockwise about its top-left corner (x, y),
so a turned one is a rotated box (FORMATS_REAL.md 8). ``rectanglelabels``,
``polygonlabels`` and ``keypointlabels`` are shapes of one task, ``brushlabels`` its
masks (one per annotation, later strokes over earlier; labelstudio_brush.py);
``choices`` are tags, a task per control (``from_name``). Each annotation's
``completed_by`` is a labeler (several per task: several labelers), a cancelled one a
skip. Predictions are a model's, not labels: they are counted and said.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from shapely.geometry import Point, Polygon, box

from ..imagery.files import is_image_path, uri_id
from ..store import LabelStore
from ..store.ingest import is_remote
from ..store.rotated import RotatedBox, box_of, from_corners
from .atomic import whole_or_nothing
from .labelstudio_brush import decode_brush, encode_brush
from .records import (LABEL_COLUMNS, PREDICTION_COLUMNS, STATUS_COLUMNS, Parsed,
                      bare_statuses, current_labels, current_masks, layered_mask,
                      write_records)
from .registry import Format
from .safety import FormatError, is_number, read_json

SHAPES = {"rectanglelabels": "box", "polygonlabels": "polygon", "keypointlabels": "point"}
CONTROLS = {"box": "RectangleLabels", "rotated_box": "RectangleLabels",
            "polygon": "PolygonLabels", "point": "KeyPointLabels"}
STRAIGHT = 1e-6  # degrees: a rectangle turned less than this is a plain box


def read_labelstudio(store: LabelStore, source: str | os.PathLike, *,
                     dataset: str | None = None, task: str | None = None, config=None,
                     images_dir=None, predictions: bool = False, model: str | None = None,
                     progress: bool = True) -> list[str]:
    """Import an export; ``config`` (the project's label config XML) gives the classes
    and their order, and the spelling a result's label is matched to whatever its case.
    Image files are looked for by name in ``images_dir`` (default: the JSON's folder);
    absent ones become catalogue rows of the size the results give. ``predictions``:
    the tasks' model predictions too, as predictions (their ``model_version``, or
    ``model``) with their scores; by default they are left out, and said."""
    source = Path(source)
    parsed = parse_labelstudio(read_json(source), source, task=task, config=config,
                               images_dir=Path(images_dir or source.parent),
                               predictions=predictions, model=model)
    return write_records(store, parsed, dataset=dataset, progress=progress)


def parse_labelstudio(document, source: Path, *, task: str | None = None, config=None,
                      images_dir: Path, predictions: bool = False, model: str | None = None
                      ) -> Parsed:
    if isinstance(document, dict) and isinstance(document.get("annotations"), list):
        document = [document]  # one task, as Label Studio's API returns it
    if not isinstance(document, list) or not all(isinstance(t, dict) for t in document):
        raise FormatError(f"{source}: not a Label Studio export (a JSON list of tasks)")
    named = config_classes(Path(config)) if config is not None else {}
    reader = _Reader(source, task or source.stem, named, images_dir,
                     (model or True) if predictions else None)
    for k, item in enumerate(document):
        reader.task(item, f"task {item.get('id', k)}")
    return reader.parsed()


class _Reader:
    """What an export holds, gathered task by task."""

    def __init__(self, source: Path, title: str, named: dict, images_dir: Path,
                 model: str | bool | None = None):
        self.source, self.title, self.named, self.images_dir = source, title, named, images_dir
        self.model = model  # None: predictions left out; True: each one's model_version
        self.images, self.rows, self.statuses, self.predicted = {}, [], [], []
        self.classes: dict[str, list[str]] = {}  # task title -> classes, first seen first
        self.types: dict[str, str] = {}
        self.recased: dict[str, str] = {}
        self.left_out: dict[str, int] = {}
        self.no_image: set[str] = set()  # the data keys of tasks without an image
        self.brushes: dict[tuple, list] = {}  # (image, labeler) -> [(0/1 array, class)]

    def task(self, item: dict, where: str) -> None:
        data = item.get("data")
        if not isinstance(data, dict):
            raise FormatError(f"{self.source}: {where} has no 'data'")
        annotations = item.get("annotations") or []
        if not isinstance(annotations, list):
            raise FormatError(f"{self.source}: {where}'s annotations are not a list")
        results = [r for a in annotations if isinstance(a, dict)
                   for r in a.get("result") or [] if isinstance(r, dict)]
        path = _image_value(data, self.named.get("$image"))
        if path is None:
            self.no_image.update(data)
            self._leave_out("task(s) with no image", 1)
            return
        key = self._image(path, results, where)
        predictions = item.get("predictions") or []
        if predictions and self.model is None:
            self._leave_out("model prediction(s) (not a person's labels; --predictions "
                            "reads them)", len(predictions))
            predictions = []
        for n, prediction in enumerate(predictions):
            self._prediction(prediction, key, f"{where}, prediction {n}")
        for n, annotation in enumerate(annotations):
            self._annotation(annotation, key, f"{where}, annotation {annotation.get('id', n)}")

    def _image(self, path: str, results: list, where: str) -> str:
        sizes = {(r["original_width"], r["original_height"]) for r in results
                 if is_number(r.get("original_width")) and is_number(r.get("original_height"))}
        if len(sizes) > 1:
            raise FormatError(f"{self.source}: {where}'s results give its image several "
                              f"sizes: {sorted(sizes)}")
        width, height = next(iter(sizes), (None, None))
        local = None if is_remote(path) else self.images_dir / PurePosixPath(path).name
        row = {"uri": path, "name": PurePosixPath(path).name or path,
               "dataset": self.source.stem}
        if local is not None and local.is_file():
            row["uri"] = str(local)
        else:  # "/image1" in two projects is two images: the size tells them apart
            row["image_id"] = uri_id(f"{path}#{width}x{height}")
        if width is not None:
            row.update(width=int(width), height=int(height))
        key = row.get("image_id", row["uri"])
        self.images.setdefault(key, row)
        return key

    def _annotation(self, annotation, image: str, where: str) -> None:
        if not isinstance(annotation, dict):
            raise FormatError(f"{self.source}: {where} is not an object")
        labeler = _labeler(annotation.get("completed_by"))
        if annotation.get("was_cancelled"):
            self.statuses.append({"image": image, "task": self.title, "labeler": labeler,
                                  "status": "skipped"})
            return
        results = annotation.get("result") or []
        self.statuses.append({"image": image, "task": self.title, "labeler": labeler,
                              "status": "labeled"})  # submitted, with or without results
        for n, result in enumerate(results):
            self._result(result, image, labeler, annotation.get("id"),
                         f"{where}, result {n}")

    def _result(self, result, image: str, labeler: str, annotation_id, where: str) -> None:
        kind = result.get("type") if isinstance(result, dict) else None
        value = result.get("value") if isinstance(result, dict) else None
        if not isinstance(value, dict):
            raise FormatError(f"{self.source}: {where} has no 'value'")
        if kind == "choices":
            name = str(result.get("from_name", "choices"))
            control = f"{self.title} {name}"
            choices = value.get("choices")
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise FormatError(f"{self.source}: {where}'s choices are not a list of text")
            self.types[control] = "multilabel" if len(choices) > 1 or \
                self.types.get(control) == "multilabel" else "classification"
            for choice in choices:
                self._row(image, control, labeler, "tag",
                          self._class(control, choice, self.named.get(("choices", name))),
                          None)
            return
        if kind not in (*SHAPES, "brushlabels"):
            self._leave_out(f"{kind} result(s) (not read)", 1)
            return
        if result.get("image_rotation") not in (None, 0):
            raise FormatError(f"{self.source}: {where} was drawn on the image turned "
                              f"{result['image_rotation']} degrees; not read")
        row = self.images[image]
        width, height = row.get("width"), row.get("height")
        if width is None:
            raise FormatError(f"{self.source}: {where} gives no original_width and "
                              "original_height to turn its percent into pixels")
        labels = value.get(kind)
        if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
            raise FormatError(f"{self.source}: {where} has not one label: {labels!r}")
        if kind == "brushlabels":
            if value.get("format", "rle") != "rle":
                raise FormatError(f"{self.source}: {where}: a brush in format "
                                  f"{value.get('format')!r}; only 'rle' is read")
            painted = decode_brush(value.get("rle"), int(height), int(width),
                                   f"{self.source}: {where}")
            self.brushes.setdefault((image, labeler), []).append(
                (painted, self._class(self.title, labels[0], self.named.get("*"))))
            return
        shape, geometry = _geometry(kind, value, width, height, f"{self.source}: {where}")
        label_id = f"labelstudio/{annotation_id}/{result.get('id')}" \
            if annotation_id is not None and result.get("id") else None
        self._row(image, self.title, labeler, shape,
                  self._class(self.title, labels[0], self.named.get("*")), geometry, label_id)

    def _prediction(self, prediction, image: str, where: str) -> None:
        """A model's results on an image, as predictions with their scores."""
        if not isinstance(prediction, dict) or not isinstance(prediction.get("result"), list):
            raise FormatError(f"{self.source}: {where} has no list of results")
        model = self.model if isinstance(self.model, str) else \
            str(prediction.get("model_version") or "labelstudio")
        for n, result in enumerate(prediction["result"]):
            here = f"{where}, result {n}"
            value = result.get("value") if isinstance(result, dict) else None
            if not isinstance(value, dict):
                raise FormatError(f"{self.source}: {here} has no 'value'")
            kind, score = result.get("type"), result.get("score", prediction.get("score"))
            row = {"image": image, "model": model, "score": score, "geometry": None}
            if kind == "choices":
                name = str(result.get("from_name", "choices"))
                control = f"{self.title} {name}"
                self.types.setdefault(control, "classification")
                for choice in value.get("choices") or []:
                    self.predicted.append({**row, "task": control, "kind": "tag", "value":
                                           self._class(control, str(choice),
                                                       self.named.get(("choices", name)))})
            elif kind in SHAPES:
                width, height = self.images[image].get("width"), self.images[image].get("height")
                if width is None:
                    raise FormatError(f"{self.source}: {here}: no annotation of its image "
                                      "gives the size its percent coordinates need")
                shape, geometry = _geometry(kind, value, width, height, f"{self.source}: {here}")
                labels = value.get(kind)
                if not isinstance(labels, list) or len(labels) != 1:
                    raise FormatError(f"{self.source}: {here} has not one label: {labels!r}")
                self.predicted.append({**row, "task": self.title, "kind": shape,
                                       "geometry": geometry, "value": self._class(
                                           self.title, str(labels[0]), self.named.get("*"))})
            else:
                self._leave_out(f"predicted {kind} result(s) (not read)", 1)

    def _class(self, task: str, label: str, configured: list[str] | None) -> str:
        known = configured or self.classes.get(task, [])
        same = next((c for c in known if c.casefold() == label.casefold()), None)
        if same is not None and same != label:
            self.recased[label] = same
        chosen = same or label
        classes = self.classes.setdefault(task, [])
        if chosen not in classes:
            classes.append(chosen)
        return chosen

    def _row(self, image, task, labeler, kind, value, geometry, label_id=None) -> None:
        self.rows.append({"image": image, "task": task, "labeler": labeler, "kind": kind,
                          "value": value, "geometry": geometry, "props": None,
                          "label_id": label_id})

    def _leave_out(self, what: str, n: int) -> None:
        self.left_out[what] = self.left_out.get(what, 0) + n

    def parsed(self) -> Parsed:
        if not self.images:
            raise FormatError(f"{self.source}: no task with an image (their data hold "
                              f"{', '.join(sorted(self.no_image)) or 'nothing'}): not a "
                              "project that labels images")
        if self.recased:
            warnings.warn(f"{self.source}: labels matched to the config's spelling: " +
                          ", ".join(f"{a!r} as {b!r}" for a, b in self.recased.items()),
                          stacklevel=5)
        if self.left_out:
            warnings.warn(f"{self.source}: left out " + ", ".join(
                f"{n} {what}" for what, n in self.left_out.items()), stacklevel=5)
        for (image, labeler), parts in self.brushes.items():  # one mask each, later over
            mask, names = layered_mask(parts, self.classes[self.title])  # earlier
            self.classes[self.title] = names  # with "unlabeled" where a pixel has no class
            self._row(image, self.title, labeler, "mask", mask, None)
            self.rows[-1]["props"] = {"classes": names}
        labels = pd.DataFrame(self.rows, columns=[*LABEL_COLUMNS, "label_id"])
        statuses = pd.DataFrame(self.statuses, columns=STATUS_COLUMNS)
        predicted = pd.DataFrame(self.predicted, columns=PREDICTION_COLUMNS)
        if list(self.types) == list(self.classes):  # tags alone, of one control: the task
            only = {title: self.title for title in self.types} if len(self.types) == 1 else {}
            labels["task"] = labels["task"].replace(only)
            predicted["task"] = predicted["task"].replace(only)
            self.classes = {only.get(t, t): c for t, c in self.classes.items()}
            self.types = {only.get(t, t): kind for t, kind in self.types.items()}
        tasks = {}
        for title in self.classes:
            kinds = set(labels.loc[labels["task"] == title, "kind"]) | \
                set(predicted.loc[predicted["task"] == title, "kind"])
            configured = self.named.get("*", []) if title == self.title and \
                title not in self.types else []
            tasks[title] = {"type": self.types.get(title) or (
                "semantic_segmentation" if kinds == {"mask"} else
                "instance_segmentation" if kinds & {"polygon", "mask"} else "detection"),
                "classes": list(dict.fromkeys([*configured, *self.classes[title]]))}
        if self.title not in tasks and len(statuses):
            tasks[self.title] = {"type": "detection", "classes": self.named.get("*", [])}
        statuses = statuses[statuses["task"].isin(tasks)]
        return Parsed(images=pd.DataFrame.from_dict(self.images, orient="index"),
                      tasks=tasks, labels=labels, statuses=statuses, predictions=predicted)


def _image_value(data: dict, variable: str | None):
    """The task's image: the config's ``$image`` variable, else ``image``, else the
    first value that names an image file."""
    for key in ([variable] if variable else []) + ["image"]:
        if isinstance(data.get(key), str):
            return data[key]
    return next((v for v in data.values()
                 if isinstance(v, str) and is_image_path(v.split("?", 1)[0])), None)


def _labeler(completed_by) -> str:
    """A person: their email where the export gives it, else Label Studio's user id."""
    if isinstance(completed_by, dict):
        if isinstance(completed_by.get("email"), str) and completed_by["email"]:
            return completed_by["email"]
        completed_by = completed_by.get("id")
    return f"labelstudio-user-{completed_by}" if completed_by is not None else "labelstudio"


def _geometry(kind: str, value: dict, width: int, height: int, where: str):
    def numbers(*keys):
        got = [value.get(k) for k in keys]
        if not all(is_number(v) and math.isfinite(v) for v in got):
            raise FormatError(f"{where}: {', '.join(keys)} are not all numbers")
        return got

    if kind == "rectanglelabels":
        x, y, w, h = numbers("x", "y", "width", "height")
        x, y, w, h = x * width / 100, y * height / 100, w * width / 100, h * height / 100
        if w < 0 or h < 0:
            raise FormatError(f"{where}: a rectangle of negative size")
        rotation = value.get("rotation") or 0
        if not is_number(rotation) or not math.isfinite(rotation):
            raise FormatError(f"{where}: rotation {rotation!r} is not a number")
        turned = min(rotation % 360, 360 - rotation % 360) > STRAIGHT
        if not turned:
            return "box", box(x, y, x + w, y + h)
        turn = math.radians(rotation)  # about the top-left corner, clockwise (y down)
        offsets = np.array([[0, 0], [w, 0], [w, h], [0, h]])
        rotation_matrix = np.array([[math.cos(turn), -math.sin(turn)],
                                    [math.sin(turn), math.cos(turn)]])
        return "rotated_box", from_corners(offsets @ rotation_matrix.T + [x, y]).polygon()
    if kind == "keypointlabels":
        x, y = numbers("x", "y")
        return "point", Point(x * width / 100, y * height / 100)
    points = value.get("points")
    if not isinstance(points, list) or len(points) < 3 or not all(
            isinstance(p, list) and len(p) == 2 and all(is_number(v) for v in p)
            for p in points):
        raise FormatError(f"{where}: points are not a list of at least 3 [x, y] pairs")
    return "polygon", Polygon(np.asarray(points, float) * [width / 100, height / 100])


def config_classes(path: Path) -> dict:
    """A label config's classes: ``"*"`` for the shape controls' labels, ``("choices",
    name)`` for each Choices control, and ``"$image"`` for the Image tag's variable."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(path.read_text())  # a config holds no entities or DTD
    except (OSError, ET.ParseError) as err:
        raise FormatError(f"{path}: not a Label Studio label config ({err})") from None
    found: dict[str, list[str]] = {}
    for node in root.iter():
        if node.tag in ("RectangleLabels", "PolygonLabels", "KeyPointLabels",
                        "BrushLabels"):
            found.setdefault("*", []).extend(
                c.get("value") for c in node if c.tag == "Label" and c.get("value"))
        elif node.tag == "Choices":
            found[("choices", node.get("name", "choices"))] = [
                c.get("value") for c in node if c.tag == "Choice" and c.get("value")]
        elif node.tag == "Image" and (node.get("value") or "").startswith("$"):
            found["$image"] = node.get("value")[1:]
    return found


@whole_or_nothing
def write_labelstudio(store: LabelStore, dest: str | os.PathLike, *, task: str) -> list:
    """One task as an export Label Studio imports: a task per image (``data.image``
    its path or URL), an annotation per labeler with percent coordinates. Boxes and
    rotated boxes are ``rectanglelabels`` (turned about their top-left corner),
    polygons ``polygonlabels`` (a part each), points ``keypointlabels``, masks
    ``brushlabels`` (a class each), tags ``choices``; lines and strokes are left out,
    and said. ``label_config(store, task)``
    is the project's config to go with it."""
    labels = current_labels(store, task)
    left_out = labels[~labels["kind"].isin([*CONTROLS, "tag"])]
    if len(left_out):
        warnings.warn(f"{len(left_out)} line(s) and stroke(s) are not Label Studio "
                      "results and were left out", stacklevel=3)
    bare = bare_statuses(store, labels, task)
    masks = pd.DataFrame([{"image_id": item.image_id, "labeler": item.labeler, "kind": "mask",
                           "value": (mask, classes), "uri": item.uri, "width": item.width,
                           "height": item.height}
                          for item, _, mask, classes in current_masks(store, task, False)])
    labels = pd.concat([labels[labels["kind"].isin([*CONTROLS, "tag"])], masks,
                        bare[bare["status"].isin(["labeled", "reviewed", "skipped"])]],
                       ignore_index=True)
    document = []
    for n, (image_id, rows) in enumerate(labels.groupby("image_id", sort=False), start=1):
        image = rows.iloc[0]
        annotations = []
        for k, (labeler, mine) in enumerate(rows.groupby("labeler", sort=False), start=1):
            results = [r for row in mine.itertuples() if row.kind != "status"
                       for r in _results(row)]
            skipped = "status" in mine and (mine["status"] == "skipped").any()
            annotations.append({"id": n * 1000 + k, "completed_by": {"email": labeler},
                                "was_cancelled": bool(skipped
                                                      and not results),
                                "ground_truth": False, "result": results})
        document.append({"id": n, "data": {"image": image["uri"]},
                         "meta": {"geolabel_image_id": image_id}, "annotations": annotations,
                         "predictions": []})
    Path(dest).write_text(json.dumps(document))
    return document


def _results(row) -> list[dict]:
    if row.kind == "tag":
        return [{"type": "choices", "from_name": "choice", "to_name": "image",
                 "value": {"choices": [row.value]}}]
    width, height = float(row.width), float(row.height)
    common = {"to_name": "image", "original_width": int(width),
              "original_height": int(height), "image_rotation": 0}
    if row.kind in ("box", "rotated_box"):
        turned = box_of(row.geometry) if row.kind == "rotated_box" else None
        if turned is None:
            minx, miny, maxx, maxy = row.geometry.bounds
            turned = RotatedBox((minx + maxx) / 2, (miny + maxy) / 2, maxx - minx,
                                maxy - miny, 0.0)
        x, y = turned.corners()[0]
        value = {"x": x / width * 100, "y": y / height * 100,
                 "width": turned.width / width * 100, "height": turned.height / height * 100,
                 "rotation": turned.angle, "rectanglelabels": [row.value]}
        return [{**common, "type": "rectanglelabels", "from_name": "box", "value": value}]
    if row.kind == "mask":
        mask, classes = row.value
        return [{**common, "type": "brushlabels", "from_name": "brush",
                 "value": {"format": "rle", "rle": encode_brush(mask == k),
                           "brushlabels": [name]}}
                for k, name in enumerate(classes)
                if name != "unlabeled" and (mask == k).any()]
    if row.kind == "point":
        return [{**common, "type": "keypointlabels", "from_name": "point",
                 "value": {"x": row.geometry.x / width * 100,
                           "y": row.geometry.y / height * 100,
                           "keypointlabels": [row.value]}}]
    return [{**common, "type": "polygonlabels", "from_name": "polygon",
             "value": {"points": (np.asarray(part.exterior.coords)[:-1] / [width, height]
                                  * 100).tolist(), "closed": True,
                       "polygonlabels": [row.value]}}
            for part in getattr(row.geometry, "geoms", [row.geometry])]


def label_config(store: LabelStore, task: str) -> str:
    """A Label Studio label config for ``write_labelstudio``'s export of ``task``."""
    from xml.sax.saxutils import quoteattr

    classes = "".join(f"<Label value={quoteattr(c)}/>" for c in store.classes(task))
    choices = "".join(f"<Choice value={quoteattr(c)}/>" for c in store.classes(task))
    controls = [f'<{tag} name="{name}" toName="image">{classes}</{tag}>' for name, tag in
                (("box", "RectangleLabels"), ("polygon", "PolygonLabels"),
                 ("point", "KeyPointLabels"), ("brush", "BrushLabels"))]
    return ('<View><Image name="image" value="$image"/>' + "".join(controls) +
            f'<Choices name="choice" toName="image">{choices}</Choices></View>')


FORMAT = Format("labelstudio", read=read_labelstudio, write=write_labelstudio,
                parse=parse_labelstudio,
                import_options=frozenset({"images_dir", "config", "predictions", "model"}))
