"""YOLO folders: one text file per image, one object per line, in fractions of its size.

A line is ``class cx cy w h`` (a box), ``class x1 y1 ... xn yn`` (a polygon, YOLO
segment) or ``class x1 y1 x2 y2 x3 y3 x4 y4`` (a rotated box, YOLO OBB, when its four
corners make a rectangle; FORMATS_REAL.md 7: our polygons of four corners keep their
closing point, so they read back as polygons). Class names come from ``data.yaml`` /
``data.yml`` (``names``, a list or a dict by index) or ``classes.txt``, and class
indices are taken as the file says them, even where its author shifted them. Images
lie beside their text files or in the ``images/`` folder beside ``labels/``, found by
stem whatever their extension (or by their whole name, as solaris writes
``x.tif.txt``), or in ``images_dir``. A line with one number more, a confidence
(what a model writes with ``save_conf``), is a model's prediction: read with
``predictions=True``, refused otherwise.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon, box

from ..imagery.files import IMAGE_SUFFIXES
from ..imagery.header import UnreadableImage, read_header
from ..store import LabelStore
from ..store.ingest import path_of
from ..store.rotated import box_of, from_corners
from .atomic import whole_or_nothing
from .records import (LABEL_COLUMNS, PREDICTION_COLUMNS, Parsed, current_labels,
                      images_with_status, write_records)
from .registry import Format
from .safety import FormatError, check_size, file_name

NAMES_FILES = ("data.yaml", "data.yml", "classes.txt")
LINK_NOTE = ".SYMLINK_TARGET.txt"  # what a git checkout leaves for a link it cannot make
MAX_LABEL_BYTES = 64 << 20
RECTANGLE = 0.01  # how far (of its size) four corners may be from a rectangle: OBB
OFF_IMAGE = 0.5  # fractions past 0..1 by more than this are pixel coordinates, not YOLO
KINDS = ("box", "rotated_box", "polygon")


def read_yolo(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
              task: str | None = None, labeler: str = "yolo", images_dir=None,
              predictions: bool = False, model: str | None = None,
              progress: bool = True) -> list[str]:
    """Import a YOLO folder (detect, segment or OBB lines) as ``task``'s shapes; with
    ``predictions``, as a model's predictions (``model``, default "yolo"), each line's
    trailing confidence its score."""
    source = Path(source)
    return write_records(store, parse_yolo(source, task=task, labeler=labeler,
                                           images_dir=images_dir, predictions=predictions,
                                           model=model),
                         dataset=dataset or source.name, progress=progress)


def parse_yolo(source: Path, *, task: str | None = None, labeler: str = "yolo",
               images_dir=None, predictions: bool = False, model: str | None = None
               ) -> Parsed:
    if not source.is_dir():
        raise FormatError(f"{source}: a YOLO dataset is a folder of label .txt files")
    found, seen = [], {}
    for text in _label_files(source):
        image = _image_of(text, source, images_dir)
        lines = _lines(text)
        key = str(image.resolve())
        if key in seen:  # sahi writes the same images into train/ and val/
            if seen[key] != lines:
                raise FormatError(f"{text}: labels {image.name} otherwise than an earlier "
                                  "label file of the same image")
            continue
        seen[key] = lines
        found.append((text, image, key, lines))
    if not found:
        raise FormatError(f"{source}: no YOLO label files (.txt beside the images, or in "
                          "labels/)")
    names = class_names(source) or _index_names(source, found)
    task = task or f"{source.name} objects"
    images, rows, predicted = {}, [], []
    for text, image, key, lines in found:
        try:
            header = read_header(image)
        except UnreadableImage as err:
            raise FormatError(f"{text}: its image {err}") from None
        images[key] = {"uri": str(image), "name": image.name, "width": header.width,
                       "height": header.height, "dataset": source.name}
        for number, line in lines:
            kind, cls, geometry, score = _shape(line, header.width, header.height, names,
                                                f"{text}, line {number}", predictions)
            if predictions:
                predicted.append({"image": key, "task": task, "model": model or "yolo",
                                  "kind": kind, "value": names[cls], "score": score,
                                  "geometry": geometry})
            else:
                rows.append({"image": key, "task": task, "labeler": labeler, "kind": kind,
                             "value": names[cls], "geometry": geometry, "props": None})
    kinds = {row["kind"] for row in rows + predicted}
    return Parsed(images=pd.DataFrame.from_dict(images, orient="index"),
                  tasks={task: {"type": "instance_segmentation" if "polygon" in kinds
                                else "detection", "classes": names}},
                  labels=pd.DataFrame(rows, columns=LABEL_COLUMNS),
                  predictions=pd.DataFrame(predicted, columns=PREDICTION_COLUMNS))


def _index_names(source: Path, found: list) -> list[str]:
    """With no class list (solaris writes none), each class is named by its index."""
    indices = [line[0] for *_, lines in found for _, line in lines]
    try:
        top = max((int(float(k)) for k in indices), default=0)
    except ValueError:
        top = 0  # the line itself is reported where it is read
    warnings.warn(f"{source}: no {', '.join(NAMES_FILES)}; the classes are named by their "
                  f"index, 0..{top}", stacklevel=4)
    return [str(k) for k in range(max(top, 0) + 1)]


def class_names(source: Path) -> list[str] | None:
    """The class names by index, from the first of ``NAMES_FILES`` in ``source``."""
    found = next((source / n for n in NAMES_FILES if (source / n).is_file()), None)
    if found is None:
        return None
    check_size(found, 1 << 20, "a YOLO class list")
    text = found.read_text(encoding="utf-8-sig", errors="replace")
    if found.name == "classes.txt":
        names = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        import yaml

        try:
            document = yaml.safe_load(text)  # plain data only: never yaml.load
        except yaml.YAMLError as err:
            raise FormatError(f"{found}: not YAML ({str(err).splitlines()[0]})") from None
        names = document.get("names") if isinstance(document, dict) else None
        if isinstance(names, dict) and all(isinstance(k, int) for k in names) and \
                sorted(names) == list(range(len(names))):
            names = [names[k] for k in range(len(names))]
        if not isinstance(names, list):
            raise FormatError(f"{found}: no 'names' (a list, or a dict by index 0..n-1)")
        names = [str(n) for n in names]
    if not names or len(set(names)) != len(names):
        raise FormatError(f"{found}: the class names are empty or repeat: {names[:10]}")
    return names


def _label_files(source: Path) -> list[Path]:
    return sorted(p for p in source.rglob("*.txt") if p.is_file()
                  and p.name not in NAMES_FILES and not p.name.endswith(LINK_NOTE))


def _image_of(text: Path, source: Path, images_dir) -> Path:
    """The image a label file is for, or a clear error saying where it was looked for."""
    stem = text.name[:-len(".txt")]
    folders = [text.parent]
    parts = text.parent.relative_to(source).parts
    if "labels" in parts:  # labels/train/x.txt -> images/train/x.*
        k = len(parts) - 1 - parts[::-1].index("labels")
        folders.append(source.joinpath(*parts[:k], "images", *parts[k + 1:]))
    if images_dir is not None:
        folders.append(Path(images_dir))
    whole = Path(stem).suffix.lower() in IMAGE_SUFFIXES  # solaris: x.tif.txt
    for folder in folders:
        if whole and (folder / stem).is_file():
            return folder / stem
        for suffix in sorted(IMAGE_SUFFIXES - {".npz"}):
            for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
                if candidate.is_file():
                    return candidate
    notes = sorted(text.parent.glob(f"{stem}.*{LINK_NOTE}"))
    link = f" ({notes[0].name} says it was a link to {notes[0].read_text().strip()[:200]}, " \
           "which is not here)" if notes else ""
    looked = ", ".join(str(f) for f in dict.fromkeys(folders))
    raise FormatError(f"{text}: no image {stem}.* in {looked}{link}; give the folder holding "
                      "the images (images_dir)")


def _lines(text: Path) -> tuple:
    check_size(text, MAX_LABEL_BYTES, "a YOLO label file")
    raw = text.read_text(encoding="utf-8-sig", errors="replace")
    return tuple((k, line.split()) for k, line in enumerate(raw.splitlines(), start=1)
                 if line.strip())


def _shape(values: list[str], width: int, height: int, names: list[str], where: str,
           scored: bool = False):
    """A line's kind, class index, geometry in pixels and (``scored``) confidence."""
    try:
        cls_value, *numbers = [float(v) for v in values]
    except ValueError:
        raise FormatError(f"{where}: not numbers: {' '.join(values)[:120]}") from None
    if not cls_value.is_integer() or not 0 <= cls_value < len(names):
        raise FormatError(f"{where}: class {values[0]} is not an index of the "
                          f"{len(names)} classes named (0..{len(names) - 1})")
    xy = np.asarray(numbers)
    if not np.isfinite(xy).all():
        raise FormatError(f"{where}: a coordinate is not a finite number")
    score = None
    if len(xy) == 5 or len(xy) > 6 and len(xy) % 2:
        if not scored:
            raise FormatError(f"{where}: {len(xy)} numbers after the class, one more than a "
                              "box or whole points: a confidence score? These are a model's "
                              "predictions, not labels (import them with --predictions)")
        score, xy = float(xy[-1]), xy[:-1]
        if not 0 <= score <= 1:
            raise FormatError(f"{where}: a confidence of {score:g}, not between 0 and 1")
    if len(xy) != 4 and (len(xy) < 6 or len(xy) % 2):
        raise FormatError(f"{where}: {len(xy)} numbers after the class; a box has 4 "
                          "(cx cy w h), a polygon or rotated box x y pairs (at least 3)")
    if (xy < -OFF_IMAGE).any() or (xy > 1 + OFF_IMAGE).any():
        raise FormatError(f"{where}: coordinates are fractions of the image size (0..1), "
                          f"got {xy[(xy < -OFF_IMAGE) | (xy > 1 + OFF_IMAGE)][0]:g}: "
                          "pixel coordinates?")
    cls = int(cls_value)
    if len(xy) == 4:
        cx, cy, w, h = xy * [width, height, width, height]
        if w < 0 or h < 0:
            raise FormatError(f"{where}: a box of negative size")
        return "box", cls, box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), score
    points = xy.reshape(-1, 2) * [width, height]
    if len(points) == 4:
        rotated = from_corners(points)
        size = max(rotated.width, rotated.height)
        if min(rotated.width, rotated.height) > 0 and \
                np.abs(rotated.corners() - points).max() <= RECTANGLE * size:
            return "rotated_box", cls, rotated.polygon(), score
    polygon = Polygon(points)
    if not polygon.is_valid:
        polygon = shapely.make_valid(polygon)
    return "polygon", cls, polygon, score


@whole_or_nothing
def write_yolo(store: LabelStore, dest: str | os.PathLike, *, task: str,
               progress: bool = True) -> pd.DataFrame:
    """``task``'s boxes, rotated boxes and polygons as a YOLO folder: ``images/`` (the
    image files, copied) and ``labels/`` (one .txt each; empty for an image labeled
    with no objects; images never looked at are left out),
    by split (``images/train`` ...) where ``store.split`` made one, with ``data.yaml``
    and ``classes.txt``. Indices are 0-based in the task's class order. Each shape is
    the line its kind has (detect, OBB or segment); points and lines are left out,
    and said. Returns one row per image written."""
    import yaml

    dest = Path(dest)
    classes = list(store.tasks.loc[task, "classes"])
    labels = current_labels(store, task, kinds=(*KINDS, "point", "line"))
    left_out = int((~labels["kind"].isin(KINDS)).sum())
    if left_out:
        warnings.warn(f"{left_out} point(s) and line(s) are not YOLO objects and were left "
                      "out", stacklevel=3)
    labels = labels[labels["kind"].isin(KINDS)]
    looked_at = images_with_status(store, task, ("in_progress", "labeled", "reviewed",
                                                 "needs_improvement"))
    ids = list(dict.fromkeys([*labels["image_id"], *looked_at]))  # an empty file: none there
    splits = store.splits(task)
    images = store.images.loc[ids]
    rows, stems = [], set()
    for image_id, image in images.iterrows():
        part = splits.get(image_id)
        folder = Path(part) if isinstance(part, str) else Path()
        source = path_of(image["uri"])
        if source is None or not source.is_file():
            raise FormatError(f"{image['name']}: its file {image['uri']} is not here to export")
        name = file_name(image["name"])
        stem = Path(name).stem
        if (folder, stem) in stems:  # two images of one name: the id tells them apart
            stem, name = f"{stem}_{image_id[:8]}", f"{stem}_{image_id[:8]}{Path(name).suffix}"
        stems.add((folder, stem))
        for kind in ("images", "labels"):
            (dest / kind / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest / "images" / folder / name)
        mine = labels[labels["image_id"] == image_id]
        lines = [line for row in mine.itertuples()
                 for line in _lines_of(row, classes, image["width"], image["height"])]
        (dest / "labels" / folder / f"{stem}.txt").write_text("".join(lines))
        rows.append({"image_id": image_id, "image": f"images/{(folder / name).as_posix()}",
                     "labels": f"labels/{(folder / stem).as_posix()}.txt",
                     "objects": len(lines)})
    parts = sorted({p for p in splits.reindex(ids) if isinstance(p, str)})
    document = {"path": ".", "names": dict(enumerate(classes)), "nc": len(classes)}
    for part in parts or ["train"]:
        document[part] = f"images/{part}" if parts else "images"
    (dest / "data.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    (dest / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    return pd.DataFrame(rows)


def _lines_of(row, classes: list[str], width: int, height: int) -> list[str]:
    """A shape's YOLO lines: one, or one per part of a multipolygon (holes are lost:
    a YOLO polygon is one ring)."""
    scale = np.array([width, height], dtype=float)
    if row.kind == "box":
        minx, miny, maxx, maxy = row.geometry.bounds
        shapes = [[(minx + maxx) / 2 / width, (miny + maxy) / 2 / height,
                   (maxx - minx) / width, (maxy - miny) / height]]
    elif row.kind == "rotated_box":
        shapes = [(box_of(row.geometry).corners() / scale).ravel()]
    else:  # four corners would read as a rotated box: those keep their closing point
        rings = [np.asarray(part.exterior.coords)
                 for part in getattr(row.geometry, "geoms", [row.geometry])]
        shapes = [(ring if len(ring) == 5 else ring[:-1]) / scale for ring in rings]
        shapes = [numbers.ravel() for numbers in shapes]
    cls = classes.index(row.value)
    return [f"{cls} " + " ".join(f"{v:.6f}" for v in numbers) + "\n" for numbers in shapes]


FORMAT = Format("yolo", read=read_yolo, write=write_yolo, parse=parse_yolo,
                import_options=frozenset({"images_dir", "predictions", "model"}))
