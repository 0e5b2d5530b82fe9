"""Cutting a large georeferenced raster into chips, one window at a time.

A scene (a local GeoTIFF, a cloud-optimized GeoTIFF by URL, anything GDAL
reads) is never read whole: each chip's window is read, checked for data and
written as a small GeoTIFF with its own transform, so memory stays at a few
chips whatever the scene's size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import rasterio
import rasterio.errors
from rasterio.warp import transform_geom
from rasterio.windows import Window, bounds as window_bounds
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry
from tqdm.auto import tqdm

from .header import ImageHeader, UnreadableImage

CACHE_MB = 64


@dataclass
class ChipReport:
    """What a cut found: the chip files written (with their headers, known without
    reading them again), and the windows left out."""

    paths: list[Path] = field(default_factory=list)
    windows: list[tuple[int, int, int, int]] = field(default_factory=list)  # col, row, w, h
    headers: list[ImageHeader] = field(default_factory=list)
    nodata_only: int = 0
    outside_region: int = 0


def offsets(length: int, size: int, overlap: int) -> list[int]:
    """Chip starts along one axis: a regular stride, the last chip flush with the edge."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"chip size must be positive and overlap in 0..size-1, got size "
                         f"{size}, overlap {overlap}")
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, size - overlap))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def cut_chips(scene: str | os.PathLike, folder: str | os.PathLike, *, size: int = 512,
              overlap: int = 0, region: BaseGeometry | dict | None = None,
              progress: bool = True) -> ChipReport:
    """Write the chips of ``scene`` inside ``region`` (lon/lat) as GeoTIFFs in ``folder``.

    Chips whose pixels are all nodata (by the scene's nodata value or mask) are skipped.
    """
    folder = Path(folder)
    report = ChipReport()
    # GDAL's block cache would otherwise grow to 5 % of RAM while we stream through
    # a scene whose blocks are each read once.
    with rasterio.Env(GDAL_CACHEMAX=CACHE_MB), _open(scene) as src:
        if src.crs is None or src.transform.is_identity:
            raise ValueError(f"{scene} is not georeferenced (no CRS or transform); chips "
                             "need one to know where they lie")
        area = None
        if region is not None:
            geometry = region if isinstance(region, dict) else mapping(region)
            area = shape(transform_geom("EPSG:4326", src.crs, geometry))
        windows = [Window(col, row, min(size, src.width), min(size, src.height))
                   for row in offsets(src.height, size, overlap)
                   for col in offsets(src.width, size, overlap)]
        profile = {**src.profile, "driver": "GTiff", "compress": "deflate", "tiled": False}
        for key in ("blockxsize", "blockysize", "interleave"):
            profile.pop(key, None)
        if str(profile.get("photometric", "")).lower() == "ycbcr":
            profile["photometric"] = "rgb"  # YCbCr goes with JPEG only; GDAL read it as RGB
        crs = src.crs.to_wkt()
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(str(scene)).stem
        for window in tqdm(windows, desc=f"Chipping {stem}", unit="chip", disable=not progress):
            if area is not None and not box(*window_bounds(window, src.transform)).intersects(area):
                report.outside_region += 1
                continue
            if not src.dataset_mask(window=window).any():
                report.nodata_only += 1
                continue
            data = src.read(window=window)
            path = folder / f"{stem}_r{window.row_off:06d}_c{window.col_off:06d}.tif"
            partial = path.with_suffix(".part")
            transform = src.window_transform(window)
            with rasterio.open(partial, "w", **{**profile, "width": window.width,
                                                 "height": window.height,
                                                 "transform": transform}) as out:
                out.write(data)
            partial.replace(path)  # a killed run never leaves a half chip under its name
            report.paths.append(path)
            report.windows.append((int(window.col_off), int(window.row_off),
                                   int(window.width), int(window.height)))
            report.headers.append(ImageHeader(int(window.width), int(window.height), src.count,
                                              src.dtypes[0], crs, tuple(transform)[:6]))
    return report


def _open(scene):
    try:
        return rasterio.open(scene)
    except rasterio.errors.RasterioIOError as err:
        raise UnreadableImage(scene, f"not a raster GDAL can read ({err})") from None
