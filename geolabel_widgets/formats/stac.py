"""STAC catalogues: scenes to label in, and labels out with the label extension.

In, an Item, ItemCollection, Collection or Catalog (read with pystac) is an image
catalogue: an item's footprint is its geometry (rings closed where the file leaves
them open), its time its ``datetime``, and its image the asset chosen (``asset``, or
the first GeoTIFF / JPEG 2000 / PNG / JPEG asset that is not a thumbnail), a local
file or a URL whose header rasterio reads over HTTP (a few ranges, never the whole
file). Label items (``label:*``, FORMATS_REAL.md 9) put their GeoJSON asset's
shapes on their ``rel=source`` image as labels, classes from ``label:classes`` (a
raster label item: its GeoTIFF on the source's grid, as a mask); what
cannot be placed (a source no one can read here, a remote label asset) is said, item
by item, and the rest imported.

Out, a catalogue of one label item per labeled image (a GeoJSON asset in lon/lat, a
``rel=source`` link to the image's item, ``label:classes``, the task's kind, and
``ml-aoi:split`` where ``store.split`` made one) beside an item per image.
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

from ..store import LabelStore
from ..store.ingest import is_remote, path_of
from .atomic import whole_or_nothing
from .records import current_labels
from .registry import Format
from .safety import FormatError, folder_name
from .vector import read_shapes, read_vector

LABEL_EXTENSION = "https://stac-extensions.github.io/label/v1.0.1/schema.json"
ML_AOI_EXTENSION = "https://stac-extensions.github.io/ml-aoi/v0.2.0/schema.json"
PROJECTION_EXTENSION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
IMAGE_TYPES = ("image/tiff", "image/jp2", "image/png", "image/jpeg")
SPLITS = {"train": "train", "val": "validate", "test": "test"}  # ours -> ml-aoi's
TASK_KINDS = {"tag": "classification", "classification": "classification",
              "multilabel": "classification", "detection": "detection",
              "instance_segmentation": "segmentation",
              "semantic_segmentation": "segmentation"}
HTTP = dict(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", GDAL_HTTP_TIMEOUT="20",
            GDAL_HTTP_CONNECTTIMEOUT="10", GDAL_HTTP_MAX_RETRY="1")


def read_stac(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
              asset: str | None = None, class_property: str | None = None,
              task: str | None = None, labeler: str = "stac", remote: bool = True,
              progress: bool = True) -> list[str]:
    """Import a STAC file: its items' images (``remote=False``: URLs kept as catalogue
    rows, no header read), and its label items' shapes as labels of ``task`` (default
    "<collection> <property>"), the class the item's ``class_property`` (default its
    first ``label:properties`` with classes). Returns the image ids."""
    import pystac

    source = Path(source)
    items = _items(pystac, source)
    labels, images = [], []
    for item in items:
        is_label = LABEL_EXTENSION in item.stac_extensions or any(
            k.startswith("label:") for k in item.properties)
        (labels if is_label else images).append(item)
    rows, placed = {}, {}  # image key -> catalogue row; label item id -> image key
    not_placed = []
    for item in images:
        try:
            rows.setdefault(*_image_row(item, asset, remote))
        except FormatError as err:  # an item of metadata only: said, the rest read
            not_placed.append(str(err))
    for item in labels:
        try:
            key, row = _source_row(pystac, item, asset, remote)
        except FormatError as err:
            not_placed.append(f"{item.id}: {err}")
            continue
        rows.setdefault(key, row)
        placed[item.id] = key
    if not rows:
        raise FormatError(f"{source}: no item with an image asset or a source image")
    frame = pd.DataFrame(list(rows.values()))
    with store.transaction():
        ids = store.add_images(frame.drop(columns=["key"]), dataset=dataset or _name(items),
                               progress=progress)
        by_key = dict(zip(frame["key"], store.last_ingest.row_ids))
        for item in labels:
            if item.id not in placed:
                continue
            why = _put_labels(store, item, by_key[placed[item.id]], class_property, task,
                              labeler)
            if why:
                not_placed.append(f"{item.id}: {why}")
    if not_placed:
        warnings.warn(f"{source}: {len(not_placed)} item(s) not imported whole: " +
                      "; ".join(not_placed), stacklevel=2)
    return list(ids)


def _items(pystac, source: Path) -> list:
    try:
        document = json.loads(source.read_text())
    except (OSError, ValueError) as err:
        raise FormatError(f"{source}: not a STAC JSON file ({err})") from None
    try:
        if isinstance(document, dict) and document.get("type") == "FeatureCollection":
            return list(pystac.ItemCollection.from_dict(document, preserve_dict=False))
        found = pystac.read_file(str(source))
        if isinstance(found, pystac.Item):
            return [found]
        return list(found.get_items(recursive=True))
    except Exception as err:  # pystac raises many types for a bad or unreachable file
        raise FormatError(f"{source}: not a STAC catalogue pystac can read "
                          f"({type(err).__name__}: {err})") from None


def _image_row(item, asset: str | None, remote: bool) -> tuple[str, dict]:
    chosen = _image_asset(item, asset)
    if chosen is None:
        raise FormatError(f"item {item.id}: no image asset (give asset=, one of "
                          f"{', '.join(item.assets) or 'none'})")
    href = chosen.get_absolute_href()
    return href, _row(href, f"{item.id}{_suffix(href)}", item, remote)


def _row(href: str, name: str, item, remote: bool) -> dict:
    """A catalogue row for ``store.add_images``: the image at ``href``, placed and
    timed by ``item``; a remote one's header read (or why not, in ``props``)."""
    props = {"stac_item": item.id, "stac_collection": item.collection_id}
    row = {"key": href, "path": href, "name": name,
           "datetime": item.datetime or item.properties.get("start_datetime"),
           "geometry": shape(item.geometry) if item.geometry else None, "props": props,
           **_grid(item)}
    if remote and is_remote(href) and "transform" not in row:
        header = _remote_header(href)
        if "unread" in header:
            props["unread"] = header.pop("unread")
        row.update(header)
    return row


def _image_asset(item, asset: str | None):
    if asset is not None:
        return item.assets.get(asset)
    for key, candidate in item.assets.items():
        roles = candidate.roles or []
        if "thumbnail" in roles or key == "thumbnail":
            continue
        kind = (candidate.media_type or "").lower()
        if kind.startswith(IMAGE_TYPES) or _suffix(candidate.href) in (
                ".tif", ".tiff", ".jp2", ".png", ".jpg", ".jpeg"):
            return candidate
    return None


def _suffix(href: str) -> str:
    return Path(href.split("?", 1)[0]).suffix.lower()


def _grid(item) -> dict:
    """The image's pixel grid from the projection extension, where the item gives it
    whole (``proj:transform``, ``proj:shape``, and ``proj:wkt2`` or a code)."""
    p = item.properties
    crs = p.get("proj:wkt2") or p.get("proj:code") or (
        f"EPSG:{p['proj:epsg']}" if p.get("proj:epsg") else None)
    transform, size = p.get("proj:transform"), p.get("proj:shape")
    if not (crs and isinstance(transform, list) and len(transform) in (6, 9)
            and isinstance(size, list) and len(size) == 2):
        return {}
    return {"crs": crs, "transform": tuple(float(v) for v in transform[:6]),
            "height": int(size[0]), "width": int(size[1])}


def _remote_header(url: str) -> dict:
    """An image's size and georeference read over HTTP (its header only); {} if no
    server answers, so that it stays a catalogue row."""
    import rasterio

    try:
        with rasterio.Env(**HTTP), rasterio.open(url) as src:
            return {"width": src.width, "height": src.height, "bands": src.count,
                    "dtype": src.dtypes[0], "transform": tuple(src.transform)[:6],
                    "crs": src.crs.to_wkt() if src.crs else None}
    except Exception as err:  # rasterio's errors for a refused, missing or odd file
        return {"unread": str(err).splitlines()[0][:200]}


def _source_row(pystac, item, asset: str | None, remote: bool) -> tuple[str, dict]:
    """The image a label item's shapes lie on: its ``rel=source`` item's image, or the
    image file the link names."""
    link = next((l for l in item.links if l.rel == "source"), None)
    if link is None:
        raise FormatError("no rel=source link to the image it labels")
    href = link.get_absolute_href()
    if _suffix(href) == ".json":
        try:
            source = pystac.read_file(href)
        except Exception as err:
            raise FormatError(f"its source item {href} cannot be read ({err})") from None
        return _image_row(source, asset, remote)
    return href, _row(href, Path(href.split("?")[0]).name, item, remote)


def _put_labels(store: LabelStore, item, image_id: str | None, class_property, task,
                labeler) -> str | None:
    """Put a label item's shapes (or raster) on its image; why not, if they cannot be."""
    if item.properties.get("label:type") == "raster":
        return _put_raster(store, item, image_id, task, labeler)
    assets = [a for a in item.assets.values() if (a.media_type or "").startswith(
        "application/geo+json") or _suffix(a.href) == ".geojson"]
    if not assets:
        return "no GeoJSON label asset"
    href = assets[0].get_absolute_href()
    if is_remote(href):
        return f"its labels are at {href}, not a file here: download it first"
    if image_id is None:
        return "its source image could not be added (store.last_ingest says why)"
    image = store.image(image_id)
    if image["transform"] is None:
        why = (image["props"] or {}).get("unread") or (
            "its header is not read with remote=False" if is_remote(image["uri"]) else
            "neither the file nor the item (proj:transform) says where its pixels lie")
        return f"its source image {image['uri']} has no known pixel grid ({why})"
    classes = {c.get("name"): [str(v) for v in c.get("classes", [])]
               for c in item.properties.get("label:classes") or [] if isinstance(c, dict)}
    prop = class_property or next((p for p in item.properties.get("label:properties") or []
                                   if p in classes), None)
    title = task or f"{item.collection_id or item.id} {prop or 'labels'}"
    kinds = set(read_shapes(Path(href)).geometry.geom_type.str.removeprefix("Multi"))
    store.add_task(title, type="instance_segmentation" if "Polygon" in kinds else "detection",
                   classes=classes.get(prop) or [item.id])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # cut at the edge: as the file is
        read_vector(store, href, image=image_id, class_property=prop, task=title,
                    labeler=labeler, progress=False)
    return None


def _put_raster(store: LabelStore, item, image_id: str | None, task, labeler) -> str | None:
    """A raster label item: its GeoTIFF of class values, on its source image's grid, as
    a mask (``label:classes`` name the values; nodata is "unlabeled")."""
    import rasterio

    assets = [a for a in item.assets.values() if (a.media_type or "").startswith(
        "image/tiff") or _suffix(a.href) in (".tif", ".tiff")]
    if not assets:
        return "a raster label item with no GeoTIFF asset"
    href = assets[0].get_absolute_href()
    if is_remote(href):
        return f"its labels are at {href}, not a file here: download it first"
    image = store.image(image_id) if image_id else None
    if image is None or image["transform"] is None:
        return "its source image has no known pixel grid"
    with rasterio.open(href) as src:
        same = (src.width, src.height) == (image["width"], image["height"]) and \
            tuple(src.transform)[:6] == tuple(image["transform"])[:6] and src.crs is not None \
            and src.crs == rasterio.crs.CRS.from_user_input(image["crs"])
        if not same:
            return (f"its raster {Path(href).name} is not on its source image's grid "
                    f"({src.width} x {src.height}, {src.transform[:6]} against "
                    f"{image['width']} x {image['height']}, {tuple(image['transform'])[:6]})")
        values, nodata = src.read(1), src.nodata
    named = [str(v) for c in item.properties.get("label:classes") or [] if isinstance(c, dict)
             for v in c.get("classes", [])]
    found = [v for v in np.unique(values) if nodata is None or v != nodata]
    names = list(dict.fromkeys([*named, *(_value_name(v) for v in found)]))
    index = np.full(values.shape, len(names), np.int32)  # nodata: "unlabeled", last
    for v in found:
        index[values == v] = names.index(_value_name(v))
    if (index == len(names)).any():
        names.append("unlabeled")
    title = task or f"{item.collection_id or item.id} classes"
    store.add_task(title, type="semantic_segmentation", classes=names)
    store.add_mask(image_id, index.astype(np.uint8 if len(names) <= 256 else np.int32),
                   task=title, labeler=labeler, classes=names)
    return None


def _value_name(value) -> str:
    """A raster's class value as label:classes writes it: 3, not 3.0."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _name(items: list) -> str:
    return next((i.collection_id for i in items if i.collection_id), None) or "stac"


@whole_or_nothing
def write_stac(store: LabelStore, dest: str | os.PathLike, *, task: str) -> dict:
    """``task``'s labels as a STAC catalogue in the folder ``dest``: ``images`` (an
    item per image on the Earth, its file as the ``image`` asset) and ``labels`` (a
    label item per labeled image, its shapes a GeoJSON asset in lon/lat with a
    ``class`` property, ``rel=source`` to the image's item). Images with no place on
    the Earth are left out, and said. Returns {"images": n, "labels": n}."""
    import pystac

    dest = Path(dest)
    kind = store.tasks.loc[task, "type"]
    classes = list(store.classes(task))
    labels = current_labels(store, task)
    splits = store.splits(task)
    placed = labels[labels["footprint"].notna()]
    if len(placed) < len(labels):
        warnings.warn(f"{labels.loc[labels['footprint'].isna(), 'image_id'].nunique()} "
                      "image(s) with no place on the Earth left out", stacklevel=3)
    catalog = pystac.Catalog(id=folder_name(task), description=f"{task} (geolabel_widgets)")
    images = pystac.Collection(id="images", description="the images labeled",
                               extent=_extent(placed), license="other")
    labelled = pystac.Collection(id="labels", description=f"labels of {task}",
                                 extent=_extent(placed), license="other")
    catalog.add_children([images, labelled])
    features = {}  # label item id -> its GeoJSON features
    for image_id, rows in placed.groupby("image_id", sort=True):
        first = rows.iloc[0]
        footprint = shapely.from_wkb(first["footprint"]) if isinstance(
            first["footprint"], bytes) else first["footprint"]
        when = _when(store.image(image_id))  # acquired, else added
        name = folder_name(Path(first["image_name"]).stem) + f"-{image_id[:8]}"
        source = pystac.Item(id=name, geometry=mapping(footprint), bbox=list(footprint.bounds),
                             datetime=when, properties={"geolabel:image_id": image_id})
        path = path_of(first["uri"])
        image = store.image(image_id)
        if image["crs"] and image["transform"]:  # the grid the labels' pixels are on
            source.properties.update({"proj:wkt2": image["crs"],
                                      "proj:transform": list(image["transform"])[:6],
                                      "proj:shape": [image["height"], image["width"]]})
            source.stac_extensions.append(PROJECTION_EXTENSION)
        source.add_asset("image", pystac.Asset(
            href=str(path.resolve()) if path is not None else first["uri"], roles=["data"],
            media_type=_media_type(first["uri"])))
        images.add_item(source)
        label = pystac.Item(id=f"{name}-labels", geometry=mapping(footprint),
                            bbox=list(footprint.bounds), datetime=when, properties={
                                "label:properties": ["class"],
                                "label:description": f"{task}: {kind}",
                                "label:type": "vector",
                                "label:classes": [{"name": "class", "classes": classes}],
                                "label:tasks": [TASK_KINDS.get(kind, kind)],
                                "label:methods": ["manual"],
                                "label:overviews": [{"property_key": "class", "counts": [
                                    {"name": c, "count": int((rows["value"] == c).sum())}
                                    for c in classes]}]},
                            stac_extensions=[LABEL_EXTENSION])
        if isinstance(splits.get(image_id), str):
            label.properties["ml-aoi:split"] = SPLITS[splits[image_id]]
            label.stac_extensions.append(ML_AOI_EXTENSION)
        label.add_link(pystac.Link("source", source, media_type="application/json",
                                   extra_fields={"label:assets": ["image"]}))
        label.add_asset("labels", pystac.Asset(href=f"./{name}-labels.geojson",
                                               media_type="application/geo+json",
                                               roles=["labels"]))
        labelled.add_item(label)
        features[label.id] = _features(rows, footprint)
    catalog.normalize_hrefs(str(dest))  # image assets keep absolute paths: the files stay put
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    for label in labelled.get_items():  # each label item's asset, beside it
        Path(label.get_self_href()).with_name(f"{label.id}.geojson").write_text(json.dumps(
            {"type": "FeatureCollection", "features": features[label.id]}))
    return {"images": len(list(images.get_items())), "labels": len(features)}


def _features(rows: pd.DataFrame, footprint) -> list[dict]:
    """A label item's GeoJSON features: shapes where they lie, a tag on the footprint."""
    features = []
    for row in rows.itertuples():
        world = row.world_geometry if row.kind != "tag" else footprint
        if isinstance(world, bytes):
            world = shapely.from_wkb(world)
        if world is None:
            continue
        features.append({"type": "Feature", "geometry": mapping(world),
                         "properties": {"class": row.value, "kind": row.kind,
                                        "labeler": row.labeler}})
    return features


def _extent(labels: pd.DataFrame):
    import pystac

    bounds = [0.0, 0.0, 0.0, 0.0]
    footprints = [shapely.from_wkb(f) if isinstance(f, bytes) else f
                  for f in labels["footprint"]]
    if footprints:
        bounds = list(shapely.total_bounds(footprints))
    return pystac.Extent(pystac.SpatialExtent([bounds]),
                         pystac.TemporalExtent([[datetime.now(timezone.utc), None]]))


def _when(image: dict) -> datetime:
    seconds = image.get("acquired_at") or image.get("added_at")
    return datetime.fromtimestamp(seconds, timezone.utc)


def _media_type(uri: str) -> str:
    return {".tif": "image/tiff; application=geotiff", ".tiff": "image/tiff; application=geotiff",
            ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
            ".jp2": "image/jp2"}.get(_suffix(uri), "application/octet-stream")


FORMAT = Format("stac", read=read_stac, write=write_stac,
                import_options=frozenset({"class_property"}))
