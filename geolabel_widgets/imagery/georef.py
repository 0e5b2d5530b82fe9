"""Pixel <-> lon/lat for georeferenced images, and their footprints."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, box
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
    return _wkt(crs) if isinstance(crs, str) else CRS.from_user_input(crs).to_wkt()


@lru_cache(maxsize=256)
def _wkt(crs: str) -> str:  # a catalogue names the same few CRSs on every row
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


class NoFootprint(ValueError):
    """An image whose outline has no place on the Earth's map; the message says why."""


def footprint(crs: str, transform: Transform, width: int, height: int) -> BaseGeometry:
    """The image's outline in EPSG:4326, densified so that curved edges stay true, in
    two parts where it crosses the antimeridian. Raises ``NoFootprint`` for a CRS of
    another planet, or an outline off the Earth (a geostationary full disk)."""
    if not np.isfinite(np.asarray(transform[:6], dtype=float)).all():
        raise NoFootprint(f"its geotransform holds numbers that are not finite "
                          f"({list(transform[:6])})")
    outline = box(0, 0, width, height).segmentize(max(width, height) / 8)
    try:
        lonlat = pixel_to_lonlat(outline, crs, transform)
    except ProjError as err:
        if "celestial body" in str(err):
            body = re.search(r"\((\w+) vs Earth\)", str(err))
            raise NoFootprint(f"its CRS is of {body.group(1) if body else 'another body'}, "
                              "not the Earth") from None
        if CRS.from_user_input(crs).is_engineering:
            raise NoFootprint("its CRS is a local one (LOCAL_CS, an engineering CRS), tied "
                              "to no place on the Earth") from None
        raise NoFootprint(f"its CRS cannot be mapped to longitude and latitude ({err})") \
            from None
    except CRSError as err:
        raise NoFootprint(f"its CRS cannot be read ({err})") from None
    if not np.isfinite(shapely.get_coordinates(lonlat)).all():
        raise NoFootprint("its corners lie off the Earth's disk (a geostationary full disk?)")
    return _split_at_antimeridian(lonlat)


def centre(footprint: BaseGeometry) -> tuple[float, float]:
    """(lon, lat) of a footprint's centroid; one split at the antimeridian is taken
    whole first, so that its centre is by 180 degrees, not on the prime meridian."""
    west, _, east, _ = footprint.bounds
    if footprint.geom_type == "MultiPolygon" and west <= -180 + 1e-9 and east >= 180 - 1e-9:
        shifted = shapely.transform(footprint, lambda xy: np.column_stack(
            [np.where(xy[:, 0] < 0, xy[:, 0] + 360, xy[:, 0]), xy[:, 1]]))
        point = shifted.centroid
        return (point.x - 360 if point.x > 180 else point.x), point.y
    point = footprint.centroid
    return point.x, point.y


def _split_at_antimeridian(outline: BaseGeometry) -> BaseGeometry:
    """An outline whose longitude jumps by more than 180 degrees from one vertex to the
    next crosses +-180: shifted east to be whole, then cut there into a part on each
    side. (An image of the whole world spans 360 degrees without a jump.)"""
    lons = shapely.get_coordinates(outline)[:, 0]
    if not (np.abs(np.diff(lons)) > 180).any():
        return outline
    whole = shapely.transform(outline, lambda xy: np.column_stack(
        [np.where(xy[:, 0] < 0, xy[:, 0] + 360, xy[:, 0]), xy[:, 1]]))
    west = whole.intersection(box(-180, -90, 180, 90))
    east = translate(whole.intersection(box(180, -90, 540, 90)), -360)
    parts = [p for g in (west, east) for p in getattr(g, "geoms", [g])
             if p.geom_type == "Polygon" and not p.is_empty]
    return MultiPolygon(parts)


def _apply(affine: Affine, xy):
    a, b, c, d, e, f = tuple(affine)[:6]
    x, y = xy[:, 0], xy[:, 1]
    return _stack(a * x + b * y + c, d * x + e * y + f)


def _stack(x, y):
    return np.column_stack([x, y])
