"""A training set as torchgeo's RasterDataset and VectorDataset read one: georeferenced.

``masks/`` holds each current mask as a cloud-optimised GeoTIFF on its image's own
grid (CRS and transform), one band of class indices in the task's class order with
the task's colours as its colormap and 255 where nothing is labeled;
``labels.parquet`` each shape in lon/lat with its class name and an integer
``class_id`` beside it (torchgeo rasterises by an integer column);
``labeled_area.parquet`` the footprint of every image whose labels are complete
(a mask, or a labeler's "labeled" / "reviewed"), the area where no label means no
object; ``classes.json`` the indices, names and colours.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.shutil
import shapely
from matplotlib.colors import to_rgb
from rasterio.io import MemoryFile

from ..store import LabelStore
from .atomic import whole_or_nothing
from .records import current_labels, current_masks, images_with_status
from .registry import Format

UNLABELED = 255  # a mask pixel with no class: torchgeo's ignore index
DONE = ("labeled", "reviewed")
EXPORTED_SHAPES = ("box", "rotated_box", "polygon", "point", "line")


@whole_or_nothing
def write_torchgeo(store: LabelStore, dest: str | os.PathLike, *, task: str,
                   progress: bool = True) -> dict:
    """``task`` as ``dest/masks/*.tif``, ``labels.parquet``, ``labeled_area.parquet``
    and ``classes.json`` (see the module). Images with no place on the Earth are left
    out, and said. Returns how many of each were written."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    classes = list(store.classes(task))
    colors = store.class_colors(task)
    images = store.images
    masks, unplaced = 0, set()
    done = set()
    for item, stem, mask, names in current_masks(store, task, progress):
        image = images.loc[item.image_id]
        if not image["crs"] or image["transform"] is None:
            unplaced.add(item.image_id)
            continue
        index = np.asarray([classes.index(n) if n in classes else UNLABELED for n in names],
                           np.uint8)[mask]
        (dest / "masks").mkdir(exist_ok=True)
        _write_cog(dest / "masks" / f"{stem}.tif", index, image, classes, colors)
        masks += 1
        done.add(item.image_id)
    shapes = current_labels(store, task, kinds=EXPORTED_SHAPES)
    unplaced |= set(shapes.loc[shapes["world_geometry"].isna(), "image_id"])
    shapes = shapes[shapes["world_geometry"].notna()]
    frame = gpd.GeoDataFrame({
        "image": shapes["image_name"], "image_id": shapes["image_id"],
        "labeler": shapes["labeler"], "kind": shapes["kind"], "class": shapes["value"],
        "class_id": [classes.index(v) for v in shapes["value"]]},
        geometry=_geometries(shapes["world_geometry"]), crs="EPSG:4326")
    frame.to_parquet(dest / "labels.parquet")
    done |= set(images_with_status(store, task, DONE))
    area = images.loc[sorted(i for i in done if i in images.index)]
    area = area[area.geometry.notna()]
    gpd.GeoDataFrame({"image": area["name"], "image_id": area.index},
                     geometry=area.geometry.to_numpy(), crs="EPSG:4326"
                     ).to_parquet(dest / "labeled_area.parquet")
    (dest / "classes.json").write_text(json.dumps(
        {"classes": [{"id": k, "name": c, "color": colors.get(c)}
                     for k, c in enumerate(classes)], "ignore_index": UNLABELED}, indent=1))
    if unplaced:
        warnings.warn(f"{len(unplaced)} image(s) with no place on the Earth left out",
                      stacklevel=3)
    return {"masks": masks, "shapes": len(frame), "labeled_areas": len(area)}


def _write_cog(path: Path, index: np.ndarray, image: pd.Series, classes: list[str],
               colors: dict[str, str]) -> None:
    """One band of class indices on the image's grid, as a COG with a colormap."""
    profile = dict(driver="GTiff", width=index.shape[1], height=index.shape[0], count=1,
                   dtype="uint8", crs=image["crs"], nodata=UNLABELED,
                   transform=rasterio.Affine(*image["transform"][:6]))
    colormap = {k: tuple(int(255 * v) for v in to_rgb(colors.get(c, "#000000"))) + (255,)
                for k, c in enumerate(classes)}
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(index, 1)
            dst.write_colormap(1, colormap)
        with memory.open() as src:
            rasterio.shutil.copy(src, path, driver="COG", compress="deflate")


def _geometries(column: pd.Series):
    return [shapely.from_wkb(g) if isinstance(g, bytes) else g for g in column]


FORMAT = Format("torchgeo", write=write_torchgeo)
