"""Veda releases: ``meta.json``, ``bounds.geojson``, ``images/N.tif``, ``labels/N.json``.

A label file is one GeoJSON Feature: its geometry is the image's bounds in lon/lat, or
empty for an image without georeference (whose label geometries are then pixels from
the top left). ``properties.label`` is ``{class: 0 or 1}`` for classification and
``{class: [Polygon, ...]}`` for segmentation and object detection. We also write
``image_name`` and ``labelers`` (parallel to ``label``) so that our releases come back
whole; other readers ignore them.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from affine import Affine
import rasterio.errors
import shapely
from rasterio.transform import from_bounds
from shapely.geometry import mapping, shape
from tqdm.auto import tqdm

from ..imagery.georef import lonlat_to_pixel
from ..imagery.header import read_header
from ..store import LabelStore
from ..store.ingest import path_of
from .records import Parsed, current_labels, image_pixels, write_records
from .safety import FormatError, read_json, unpack

ML_TYPES = {"classification": "multilabel", "segmentation": "semantic_segmentation",
            "object_detection": "detection"}
ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


def read_veda(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
              task: str | None = None, labeler: str = "veda",
              extract_to: str | os.PathLike | None = None, progress: bool = True) -> list[str]:
    """Import a release (``.tar.gz`` or folder). An archive is unpacked first, safely,
    into ``extract_to`` (default: a folder beside it), where the images then stay."""
    source = Path(source)
    created = None
    if source.is_file() and source.name.lower().endswith(ARCHIVES):
        target = Path(extract_to or source.with_name(_stem(source)))
        created = None if target.exists() else target
        unpack(source, target)
        source = target
    try:
        parsed = parse_release(source, dataset, task=task, labeler=labeler, progress=progress)
        return write_records(store, parsed, progress=progress)
    except BaseException:
        if created is not None:  # nothing of a failed import stays behind
            shutil.rmtree(created, ignore_errors=True)
        raise


def _stem(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def parse_release(folder: Path, dataset: str | None, *, task: str | None, labeler: str,
                  progress: bool = True) -> Parsed:
    """The release in ``folder`` (or the one folder in it holding labels/), named after
    that folder unless ``dataset`` is given."""
    root = _root(folder)
    dataset = dataset or root.name
    meta = read_json(root / "meta.json") if (root / "meta.json").is_file() else {}
    if not isinstance(meta, dict):
        raise FormatError(f"{root / 'meta.json'}: not a JSON object")
    task = task or meta.get("name") or dataset
    images, labels, classes = {}, [], list(_meta_classes(meta))
    kinds = set()
    for label_path in tqdm(sorted((root / "labels").glob("*.json")), desc="Reading labels",
                           disable=not progress):
        image_path = root / "images" / (label_path.stem + ".tif")
        if not image_path.is_file():
            raise FormatError(f"{label_path}: no image {image_path.name} beside it in images/")
        feature = read_json(label_path)
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            raise FormatError(f"{label_path}: not a GeoJSON Feature with properties")
        header = read_header(image_path)
        image = {"uri": str(image_path), "dataset": dataset,
                 "name": feature["properties"].get("image_name") or image_path.name}
        bounds = _bounds(feature.get("geometry"), label_path)
        if bounds is not None and not header.crs:  # a plain TIFF: the label georeferences it
            image["crs"] = "EPSG:4326"
            image["transform"] = list(from_bounds(*bounds, header.width, header.height))[:6]
        crs = image.get("crs") or header.crs
        transform = image.get("transform") or header.transform
        images[label_path.stem] = image
        label = feature["properties"].get("label")
        if not isinstance(label, dict):
            raise FormatError(f"{label_path}: properties.label is not an object")
        who = feature["properties"].get("labelers") or {}
        for cls, value in label.items():
            if cls not in classes:
                classes.append(cls)
            names = who.get(cls) if isinstance(who, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and value in (0, 1):
                kinds.add("classification")
                if value:
                    labels.append((label_path.stem, task, _who(names, 0, labeler), "tag", cls,
                                   None))
            elif isinstance(value, list):
                kinds.add("shapes")
                for k, item in enumerate(value):
                    geometry = _polygon(item, label_path, cls, k)
                    if bounds is not None:
                        geometry = lonlat_to_pixel(geometry, crs, transform)
                    labels.append((label_path.stem, task, _who(names, k, labeler), "shape", cls,
                                   geometry))
            else:
                raise FormatError(f"{label_path}: label {cls!r} is neither 0/1 nor a list of "
                                  "polygons")
    if not images:
        raise FormatError(f"{root}: no labels/*.json")
    if len(kinds) > 1:
        raise FormatError(f"{root}: labels mix classification and shapes")
    ml_type = meta.get("mlType") or ("classification" if kinds == {"classification"}
                                     else "segmentation")
    if ml_type not in ML_TYPES:
        raise FormatError(f"{root / 'meta.json'}: unknown mlType {ml_type!r}")
    shape_kind = "box" if ml_type == "object_detection" else "polygon"
    frame = pd.DataFrame(labels, columns=["image", "task", "labeler", "kind", "value",
                                          "geometry"])
    frame["kind"] = frame["kind"].replace({"shape": shape_kind})
    frame["props"] = None
    return Parsed(images=pd.DataFrame.from_dict(images, orient="index"),
                  tasks={task: {"type": ML_TYPES[ml_type], "classes": classes}},
                  labels=frame,
                  datasets={dataset: {"source": "veda", "sensor": meta.get("source")}})


def _root(folder: Path) -> Path:
    if not folder.is_dir():
        raise FileNotFoundError(f"no Veda release at {folder}")
    if (folder / "labels").is_dir():
        return folder
    inner = [p for p in folder.iterdir() if p.is_dir() and (p / "labels").is_dir()]
    if len(inner) != 1:
        raise FormatError(f"{folder}: no images/ and labels/ folders (nor one folder "
                          "holding them)")
    return inner[0]


def _meta_classes(meta: dict) -> list[str]:
    classes = meta.get("classes") or []
    if isinstance(classes, dict):
        classes = list(classes)
    return [c for c in classes if isinstance(c, str)]


def _bounds(geometry, path: Path):
    if not geometry:
        return None
    try:
        return shape(geometry).bounds
    except (ValueError, TypeError, AttributeError, KeyError, IndexError,
            shapely.errors.GEOSException) as err:
        raise FormatError(f"{path}: the feature's geometry is malformed ({err})") from None


def _polygon(item, path: Path, cls: str, k: int):
    try:
        geometry = shape(item)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError,
            shapely.errors.GEOSException) as err:
        raise FormatError(f"{path}: {cls!r} polygon {k} is malformed ({err})") from None
    if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
        raise FormatError(f"{path}: {cls!r} item {k} is a {geometry.geom_type}, not a polygon")
    return geometry


def _who(names, k: int, default: str) -> str:
    if isinstance(names, list) and k < len(names) and isinstance(names[k], str):
        return names[k]
    return default


def write_veda(store: LabelStore, dest: str | os.PathLike, *, task: str,
               progress: bool = True) -> Path:
    """Write one task as a release: a folder, or a ``.tar.gz`` when ``dest`` names one."""
    dest = Path(dest)
    if dest.name.lower().endswith((".tar.gz", ".tgz")):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / _stem(dest)
            _write_folder(store, folder, task, progress)
            with tarfile.open(dest, "w:gz") as tar:
                tar.add(folder, arcname=folder.name)
        return dest
    _write_folder(store, dest, task, progress)
    return dest


def _write_folder(store: LabelStore, folder: Path, task: str, progress: bool) -> None:
    task_type = store.tasks.loc[task, "type"]
    ml_type = {"multilabel": "classification", "tag": "classification",
               "classification": "classification", "detection": "object_detection"
               }.get(task_type, "segmentation")
    classes = store.classes(task)
    labels = current_labels(store, task, kinds=("tag",) if ml_type == "classification"
                            else ("box", "polygon"))
    images = store.images.loc[labels["image_id"].unique()] if len(labels) else \
        store.images.iloc[:0]
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(exist_ok=True)
    bounds = []
    for number, (image_id, image) in enumerate(
            tqdm(images.iterrows(), total=len(images), desc="Writing release",
                 disable=not progress), start=1):
        georeferenced = bool(image["crs"] and image["transform"])
        _write_tif(image, folder / "images" / f"{number}.tif", georeferenced)
        mine = labels[labels["image_id"] == image_id]
        label, who = {}, {}
        for cls in classes:
            rows = mine[mine["value"] == cls]
            who[cls] = rows["labeler"].tolist()
            if ml_type == "classification":
                label[cls] = int(len(rows) > 0)
            else:
                column = "world_geometry" if georeferenced else "geometry"
                label[cls] = [mapping(g) for g in rows[column]]
        footprint = image["geometry"] if georeferenced else None
        if footprint is not None:
            bounds.append({"type": "Feature", "geometry": mapping(footprint),
                           "properties": {"id": number}})
        (folder / "labels" / f"{number}.json").write_text(json.dumps({
            "type": "Feature", "geometry": mapping(footprint) if footprint is not None else {},
            "properties": {"label": label, "image_name": image["name"], "labelers": who}}))
    bbox = list(shapely.total_bounds([shapely.from_geojson(json.dumps(b["geometry"]))
                                      for b in bounds])) if bounds else None
    (folder / "meta.json").write_text(json.dumps({
        "bbox": bbox, "classes": classes, "mlType": ml_type, "name": task,
        "nclasses": len(classes), "public": False, "source": "geolabel_widgets",
        "version": "1.0.0", "s3_location": None, "source_url": None}))
    (folder / "bounds.geojson").write_text(json.dumps({"type": "FeatureCollection",
                                                        "features": bounds}))


def _write_tif(image: pd.Series, path: Path, georeferenced: bool) -> None:
    """A GeoTIFF copy of the image: as it is when it is one, else written from its pixels."""
    source = path_of(image["uri"])
    if source is not None and source.suffix.lower() in (".tif", ".tiff") and source.exists():
        shutil.copy2(source, path)
        return
    pixels = image_pixels(image)
    profile = {"driver": "GTiff", "width": pixels.shape[1], "height": pixels.shape[0],
               "count": 3, "dtype": "uint8", "compress": "deflate"}
    if georeferenced:
        profile.update(crs=image["crs"], transform=Affine(*image["transform"]))
    with warnings.catch_warnings():  # a plain TIFF is fine for an image without georeference
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(np.moveaxis(pixels, -1, 0))
