"""COCO detection and segmentation JSON, in image pixels.

Boxes become ``bbox`` ([x, y, width, height]); polygons become ``segmentation`` (one
flat ring per part); a rotated box its four corners, with its angle as
``geolabel_angle``. In, an RLE ``segmentation`` (compressed or not, crowd or not;
decoded with pycocotools) is a pixel mask: an image's RLE annotations make one mask
of the task, later ones over earlier, with ``unlabeled`` where none lies. COCO
polygons have no holes, so a polygon's holes also go in ``geolabel_holes`` (other
tools ignore the key; the ``area`` counts them out), with the task, labeler and kind,
so that our own files come back whole. Points and lines are not COCO objects and stay
out; the writer says how many. A results file (a model's detections with scores, by
the image and category ids of the dataset file it was made for) is read with that
file as a model's predictions.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from ..store import LabelStore
from ..store.rotated import box_of
from .atomic import whole_or_nothing
from .records import (LABEL_COLUMNS, PREDICTION_COLUMNS, Parsed, current_labels, layered_mask,
                      write_records)
from .registry import Format
from .safety import FormatError, is_number, read_json

KINDS = ("box", "rotated_box", "polygon")


@whole_or_nothing
def write_coco(store: LabelStore, dest: str | os.PathLike, *, task: str) -> dict:
    """One task's boxes and polygons as a COCO JSON file; returns the document."""
    labels = current_labels(store, task, kinds=(*KINDS, "point", "line"))
    left_out = labels[~labels["kind"].isin(KINDS)]
    if len(left_out):
        warnings.warn(f"{len(left_out)} point(s) and line(s) are not COCO objects and were "
                      "left out", stacklevel=2)
    labels = labels[labels["kind"].isin(KINDS)]
    classes = store.classes(task)
    images = store.images.loc[labels["image_id"].unique()] if len(labels) else \
        store.images.iloc[:0]
    image_numbers = {image_id: k for k, image_id in enumerate(images.index, start=1)}
    document = {
        "info": {"description": f"{task} (geolabel_widgets export)",
                 "geolabel_task": task, "geolabel_task_type": store.tasks.loc[task, "type"]},
        "images": [{"id": image_numbers[i], "file_name": row["name"],
                    "width": int(row["width"]), "height": int(row["height"]),
                    "geolabel_uri": row["uri"], "geolabel_dataset": row["dataset"]}
                   for i, row in images.iterrows()],
        "categories": [{"id": k, "name": name, "supercategory": ""}
                       for k, name in enumerate(classes, start=1)],
        "annotations": [_annotation(k, row, image_numbers, classes)
                        for k, row in enumerate(labels.itertuples(), start=1)],
    }
    Path(dest).write_text(json.dumps(document))
    return document


def _annotation(k: int, row, image_numbers: dict, classes: list[str]) -> dict:
    geometry = row.geometry
    minx, miny, maxx, maxy = geometry.bounds
    item = {"id": k, "image_id": image_numbers[row.image_id],
            "category_id": classes.index(row.value) + 1,
            "bbox": [minx, miny, maxx - minx, maxy - miny], "area": geometry.area,
            "iscrowd": 0, "geolabel_kind": row.kind, "geolabel_labeler": row.labeler}
    if row.kind == "rotated_box":  # COCO has no angle: its corners, and the angle beside
        item["segmentation"] = [_flat(geometry.exterior.coords)]
        item["geolabel_angle"] = box_of(geometry).angle
    if row.kind == "polygon":
        parts = list(getattr(geometry, "geoms", [geometry]))
        item["segmentation"] = [_flat(p.exterior.coords) for p in parts]
        holes = [[_flat(ring.coords) for ring in p.interiors] for p in parts]
        if any(holes):
            item["geolabel_holes"] = holes
    return item


def _flat(coords) -> list[float]:
    return [float(v) for xy in list(coords)[:-1] for v in xy]


def read_coco(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
              task: str | None = None, labeler: str = "coco", images_dir=None,
              predictions: bool = False, ground_truth=None, model: str | None = None,
              progress: bool = True) -> list[str]:
    """Import a COCO file: images (their files looked for in ``images_dir``, default
    the file's folder), categories as classes of ``task``, boxes and polygons.

    ``predictions``: ``source`` is a results file, read as ``model``'s predictions
    (default: the file's name) on the images and categories of ``ground_truth``, the
    dataset file it was made for (whose own labels are not imported)."""
    source = Path(source)
    document = read_json(source)
    if predictions:
        parsed = parse_coco_results(document, source, ground_truth=ground_truth, task=task,
                                    model=model, images_dir=images_dir)
    else:
        parsed = parse_coco(document, source, task=task, labeler=labeler,
                            images_dir=Path(images_dir or source.parent))
    return write_records(store, parsed, dataset=dataset, progress=progress)


def parse_coco_results(document, source: Path, *, ground_truth, task: str | None = None,
                       model: str | None = None, images_dir=None) -> Parsed:
    """A results file's detections as predictions on its dataset file's images."""
    if ground_truth is None:
        raise FormatError(f"{source}: a results file names images and categories by the ids "
                          "of the dataset file it was made for; give that file "
                          "(--ground-truth)")
    truth_path = Path(ground_truth)
    truth_document = read_json(truth_path)
    truth = parse_coco(truth_document, truth_path, task=task, labeler="coco",
                       images_dir=Path(images_dir or truth_path.parent))
    categories = _categories(truth_document, truth_path)
    (task, spec), = truth.tasks.items()
    if not isinstance(document, list):
        raise FormatError(f"{source}: not a COCO results file (a JSON list of detections)")
    rows = []
    for k, item in enumerate(document):
        where = f"detection {k}"
        _need(item, {"image_id": int, "category_id": int}, where, source)
        if item["image_id"] not in truth.images.index:
            raise FormatError(f"{source}: {where} is on image {item['image_id']}, which "
                              f"{truth_path.name} does not list")
        if item["category_id"] not in categories:
            raise FormatError(f"{source}: {where} has category {item['category_id']}, which "
                              f"{truth_path.name} does not list")
        score = item.get("score")
        if not is_number(score) or not 0 <= score <= 1:
            raise FormatError(f"{source}: {where}'s score is {score!r}, not from 0 to 1")
        if isinstance(item.get("segmentation"), dict):
            raise FormatError(f"{source}: {where} is an RLE mask; predicted masks are not read")
        kind, geometry = _geometry(item, where, source)
        rows.append({"image": item["image_id"], "task": task, "model": model or source.stem,
                     "kind": kind, "value": categories[item["category_id"]],
                     "score": float(score), "geometry": geometry})
    used = {row["image"] for row in rows}
    return Parsed(images=truth.images.loc[[i for i in truth.images.index if i in used]],
                  tasks={task: spec},
                  predictions=pd.DataFrame(rows, columns=PREDICTION_COLUMNS))


def parse_coco(document, source: Path, *, task: str | None, labeler: str,
               images_dir: Path) -> Parsed:
    _not_another_kind(document, source)
    for key in ("images", "categories", "annotations"):
        if not isinstance(document.get(key), list):
            raise FormatError(f"{source}: no {key!r} list")
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    task = task or _text(info.get("geolabel_task")) or f"{source.stem} objects"
    categories = _categories(document, source)
    images = {}
    for k, image in enumerate(document["images"]):
        _need(image, {"id": int, "file_name": str, "width": int, "height": int},
              f"image {k}", source)
        if image["width"] <= 0 or image["height"] <= 0:
            raise FormatError(f"{source}: image {k} has size {image['width']} x "
                              f"{image['height']}")
        uri = image.get("geolabel_uri")
        if not isinstance(uri, str) or not Path(uri).is_file():
            uri = str(images_dir / image["file_name"])
        images[image["id"]] = {"uri": uri, "name": Path(image["file_name"]).name,
                               "width": image["width"], "height": image["height"],
                               "dataset": _text(image.get("geolabel_dataset")) or source.stem}
    rows, rasters = [], {}
    for k, item in enumerate(document["annotations"]):
        where = f"annotation {k}"
        _need(item, {"image_id": int, "category_id": int}, where, source)
        if item["image_id"] not in images:
            raise FormatError(f"{source}: {where} is on image {item['image_id']}, "
                              "which the file does not list")
        if item["category_id"] not in categories:
            raise FormatError(f"{source}: {where} has category {item['category_id']}, "
                              "which the file does not list")
        if isinstance(item.get("segmentation"), dict):
            image = images[item["image_id"]]
            pixels = _rle(item["segmentation"], image["height"], image["width"], where, source)
            rasters.setdefault(item["image_id"], []).append((pixels, item["category_id"]))
            continue
        kind, geometry = _geometry(item, where, source)
        rows.append({"image": item["image_id"], "task": task,
                     "labeler": _text(item.get("geolabel_labeler")) or labeler, "kind": kind,
                     "value": categories[item["category_id"]], "geometry": geometry,
                     "props": None})
    classes = list(dict.fromkeys(categories.values()))
    for image, parts in rasters.items():
        mask, names = layered_mask([(pixels, categories[c]) for pixels, c in parts], classes)
        rows.append({"image": image, "task": task, "labeler": labeler, "kind": "mask",
                     "value": mask, "geometry": None, "props": {"classes": names}})
        classes += [n for n in names if n not in classes]
    kinds = {r["kind"] for r in rows}
    task_type = _text(info.get("geolabel_task_type")) or (
        "semantic_segmentation" if kinds == {"mask"} else
        "instance_segmentation" if kinds & {"polygon", "mask"} else "detection")
    return Parsed(images=pd.DataFrame.from_dict(images, orient="index"),
                  tasks={task: {"type": task_type, "classes": classes}},
                  labels=pd.DataFrame(rows, columns=LABEL_COLUMNS))


def _categories(document: dict, source: Path) -> dict[int, str]:
    """Category id -> class name."""
    categories = {}
    for k, category in enumerate(document["categories"]):
        _need(category, {"id": int}, f"category {k}", source)
        name = category.get("name")
        if not isinstance(name, (str, int, float)) or isinstance(name, bool) or name == "":
            raise FormatError(f"{source}: category {k} has no name")
        categories[category["id"]] = str(name)  # solaris names its classes 1.0 and 0.0
    return categories


def _not_another_kind(document, source: Path) -> None:
    """Files mistaken for a COCO dataset, named for what they are."""
    if isinstance(document, list) and document and all(
            isinstance(d, dict) and "score" in d and "image_id" in d for d in document):
        raise FormatError(f"{source}: a COCO results file ({len(document)} detections with "
                          "scores, no images or categories): a model's predictions, not "
                          "labels; import them with --predictions and --ground-truth (the "
                          "dataset file they were made for)")
    if not isinstance(document, dict):
        raise FormatError(f"{source}: not a COCO document (a JSON object)")
    if "shapes" in document and "imagePath" in document:
        raise FormatError(f"{source}: a LabelMe file (shapes of one image), not COCO; "
                          "labelme2coco converts it")


def _rle(rle: dict, height: int, width: int, where: str, source: Path) -> np.ndarray:
    """An RLE ``segmentation`` as an (h, w) 0/1 array, checked before pycocotools (C
    code) sees it: the size is the image's; counts are a string of RLE characters or
    non-negative integers summing to h * w."""
    from pycocotools import mask as coco_mask

    size, counts = rle.get("size"), rle.get("counts")
    if size != [height, width]:
        raise FormatError(f"{source}: {where}'s RLE size is {size}, its image "
                          f"{height} x {width}")
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts) \
                or sum(counts) != height * width:
            raise FormatError(f"{source}: {where}'s uncompressed RLE counts are not "
                              f"non-negative integers summing to {height * width}")
        rle = coco_mask.frPyObjects({"size": size, "counts": counts}, height, width)
    elif isinstance(counts, str) and counts and all(48 <= ord(c) < 112 for c in counts):
        rle = {"size": size, "counts": counts.encode("ascii")}
    else:
        raise FormatError(f"{source}: {where}'s RLE counts are neither a list of integers "
                          "nor an RLE string")
    with warnings.catch_warnings():  # pycocotools' own use of numpy's __array__
        warnings.simplefilter("ignore", DeprecationWarning)
        if int(coco_mask.area(rle)) > height * width:
            raise FormatError(f"{source}: {where}'s RLE runs past its image")
        return coco_mask.decode(rle)


def _geometry(item: dict, where: str, source: Path):
    segmentation = item.get("segmentation")
    if isinstance(segmentation, dict):
        raise FormatError(f"{source}: {where} is an RLE mask; only polygon segmentations "
                          "and boxes are read")
    if isinstance(segmentation, list) and segmentation and is_number(segmentation[0]):
        segmentation = [segmentation]  # solaris writes one flat ring, unnested
    if segmentation:
        holes = item.get("geolabel_holes") or [[] for _ in segmentation]
        if not isinstance(segmentation, list) or not isinstance(holes, list) or \
                len(holes) != len(segmentation):
            raise FormatError(f"{source}: {where} has a malformed segmentation")
        try:
            parts = [Polygon(_pairs(ring, where, source),
                             [_pairs(h, where, source) for h in hole_rings])
                     for ring, hole_rings in zip(segmentation, holes)]
        except (ValueError, TypeError, shapely.errors.GEOSException) as err:
            raise FormatError(f"{source}: {where} has a malformed segmentation ({err})") \
                from None
        geometry = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        kind = "polygon"
    else:
        bbox = item.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox)
                and bbox[2] >= 0 <= bbox[3]):
            raise FormatError(f"{source}: {where} has neither a segmentation nor a bbox "
                              "[x, y, width, height]")
        x, y, w, h = bbox
        geometry, kind = box(x, y, x + w, y + h), "box"
    if item.get("geolabel_kind") in KINDS:
        kind = item["geolabel_kind"]
    return kind, geometry


def _pairs(flat, where: str, source: Path) -> np.ndarray:
    if not isinstance(flat, list) or len(flat) < 6 or len(flat) % 2 or \
            not all(is_number(v) for v in flat):
        raise FormatError(f"{source}: {where} has a ring that is not an even list of at "
                          "least 6 numbers")
    return np.asarray(flat, dtype=float).reshape(-1, 2)


def _text(value) -> str | None:
    """One of our own extra keys, if it holds text; other tools' files lack them."""
    return value if isinstance(value, str) and value else None


def _need(item, fields: dict, where: str, source: Path) -> None:
    if not isinstance(item, dict):
        raise FormatError(f"{source}: {where} is not an object")
    for name, kind in fields.items():
        value = item.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise FormatError(f"{source}: {where} has no {kind.__name__} {name!r}")


FORMAT = Format("coco", read=read_coco, write=write_coco, parse=parse_coco,
                import_options=frozenset({"images_dir", "predictions", "ground_truth",
                                          "model"}))
