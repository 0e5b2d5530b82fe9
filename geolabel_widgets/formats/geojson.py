"""Labels as GeoJSON: one feature per annotation, in longitude and latitude.

A shape's feature geometry is its world geometry; a tag's is its image's footprint;
an image without georeference gives a feature without geometry. Every feature also
carries what a round trip needs: its image (name, file, size, dataset), task, labeler,
class, status and its geometry in image pixels (``pixel_wkt``). Raster labels (masks,
doodles) are not vector data and stay out; the writer says how many.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ..store import LabelStore
from .atomic import whole_or_nothing
from .records import (RASTER_KINDS, Parsed, bare_statuses, current_labels,
                      write_records)
from .registry import Format
from .safety import FormatError, read_json

PROPERTIES = ["image", "image_uri", "image_width", "image_height", "dataset", "task",
              "task_type", "task_classes", "labeler", "kind", "class", "status", "pixel_wkt",
              "props", "created_at"]
REQUIRED = ["image_uri", "image_width", "image_height", "task", "labeler", "kind", "class"]


def labels_frame(store: LabelStore, task: str | None = None) -> gpd.GeoDataFrame:
    """The store's current vector labels as a GeoDataFrame in EPSG:4326."""
    labels = current_labels(store, task)
    _warn_left_out(store, task)
    labels = pd.concat([labels, bare_statuses(store, labels, task)], ignore_index=True)
    whole_image = labels["footprint"].where(labels["kind"].isin(["tag", "status"]))
    world = labels["world_geometry"].where(labels["world_geometry"].notna(), whole_image)
    pixel = [None if g is None else shapely.to_wkt(g, rounding_precision=-1)
             for g in labels["geometry"]]
    frame = pd.DataFrame({
        "image": labels["image_name"], "image_uri": labels["uri"],
        "image_width": labels["width"], "image_height": labels["height"],
        "dataset": labels["dataset"], "task": labels["task"], "task_type": labels["task_type"],
        "task_classes": labels["task"].map(
            {t: json.dumps(store.classes(t)) for t in labels["task"].unique()}),
        "labeler": labels["labeler"], "kind": labels["kind"], "class": labels["value"],
        "status": labels["status"], "pixel_wkt": pixel,
        "props": [None if p is None else json.dumps(p) for p in labels["props"]],
        "created_at": labels["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    })
    return gpd.GeoDataFrame(frame[PROPERTIES],
                            geometry=gpd.GeoSeries(list(world), crs="EPSG:4326"))


@whole_or_nothing
def write_geojson(store: LabelStore, dest: str | os.PathLike, *, task: str | None = None
                  ) -> gpd.GeoDataFrame:
    frame = labels_frame(store, task)
    Path(dest).write_text(frame.to_json(na="null", drop_id=True))
    return frame


def read_geojson(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
                 progress: bool = True) -> list[str]:
    data = read_json(source)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or \
            not isinstance(data.get("features"), list):
        raise FormatError(f"{source}: not a GeoJSON FeatureCollection")
    try:
        frame = gpd.GeoDataFrame.from_features(data["features"], crs="EPSG:4326")
    except (ValueError, TypeError, AttributeError, KeyError,
            shapely.errors.GEOSException) as err:
        raise FormatError(f"{source}: a feature is malformed ({err})") from None
    return write_records(store, parse_geojson(frame, source), dataset=dataset,
                         progress=progress)


def parse_geojson(frame: pd.DataFrame, source) -> Parsed:
    """Features (as written above) to records; every problem names the feature."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise FormatError(f"{source}: the features lack the properties {missing} of this "
                          "package's own export; plain vector labels import as 'vector' "
                          "(with --image and --class-property)")
    frame = frame.reset_index(drop=True)
    for column in PROPERTIES:
        if column not in frame.columns:
            continue
        kind = (int, float) if column in ("image_width", "image_height") else str
        optional = column not in REQUIRED or column == "class"
        good = frame[column].map(lambda v: isinstance(v, kind) and not isinstance(v, bool)
                                 or (optional and (v is None or v != v)))
        if column == "props":
            good |= frame[column].map(lambda v: isinstance(v, dict))
        if not good.all():
            k = int((~good).idxmax())
            raise FormatError(f"{source}: feature {k} has {column} {frame[column][k]!r:.60}, "
                              f"not {'text' if kind is str else 'a number'}")
    if "dataset" not in frame.columns:
        frame["dataset"] = Path(str(source)).stem
    images = frame.drop_duplicates("image_uri").set_index("image_uri", drop=False)
    try:
        images = pd.DataFrame({
            "uri": images["image_uri"].astype(str),
            "name": images["image"] if "image" in images.columns else None,
            "width": images["image_width"].astype("int64"),
            "height": images["image_height"].astype("int64"),
            "dataset": images["dataset"].fillna(Path(str(source)).stem).astype(str),
        })
    except (ValueError, TypeError) as err:
        raise FormatError(f"{source}: an image size is not a whole number ({err})") from None
    tasks = {}
    for title, rows in frame.groupby("task", sort=False):
        kind = rows["task_type"].dropna() if "task_type" in rows.columns else pd.Series()
        classes = [str(c) for c in rows["class"].dropna().unique()]
        if "task_classes" in rows.columns and isinstance(rows["task_classes"].iloc[0], str):
            classes = _class_list(rows["task_classes"].iloc[0], title, source) + classes
        tasks[str(title)] = {"type": kind.iloc[0] if len(kind) else "tag",
                             "classes": list(dict.fromkeys(classes))}
    labelled = frame[frame["kind"] != "status"]
    labels = pd.DataFrame({
        "image": labelled["image_uri"], "task": labelled["task"].astype(str),
        "labeler": labelled["labeler"].astype(str), "kind": labelled["kind"].astype(str),
        "value": labelled["class"],
        "geometry": [_pixels(row, k, source) for k, row in labelled.iterrows()],
        "props": [_props(row.get("props"), k, source) for k, row in labelled.iterrows()],
    })
    statuses = pd.DataFrame(columns=["image", "task", "labeler", "status"])
    if "status" in frame.columns:
        statuses = frame.dropna(subset=["status"]).drop_duplicates(
            ["image_uri", "task", "labeler"])[["image_uri", "task", "labeler", "status"]] \
            .rename(columns={"image_uri": "image"})
    return Parsed(images=images, tasks=tasks, labels=labels, statuses=statuses)


def _pixels(row, k: int, source):
    if row["kind"] == "tag":
        return None
    text = row.get("pixel_wkt")
    if not isinstance(text, str):
        raise FormatError(f"{source}: feature {k} ({row['kind']}) has no pixel_wkt")
    try:
        return shapely.from_wkt(text)
    except shapely.errors.GEOSException as err:
        raise FormatError(f"{source}: feature {k} has a malformed pixel_wkt ({err})") from None


def _class_list(text: str, task, source) -> list[str]:
    try:
        classes = json.loads(text)
    except ValueError:
        classes = None
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise FormatError(f"{source}: task {task!r} has task_classes that are not a JSON list "
                          "of names")
    return classes


def _props(value, k: int, source):
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        raise FormatError(f"{source}: feature {k} has props that are not JSON") from None
    if not isinstance(parsed, dict):
        raise FormatError(f"{source}: feature {k} has props that are not an object")
    return parsed


def _warn_left_out(store: LabelStore, task: str | None) -> None:
    rasters = len(store.get_annotations(task=task, kinds=list(RASTER_KINDS)))
    if rasters:
        warnings.warn(f"{rasters} raster label(s) (masks, doodles) are not vector data and "
                      "were left out; export them as coasttrain", stacklevel=3)


FORMAT = Format("geojson", read=read_geojson, write=write_geojson, parse=parse_geojson,
                exports="any tasks")
