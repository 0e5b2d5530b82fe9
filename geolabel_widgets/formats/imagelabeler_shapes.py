"""Image Labeler's "download all": one shapefile folder per labeled event shape,
``{phenomena}_{YYYY-MM-DD}_{user}_{id}/`` (no user part in NASA's dust set), lon/lat
polygons (FORMATS_REAL.md 4).

An event shape has no image file of its own: NASA's converter fetches the GIBS MODIS
Aqua true-colour picture of its bounding box on its day at 0.25 km a pixel, so that is
the image here, a catalogue row whose address is that GIBS request and whose pixels
the polygon is put on. Names in images say when and where, too: the smoke set's
``time-<stamp>-loc-<w>_<s>_<e>_<n>`` and the converter's
``phenomena-<p>-datetime-<YYYYDDD...>-bbox-<minlat>,<minlon>,<maxlat>,<maxlon>``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
from rasterio.transform import from_bounds
from shapely.geometry import box

from ..imagery.georef import lonlat_to_pixel
from .safety import FormatError, folder_name

EVENTS_TASK = "Image Labeler events"
DATE = re.compile(r"_(\d{4}-\d{2}-\d{2})(?:_|$)")
KM_PER_DEGREE = 111.32
PIXEL_KM = 0.25  # GIBS MODIS at the converter's resolution
GIBS = ("https://gibs.earthdata.nasa.gov/wms/epsg4326/best/wms.cgi?SERVICE=WMS&REQUEST=GetMap"
        "&VERSION=1.3.0&LAYERS=MODIS_Aqua_CorrectedReflectance_TrueColor&CRS=EPSG:4326"
        "&FORMAT=image/tiff&TIME={date}&BBOX={s},{w},{n},{e}&WIDTH={width}&HEIGHT={height}")
SMOKE = re.compile(r"time-(?P<time>\d{8,14})-loc-(?P<w>-?[\d.]+)_(?P<s>-?[\d.]+)_"
                   r"(?P<e>-?[\d.]+)_(?P<n>-?[\d.]+)")
STAMPS = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
CONVERTER = re.compile(r"datetime-(?P<year>\d{4})(?P<day>\d{3})\d*-bbox-(?P<s>-?[\d.]+),"
                       r"(?P<w>-?[\d.]+),(?P<n>-?[\d.]+),(?P<e>-?[\d.]+)")


def shapefile_events(folder: Path) -> list[Path]:
    """The event shapefiles at or below ``folder``."""
    return sorted(folder.rglob("*.shp"))


def parse_event(shp: Path, labeler: str) -> tuple[dict, list[tuple]]:
    """(image row, label rows) of one event shapefile: its phenomenon, day and user from
    the folder name, its polygons in the pixels of the GIBS picture of their box."""
    stem = shp.stem
    day = DATE.search(stem)
    if day is None:
        raise FormatError(f"{shp}: not named {{phenomena}}_{{YYYY-MM-DD}}_... as Image "
                          "Labeler names its event shapes")
    phenomenon = stem[:day.start()]
    rest = stem[day.end():].split("_")
    user = rest[0] if len(rest) > 1 and rest[0] else labeler
    try:
        shapes = gpd.read_file(shp)
    except Exception as err:  # pyogrio raises many types for a damaged shapefile
        raise FormatError(f"{shp}: not a readable shapefile ({err})") from None
    shapes = shapes[shapes.geometry.notna() & ~shapes.geometry.is_empty]
    if not len(shapes):
        raise FormatError(f"{shp}: no shape in it")
    shapes = shapes.to_crs("EPSG:4326") if shapes.crs else shapes.set_crs("EPSG:4326")
    w, s, e, n = shapes.total_bounds
    width = max(1, math.ceil((e - w) * KM_PER_DEGREE / PIXEL_KM))
    height = max(1, math.ceil((n - s) * KM_PER_DEGREE / PIXEL_KM))
    transform = list(from_bounds(w, s, e, n, width, height))[:6]
    image = {"key": stem, "uri": GIBS.format(date=day.group(1), s=s, w=w, n=n, e=e,
                                             width=width, height=height),
             "name": f"{stem}.tif", "width": width, "height": height, "crs": "EPSG:4326",
             "transform": transform, "geometry": box(w, s, e, n),
             "acquired_at": pd.Timestamp(day.group(1), tz="UTC")}
    labels = [(stem, EVENTS_TASK, user, "polygon", phenomenon,
               lonlat_to_pixel(g, "EPSG:4326", transform), None) for g in shapes.geometry]
    return image, labels


def footprint_from_name(name: str):
    """(footprint, time) a file name says, or (None, None)."""
    found = SMOKE.search(name)
    if found:
        stamp = found["time"]
        form = STAMPS.get(len(stamp))
        when = pd.to_datetime(stamp, format=form, errors="coerce", utc=True) if form else None
        return _box(found), None if when is pd.NaT else when
    found = CONVERTER.search(name)
    if found:
        when = pd.Timestamp(f"{found['year']}-01-01", tz="UTC") + \
            pd.Timedelta(days=int(found["day"]) - 1)
        return _box(found), when
    return None, None


def _box(found):
    w, s, e, n = (float(found[k]) for k in "wsen")
    return box(min(w, e), min(s, n), max(w, e), max(s, n))


def write_events(labels: pd.DataFrame, folder: Path) -> int:
    """Polygons with a place on the map as Image Labeler's shapefile folders, one per
    shape: ``{class}_{day}_{labeler}_{n}/``. Returns how many."""
    written = 0
    for n, row in enumerate(labels.itertuples(), start=1):
        if row.world_geometry is None or row.kind != "polygon":
            continue
        day = row.created_at.strftime("%Y-%m-%d")
        stem = f"{folder_name(row.value)}_{day}_{folder_name(row.labeler)}_{n}"
        target = folder / stem
        target.mkdir(parents=True, exist_ok=True)
        gpd.GeoDataFrame({"FID": [0]}, geometry=[row.world_geometry], crs="EPSG:4326").to_file(
            target / f"{stem}.shp")
        written += 1
    return written
