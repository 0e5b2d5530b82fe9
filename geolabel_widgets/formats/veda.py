"""Veda: releases (``meta.json``, ``bounds.json`` / ``bounds.geojson``, ``images/N.tif``,
``labels/N.json``), and the API's datapoints (FORMATS_REAL.md 5).

A datapoint is one GeoJSON Feature: its geometry is the image's footprint in lon/lat
(a MultiPolygon), its ``properties.label`` ``{class: 0 or 1}`` for classification and
``{class: [geometry, ...]}`` in pixels from the top left for segmentation and object
detection; ``mltype`` or ``mlType`` says which. Veda's TIFFs have no georeference, so
they take the footprint. We also write ``image_name`` and ``labelers`` (parallel to
``label``) so that our releases come back whole; other readers ignore them.
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
from .atomic import unpacked, whole_or_nothing
from .records import STATUS_COLUMNS, Parsed, current_labels, image_pixels, write_records
from .registry import Format
from .safety import FormatError, read_json

ML_TYPES = {"classification": "multilabel", "segmentation": "semantic_segmentation",
            "object_detection": "detection"}
ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


def read_veda(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
              task: str | None = None, labeler: str = "veda",
              extract_to: str | os.PathLike | None = None, progress: bool = True) -> list[str]:
    """Import a release (``.tar.gz`` or folder). An archive is unpacked first, safely,
    into ``extract_to`` (default: a folder beside it), where the images then stay."""
    source = Path(source)
    if source.is_file() and source.name.lower().endswith(ARCHIVES):
        with unpacked(source, extract_to or source.with_name(_stem(source))) as folder:
            return read_veda(store, folder, dataset=dataset, task=task, labeler=labeler,
                             progress=progress)
    parsed = parse_veda(source, dataset, task=task, labeler=labeler, progress=progress)
    return write_records(store, parsed, progress=progress)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def parse_veda(folder: Path, dataset: str | None, *, task: str | None, labeler: str,
                  progress: bool = True) -> Parsed:
    """The datapoints in ``folder``: a release (``labels/`` + ``images/``, or one folder
    holding them), an API folder (``<id>.json`` beside ``<id>.tif``, a
    ``collection_<id>.json``), or API responses (lists of datapoint Features, their
    images left where the API has them). Named after the folder unless ``dataset``."""
    root, datapoints, meta = _datapoints(folder)
    dataset = dataset or root.name
    task = task or meta.get("name") or dataset
    classes = list(_meta_classes(meta))
    size = _imshape(meta)
    images, labels, statuses, kinds, empty = {}, [], [], set(), 0
    for key, feature, image_path, where in tqdm(datapoints, desc="Reading labels",
                                                disable=not progress):
        props = feature["properties"]
        image, crs, transform = _image(feature, image_path, size, dataset, where)
        images[key] = image
        label = props.get("label")
        if not isinstance(label, dict):
            raise FormatError(f"{where}: properties.label is not an object")
        kinds.add(_ml_type(props, meta, label, where))
        who = props.get("labelers") or {}
        # pixels, as Veda writes them; our exports before geolabel_pixels wrote lon/lat
        in_pixels = props.get("geolabel_pixels", "labelers" not in props)
        present = False
        for cls, value in label.items():
            if cls not in classes:
                classes.append(cls)
            names = who.get(cls) if isinstance(who, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and value in (0, 1):
                if value:
                    present = True
                    labels.append((key, task, _who(names, 0, labeler), "tag", cls, None))
            elif isinstance(value, list):
                for k, item in enumerate(value):
                    geometry = _polygon(item, where, cls, k)
                    if geometry is None:
                        empty += 1
                        continue
                    if not in_pixels and crs and transform:
                        geometry = lonlat_to_pixel(geometry, crs, transform)
                    labels.append((key, task, _who(names, k, labeler), "shape", cls, geometry))
            else:
                raise FormatError(f"{where}: label {cls!r} is neither 0/1 nor a list of "
                                  "geometries")
        if label and not present and all(isinstance(v, (int, float)) for v in label.values()):
            statuses.append((key, task, labeler, "labeled"))  # looked at: none there
    if empty:
        warnings.warn(f"{root}: {empty} empty geometry collection(s) in labels skipped",
                      stacklevel=3)
    if len(kinds) > 1:
        raise FormatError(f"{root}: datapoints mix {' and '.join(sorted(kinds))}")
    ml_type = kinds.pop()
    frame = pd.DataFrame(labels, columns=["image", "task", "labeler", "kind", "value",
                                          "geometry"])
    frame["kind"] = frame["kind"].replace(
        {"shape": "box" if ml_type == "object_detection" else "polygon"})
    frame["props"] = None
    return Parsed(images=pd.DataFrame.from_dict(images, orient="index"),
                  tasks={task: {"type": ML_TYPES[ml_type], "classes": classes}},
                  labels=frame,
                  statuses=pd.DataFrame(statuses, columns=STATUS_COLUMNS),
                  datasets={dataset: {"source": "veda", "sensor": meta.get("source")}})


def _datapoints(folder: Path) -> tuple[Path, list, dict]:
    """(root, [(key, feature, image file or None, where)], collection or meta)."""
    if not folder.exists():
        raise FileNotFoundError(f"no Veda release or datapoints at {folder}")
    if folder.is_file():
        return folder.parent, _unique(_features(folder, None)), {}
    inner = [p for p in folder.iterdir() if p.is_dir() and (p / "labels").is_dir()]
    root = folder if (folder / "labels").is_dir() else inner[0] if len(inner) == 1 else None
    if root is not None:  # a release
        meta = read_json(root / "meta.json") if (root / "meta.json").is_file() else {}
        if not isinstance(meta, dict):
            raise FormatError(f"{root / 'meta.json'}: not a JSON object")
        found = []
        for path in sorted((root / "labels").glob("*.json")):
            image = root / "images" / (path.stem + ".tif")
            if not image.is_file():
                raise FormatError(f"{path}: no image {image.name} beside it in images/")
            found += _features(path, image)
        if not found:
            raise FormatError(f"{root}: no labels/*.json")
        return root, _unique(found), meta
    found, collections = [], []
    for path in sorted(folder.glob("*.json")):
        data = read_json(path)
        if _is_collection(data):
            collections.append(data["properties"])
        elif isinstance(data, list) and data and all(map(_is_collection, data)):
            collections += [d["properties"] for d in data]
        elif _is_datapoint(data) or isinstance(data, list) and any(map(_is_datapoint, data)):
            image = path.with_suffix(".tif")
            found += _features(path, image if image.is_file() else None, data)
    if not found:
        raise FormatError(f"{folder}: no Veda release (images/ and labels/, or one folder "
                          "holding them) and no datapoint JSON files")
    ids = {f["properties"].get("dataset_id") for _, f, _, _ in found}
    meta = next((c for c in collections if c.get("id") in ids), {})
    return folder, _unique(found), meta


def _features(path: Path, image: Path | None, data=None) -> list:
    data = read_json(path) if data is None else data
    if isinstance(data, list):
        return [(_key(f, f"{path.stem}_{k}"), f, None, f"{path} datapoint {k}")
                for k, f in enumerate(data) if _is_datapoint(f)]
    if not isinstance(data, dict) or not isinstance(data.get("properties"), dict):
        raise FormatError(f"{path}: not a GeoJSON Feature with properties")
    return [(path.stem if image is not None else _key(data, path.stem), data, image,
             str(path))]


def _key(feature: dict, default: str) -> str:
    key = feature["properties"].get("id")
    return key if isinstance(key, str) and key else default


def _unique(found: list) -> list:
    """One datapoint per id (``datapoint.json`` repeats one of ``datapoints.json``)."""
    return list({item[0]: item for item in found}.values())


def _is_datapoint(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("properties"), dict) and \
        "label" in data["properties"]


def _is_collection(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("properties"), dict) and \
        "label" not in data["properties"] and \
        bool({"mltype", "mlType"} & set(data["properties"]))


def _ml_type(props: dict, meta: dict, label: dict, where: str) -> str:
    ml_type = props.get("mltype") or props.get("mlType") or meta.get("mltype") or \
        meta.get("mlType")
    if ml_type is None:
        numbers = all(isinstance(v, (int, float)) for v in label.values())
        ml_type = "classification" if numbers else "segmentation"
    if not isinstance(ml_type, str) or ml_type not in ML_TYPES:
        raise FormatError(f"{where}: unknown mltype {ml_type!r}")
    return ml_type


def _imshape(meta: dict) -> tuple[int, int] | None:
    """(height, width) of a collection's images, from ``imshape`` [bands, h, w]
    (numbers, or digit strings in the API's search responses)."""
    try:
        return int(meta["imshape"][1]), int(meta["imshape"][2])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _image(feature: dict, path: Path | None, size, dataset: str, where: str):
    """A datapoint's image row, CRS and transform: a TIFF without georeference (Veda's
    are all so) takes the feature's footprint; an image the API keeps is its link."""
    props = feature["properties"]
    name = props.get("image_name")
    footprint = _footprint(feature.get("geometry"), where)
    if path is not None:
        header = read_header(path)
        image = {"uri": str(path), "dataset": dataset, "name": name or path.name}
        size, crs, transform = (header.height, header.width), header.crs, header.transform
    else:
        link = (props.get("links") or {}).get("image") if isinstance(props.get("links"),
                                                                     dict) else None
        href = link.get("href") if isinstance(link, dict) else None
        uri = href if isinstance(href, str) else \
            f"veda://{props.get('dataset_id')}/{props.get('id')}"
        image = {"uri": uri, "dataset": dataset, "name": name or f"{props.get('id')}.tif",
                 "geometry": footprint}
        crs = transform = None
        if size is not None:
            image["height"], image["width"] = size
    if footprint is not None and not crs and size is not None:
        crs = "EPSG:4326"
        transform = list(from_bounds(*footprint.bounds, size[1], size[0]))[:6]
        image.update(crs=crs, transform=transform)
    return image, crs, transform


def _footprint(geometry, where: str):
    if not geometry:
        return None
    try:
        footprint = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError,
            shapely.errors.GEOSException) as err:
        raise FormatError(f"{where}: the feature's geometry is malformed ({err})") from None
    return None if footprint.is_empty else footprint


def _meta_classes(meta: dict) -> list[str]:
    classes = meta.get("classes") or []
    if isinstance(classes, dict):
        classes = list(classes)
    return [c for c in classes if isinstance(c, str)]


def _polygon(item, where: str, cls: str, k: int):
    """A label's polygon; None for an empty one (Veda writes empty GeometryCollections)."""
    try:
        geometry = shape(item)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError,
            shapely.errors.GEOSException) as err:
        raise FormatError(f"{where}: {cls!r} polygon {k} is malformed ({err})") from None
    if geometry.is_empty:
        return None
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise FormatError(f"{where}: {cls!r} item {k} is a {geometry.geom_type}, not a "
                          "polygon")
    return geometry


def _who(names, k: int, default: str) -> str:
    if isinstance(names, list) and k < len(names) and isinstance(names[k], str):
        return names[k]
    return default


@whole_or_nothing
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
                label[cls] = [mapping(g) for g in rows["geometry"]]  # pixels, as Veda writes
        footprint = image["geometry"] if georeferenced else None
        if footprint is not None:
            bounds.append({"type": "Feature", "geometry": mapping(footprint),
                           "properties": {"id": number}})
        (folder / "labels" / f"{number}.json").write_text(json.dumps({
            "type": "Feature", "geometry": mapping(footprint) if footprint is not None else {},
            "properties": {"label": label, "mltype": ml_type, "id": str(number),
                           "image_name": image["name"], "labelers": who,
                           "geolabel_pixels": True}}))
    bbox = list(shapely.total_bounds([shapely.from_geojson(json.dumps(b["geometry"]))
                                      for b in bounds])) if bounds else None
    (folder / "meta.json").write_text(json.dumps({
        "bbox": bbox, "classes": classes, "mlType": ml_type, "name": task,
        "nclasses": len(classes), "public": False, "source": "geolabel_widgets",
        "version": "1.0.0", "s3_location": None, "source_url": None}))
    bounds_file = json.dumps({"type": "FeatureCollection", "features": bounds})
    for name in ("bounds.geojson", "bounds.json"):  # the docs name one, pyveda opens the other
        (folder / name).write_text(bounds_file)


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


FORMAT = Format("veda", read=read_veda, write=write_veda, parse=parse_veda)
