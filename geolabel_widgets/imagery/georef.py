"""Pixel <-> lon/lat for georeferenced images, and their footprints."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

Transform = Sequence[float]  # affine a, b, c, d, e, f (rasterio order)


@lru_cache(maxsize=256)
def _to_lonlat(crs: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(crs), "EPSG:4326", always_xy=True)


@lru_cache(maxsize=256)
def _from_lonlat(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:4326", CRS.from_user_input(crs), always_xy=True)


def crs_wkt(crs) -> str:
    """Any CRS a user may pass (EPSG code, 'EPSG:n', WKT, pyproj CRS) as WKT."""
    if isinstance(crs, int):
        crs = f"EPSG:{crs}"
    return CRS.from_user_input(crs).to_wkt()


def pixel_to_lonlat(geometry: BaseGeometry, crs: str, transform: Transform) -> BaseGeometry:
    """A geometry in image pixels (x right, y down) mapped to EPSG:4326."""
    affine = Affine(*transform[:6])
    projected = shapely.transform(geometry, lambda xy: _apply(affine, xy))
    to_lonlat = _to_lonlat(crs)
    return shapely.transform(projected, lambda xy: _stack(*to_lonlat.transform(xy[:, 0], xy[:, 1])))


def lonlat_to_pixel(geometry: BaseGeometry, crs: str, transform: Transform) -> BaseGeometry:
    inverse = ~Affine(*transform[:6])
    from_lonlat = _from_lonlat(crs)
    projected = shapely.transform(
        geometry, lambda xy: _stack(*from_lonlat.transform(xy[:, 0], xy[:, 1]))
    )
    return shapely.transform(projected, lambda xy: _apply(inverse, xy))


def footprint(crs: str, transform: Transform, width: int, height: int) -> BaseGeometry:
    """The image's outline in EPSG:4326, densified so that curved edges stay true."""
    outline = box(0, 0, width, height).segmentize(max(width, height) / 8)
    return pixel_to_lonlat(outline, crs, transform)


def _apply(affine: Affine, xy):
    a, b, c, d, e, f = tuple(affine)[:6]
    x, y = xy[:, 0], xy[:, 1]
    return _stack(a * x + b * y + c, d * x + e * y + f)


def _stack(x, y):
    return np.column_stack([x, y])
