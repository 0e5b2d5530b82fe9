"""Plain vector labels: GeoJSON, GeoParquet, a Shapefile or anything else GeoPandas
reads, in any CRS, put on one image or on the store's images the shapes fall on.

A file that says nothing of its CRS (no ``crs`` member, or GeoParquet's ``"crs": null``,
"unknown") is not guessed at: the caller names the CRS, or says to take the image's
(``crs="image"``). Shapes are reprojected to the image's CRS, mapped through its
inverse transform (rotated and south-up ones too) to pixels, and cut at its edges;
what lies outside is counted and said (FORMATS_REAL.md 10).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import box

from ..store import LabelStore
from .registry import Format
from .safety import FormatError

CLASS_PROPERTIES = ("class", "label", "category", "class_name", "classname")
KINDS = {"Polygon": "polygon", "Point": "point", "LineString": "line"}


def read_vector(store: LabelStore, source: str | os.PathLike, *, image: str | None = None,
                class_property: str | None = None, crs: str | None = None,
                task: str | None = None, labeler: str = "imported",
                dataset: str | None = None, predictions: bool = False,
                model: str | None = None, score_property: str | None = None,
                progress: bool = True) -> list[str]:
    """Import the shapes of ``source`` as labels of ``task`` (default "<file> shapes").

    ``image``: an image file (added to the store, in ``dataset``) or the name or id of
    one already there; by default every georeferenced image of the store whose
    footprint a shape touches. ``class_property``: the property that names each shape's
    class (default the first of class, label, category, class_name present, else the
    file's name for all). ``crs``: the file's CRS where it gives none, or "image".
    ``predictions``: the shapes are a model's (``model``, default the file's name), each
    with its score in ``score_property`` (default "score"), kept as predictions.
    One transaction; returns the ids of the images labeled.
    """
    source = Path(source)
    shapes = read_shapes(source)
    classes = _classes(shapes, class_property, source)
    scores = _scores(shapes, score_property, source) if predictions else None
    predicted = []
    with store.transaction():
        targets = _targets(store, image, shapes, crs, dataset, source)
        kinds = {KINDS[t] for t in shape_types(shapes)}
        task = store.add_task(task or f"{source.stem} shapes",
                              type="instance_segmentation" if "polygon" in kinds else "detection",
                              classes=list(dict.fromkeys(classes)))
        labeled = []
        for image_id, target in targets.iterrows():
            whole, pixels = to_pixels(shapes, target, crs, source)
            inside = ~(shapely.is_empty(pixels) | shapely.is_missing(pixels))
            _say_what_is_outside(whole, inside, target)
            for k in np.flatnonzero(inside):
                for part in _parts(pixels[k]):
                    kind = KINDS[part.geom_type.removeprefix("Multi")]
                    if scores is not None:
                        predicted.append({"image_id": image_id, "value": classes[k],
                                          "kind": kind, "geometry": part, "score": scores[k]})
                    else:
                        store.annotate(image_id, part, classes[k], task=task,
                                       labeler=labeler, kind=kind)
            if inside.any():
                labeled.append(image_id)
        if predicted:
            store.add_predictions(pd.DataFrame(predicted), task=task,
                                  model=model or source.stem)
    return labeled


def _scores(shapes: gpd.GeoDataFrame, score_property: str | None, source: Path
            ) -> np.ndarray:
    """Each shape's score, from ``score_property`` (default "score"): 0 to 1, or none."""
    name = score_property or "score"
    if name not in shapes.columns:
        names = [c for c in shapes.columns if c != shapes.geometry.name]
        raise FormatError(f"{source}: predictions need each shape's score; no property "
                          f"{name!r} (the features have {', '.join(names[:20]) or 'none'}); "
                          "name it with --score-property")
    scores = pd.to_numeric(shapes[name], errors="coerce")
    wrong = ~(scores.isna() | scores.between(0, 1)) | (scores.isna() & shapes[name].notna())
    if wrong.any():
        k = int(wrong.to_numpy().argmax())
        raise FormatError(f"{source}: feature {k}'s {name} is {shapes[name].iloc[k]!r}, not a "
                          "score from 0 to 1")
    return scores.to_numpy(dtype=float)


def shape_types(shapes: gpd.GeoDataFrame) -> set[str]:
    types = set(shapes.geometry.geom_type.str.removeprefix("Multi"))
    unknown = types - set(KINDS)
    if unknown:
        raise FormatError(f"shapes of type {sorted(unknown)} are not labels the store keeps")
    return types


def read_shapes(source: Path) -> gpd.GeoDataFrame:
    """The file's features with a geometry (empty and null ones left out, and said)."""
    if not source.exists():
        raise FileNotFoundError(f"no vector file at {source}")
    try:
        if source.suffix.lower() in (".parquet", ".geoparquet"):
            shapes = gpd.read_parquet(source)
        else:
            shapes = gpd.read_file(source)
    except Exception as err:  # pyogrio, pyarrow and fiona raise many types
        raise FormatError(f"{source}: not a vector file GeoPandas can read ({err})") from None
    empty = shapes.geometry.isna() | shapes.geometry.is_empty
    if empty.any():
        warnings.warn(f"{source.name}: {int(empty.sum())} feature(s) with an empty or no "
                      "geometry left out", stacklevel=3)
    shapes = shapes[~empty].reset_index(drop=True)
    if not len(shapes):
        raise FormatError(f"{source}: no feature with a geometry")
    west, south, east, north = shapes.total_bounds
    if shapes.crs is not None and shapes.crs.is_geographic and not (
            -360 <= west and east <= 360 and -90 <= south and north <= 90):
        # a GeoJSON without a crs member is read as lon/lat (RFC 7946); these are not
        shapes = shapes.set_crs(None, allow_override=True)
    return shapes


def _classes(shapes: gpd.GeoDataFrame, class_property: str | None, source: Path) -> np.ndarray:
    if class_property is None:
        class_property = next((p for p in CLASS_PROPERTIES if p in shapes.columns), None)
        if class_property is None:
            return np.full(len(shapes), source.stem, dtype=object)
    if class_property not in shapes.columns:
        names = [c for c in shapes.columns if c != shapes.geometry.name]
        raise FormatError(f"{source}: no property {class_property!r}; the features have "
                          f"{', '.join(names[:20]) or 'none'}")
    values = shapes[class_property]
    if values.isna().any():
        k = int(values.isna().to_numpy().argmax())
        raise FormatError(f"{source}: feature {k} has no {class_property!r}")
    return values.astype(str).to_numpy(dtype=object)


def _targets(store: LabelStore, image, shapes, crs, dataset, source: Path) -> pd.DataFrame:
    images = store.images
    if image is not None:
        if Path(image).is_file():
            path = Path(image)
            [image_id] = store.add_images(path, dataset=dataset or path.absolute().parent.name,
                                          progress=False) or [None]
            if image_id is None:
                raise FormatError(store.last_ingest.summary())
            return store.images_of([image_id])
        found = images[(images.index == image) | (images["name"] == image)]
        if len(found) != 1:
            raise FormatError(f"{'no' if not len(found) else len(found)} images of the store "
                              f"named {image!r}; give its id or its file")
        return found
    if shapes.crs is None and crs in (None, "image"):
        raise FormatError(f"{source} says nothing of its CRS, so it cannot be matched to the "
                          "store's images: give --image, or --crs")
    lonlat = shapes.set_crs(shapes.crs or _crs(crs, source)).to_crs("EPSG:4326").union_all()
    under = images[images.geometry.notna() & images.geometry.intersects(lonlat)]
    if not len(under):
        raise FormatError(f"{source}: no image of the store lies under its shapes; "
                          "give --image")
    return under


def to_pixels(shapes: gpd.GeoDataFrame, image: pd.Series, crs, source: Path
              ) -> tuple[np.ndarray, np.ndarray]:
    """The shapes in the image's pixels, whole and cut at its edges (empty where wholly
    outside)."""
    if not image["crs"] or image["transform"] is None:
        raise FormatError(f"image {image['name']!r} has no georeference: map coordinates "
                          "cannot be put on its pixels")
    given = shapes.crs
    if given is None:
        if crs is None:
            raise FormatError(f"{source} says nothing of its CRS: give --crs (EPSG:n, WKT) or "
                              "--crs image to take the image's")
        given = image["crs"] if crs == "image" else _crs(crs, source)
    projected = shapes.geometry.set_crs(given, allow_override=True).to_crs(image["crs"])
    if not np.isfinite(shapely.get_coordinates(projected.to_numpy())).all():
        raise FormatError(f"{source}: its shapes do not map into the CRS of "
                          f"{image['name']!r}; are they in the CRS said ({CRS(given).name})?")
    inverse = ~Affine(*image["transform"][:6])
    a, b, c, d, e, f = tuple(inverse)[:6]
    pixels = shapely.transform(projected.to_numpy(), lambda xy: np.column_stack(
        [a * xy[:, 0] + b * xy[:, 1] + c, d * xy[:, 0] + e * xy[:, 1] + f]))
    pixels = shapely.make_valid(pixels)
    return pixels, shapely.intersection(pixels, _frame(image))


def _frame(image: pd.Series):
    return box(0, 0, image["width"], image["height"])


def _say_what_is_outside(whole: np.ndarray, inside: np.ndarray, image: pd.Series) -> None:
    outside = int((~inside).sum())
    cut = int((inside & ~shapely.covered_by(whole, _frame(image))).sum())
    if outside or cut:
        warnings.warn(f"{image['name']}: {outside} shape(s) lie outside the image and were "
                      f"left out, {cut} were cut at its edge", stacklevel=3)


def _parts(geometry) -> list:
    """A cut shape as the store's shapes: multi-part points and lines one by one, the
    polygons of a collection the cut made kept together."""
    if geometry.geom_type in ("Polygon", "MultiPolygon", "Point", "LineString"):
        return [geometry]
    parts = [p for p in shapely.get_parts(geometry) if not p.is_empty]
    polygons = [p for p in parts if p.geom_type == "Polygon"]
    if geometry.geom_type == "GeometryCollection" and polygons:
        return [shapely.MultiPolygon(polygons) if len(polygons) > 1 else polygons[0]]
    return [p for p in parts if p.geom_type in KINDS]


def _crs(crs: str, source: Path):
    try:
        return CRS.from_user_input(crs)
    except CRSError as err:
        raise FormatError(f"{source}: --crs {crs!r} is not a CRS ({err})") from None


FORMAT = Format("vector", read=read_vector,
                import_options=frozenset({"image", "class_property", "crs", "predictions",
                                          "model", "score_property"}))
