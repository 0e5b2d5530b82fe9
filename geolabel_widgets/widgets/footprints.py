"""What the map sends to the browser: footprints where few are in view, counts per cell
where many are. Plain numpy/shapely on a spatial index; no widgets here.

A browser draws a few thousand polygons at once without effort, and a websocket
message must stay well under Jupyter's 10 MB; 100k footprints as GeoJSON break
both. So the map never sends more than ``max_footprints`` features: beyond that it
sends square cells of about ``CELL_PX`` screen pixels, each coloured by its most
common value, with its count.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass
from html import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

TILE_PX = 256  # Web Mercator: the world is 256 * 2**zoom pixels across
CELL_PX = 24
MAX_LAT = 85.0511  # Web Mercator's edge
SELECTED_OUTLINE = "#00e5ff"
MIN_FOOTPRINT_PX = 4  # smaller footprints are drawn as points
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
_HALF_WORLD = 20037508.342789244  # metres from the centre to the edge in EPSG:3857

Box = tuple[float, float, float, float]  # west, south, east, north in degrees


def to_unit(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat -> Web Mercator scaled to [0, 1] (x east, y south), as map pixels / world size."""
    x, y = _TO_MERCATOR.transform(np.asarray(lon, float),
                                  np.clip(np.asarray(lat, float), -MAX_LAT, MAX_LAT))
    return (np.asarray(x) + _HALF_WORLD) / (2 * _HALF_WORLD), \
        (_HALF_WORLD - np.asarray(y)) / (2 * _HALF_WORLD)


def from_unit(x, y) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _TO_MERCATOR.transform(np.asarray(x, float) * 2 * _HALF_WORLD - _HALF_WORLD,
                                      _HALF_WORLD - np.asarray(y, float) * 2 * _HALF_WORLD,
                                      direction="INVERSE")
    return np.asarray(lon), np.asarray(lat)


def fit_view(bounds: Box, size: tuple[int, int], max_zoom: int = 18) -> tuple[tuple, int]:
    """The centre (lat, lon) and the largest zoom showing ``bounds`` in ``size`` pixels."""
    (x0, x1), (y1, y0) = to_unit([bounds[0], bounds[2]], [bounds[1], bounds[3]])
    span_x, span_y = max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)
    zoom = np.floor(np.log2(min(size[0] / (TILE_PX * span_x), size[1] / (TILE_PX * span_y))))
    lon, lat = from_unit((x0 + x1) / 2, (y0 + y1) / 2)
    return (float(lat), float(lon)), int(np.clip(zoom, 1, max_zoom))


def view_box(center: tuple[float, float], zoom: float, size: tuple[int, int],
             pad: float = 0.0) -> Box:
    """The lon/lat box a map of ``size`` pixels shows, grown by ``pad`` of its size each side."""
    x, y = to_unit(center[1], center[0])
    world = TILE_PX * 2.0 ** zoom
    half_x, half_y = size[0] / 2 / world, size[1] / 2 / world
    lon, lat = from_unit(np.clip([x - half_x, x + half_x], 0, 1),
                         np.clip([y + half_y, y - half_y], 0, 1))
    return grow((float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])), pad)


def grow(box: Box, pad: float) -> Box:
    """``box`` grown by ``pad`` of its size on each side (in Web Mercator), within the world."""
    (x0, x1), (y1, y0) = to_unit([box[0], box[2]], [box[1], box[3]])
    dx, dy = (x1 - x0) * pad, (y1 - y0) * pad
    lon, lat = from_unit([max(x0 - dx, 0), min(x1 + dx, 1)], [min(y1 + dy, 1), max(y0 - dy, 0)])
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def contains(outer: Box, inner: Box) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2]
            and outer[3] >= inner[3])


LEGEND_ENTRIES = 12  # categories a legend lists; the rest are counted


@dataclass
class Palette:
    """Categories (in legend order), their colours, and each image's category code."""
    categories: list[str]
    colors: list[str]
    codes: np.ndarray  # int per image, indexing categories

    def color_of(self, position: int) -> str:
        return self.colors[self.codes[position]]

    def counts(self) -> dict[str, int]:
        counted = np.bincount(self.codes, minlength=len(self.categories))
        return dict(zip(self.categories, counted.tolist()))

    def legend_html(self, title: str) -> str:
        """The legend: each category shown, its colour and how many (the most common
        first when there are many)."""
        counts = self.counts()
        shown = [c for c in self.categories if counts[c]]
        if len(shown) > LEGEND_ENTRIES:  # the most common ones
            shown.sort(key=lambda c: -counts[c])
        rows = [f"<span style='display:inline-block;width:11px;height:11px;margin-right:5px;"
                f"background:{self.colors[self.categories.index(c)]}'></span>"
                f"{escape(c)} <span style='color:#666'>{counts[c]:,}</span>"
                for c in shown[:LEGEND_ENTRIES]]
        if len(shown) > LEGEND_ENTRIES:
            rows.append(f"<i>{len(shown) - LEGEND_ENTRIES} more</i>")
        return (f"<div class='geolabel-legend' style='font-size:12px;line-height:1.5;"
                f"padding:2px 6px'><b>{escape(title)}</b><br>{'<br>'.join(rows)}</div>")


class FootprintIndex:
    """Where every located image lies, for view, click and selection.

    Its centres come first: they are enough to count images per cell, and a million
    are read in about a second. Ids, names and footprints with their spatial index
    (``Details``) are five times that at a million, so they may arrive later, from a
    ``Future``; whatever needs them waits for them.
    """

    def __init__(self, centres: pd.DataFrame, details: Details | Future):
        self.seq = centres.index.to_numpy()
        self.dataset = pd.Categorical(centres["dataset"])
        self.lon, self.lat = centres["lon"].to_numpy(float), centres["lat"].to_numpy(float)
        self.unit_x, self.unit_y = to_unit(self.lon, self.lat)
        if isinstance(details, Details):
            details, done = Future(), details
            details.set_result(done)
        self._details = details

    def __len__(self) -> int:
        return len(self.seq)

    @property
    def ready(self) -> bool:
        """Whether the footprints have been read (nothing that needs them will wait)."""
        return self._details.done()

    @property
    def details(self) -> Details:
        return self._details.result()

    # what only the footprints' read gives (waits for it)
    ids = property(lambda self: self.details.ids)
    names = property(lambda self: self.details.names)
    geometry = property(lambda self: self.details.geometry)
    bounds = property(lambda self: self.details.bounds)
    position = property(lambda self: self.details.position, doc="image id -> position")

    def positions_of(self, seq) -> np.ndarray:
        """Positions of the images with these ``seq``; -1 for those not on the map."""
        seq = np.asarray(seq, dtype=np.int64)
        k = np.clip(np.searchsorted(self.seq, seq), 0, max(len(self.seq) - 1, 0))
        found = (self.seq[k] == seq) if len(self.seq) else np.zeros(len(seq), bool)
        return np.where(found, k, -1)

    def extent(self) -> Box:
        if not len(self):
            return -180.0, -60.0, 180.0, 75.0
        if self.ready:
            b = self.bounds
            return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                    float(b[:, 3].max()))
        return (float(self.lon.min()), float(self.lat.min()), float(self.lon.max()),
                float(self.lat.max()))

    def centred_in(self, box: Box) -> np.ndarray:
        """Positions of the images whose centre is in ``box`` (no footprints needed)."""
        inside = ((self.lon >= box[0]) & (self.lon <= box[2]) & (self.lat >= box[1])
                  & (self.lat <= box[3]))
        return np.flatnonzero(inside)

    def in_box(self, box: Box) -> np.ndarray:
        """Positions of the footprints meeting ``box``, in store order."""
        return np.sort(self.details.tree.query(shapely.box(*box)))

    def meeting(self, geometry) -> np.ndarray:
        """Positions of the footprints that meet ``geometry`` (a drawn selection), in order."""
        return np.sort(self.details.tree.query(geometry, predicate="intersects"))


@dataclass
class Details:
    """Ids, names and footprints of the images of a ``FootprintIndex``, in its order."""
    ids: np.ndarray
    names: np.ndarray
    geometry: np.ndarray
    bounds: np.ndarray
    position: pd.Series
    tree: shapely.STRtree

    @classmethod
    def of(cls, frame: gpd.GeoDataFrame, seq: np.ndarray) -> Details:
        """From ``LabelStore.footprints`` (read after the centres, so it may hold images
        added since: they wait for the next ``refresh``)."""
        if len(frame) != len(seq):
            frame = frame[np.isin(frame["seq"].to_numpy(), seq)]
        geometry = np.asarray(frame.geometry.values, dtype=object)
        return cls(ids=frame.index.to_numpy(), names=frame["name"].to_numpy(),
                   geometry=geometry, bounds=shapely.bounds(geometry),
                   position=pd.Series(np.arange(len(frame)), index=frame.index),
                   tree=shapely.STRtree(geometry))


def footprint_features(index: FootprintIndex, positions: np.ndarray, palette: Palette,
                       labels: list[str], selected: set[str], zoom: float,
                       style: dict) -> dict:
    """A GeoJSON FeatureCollection of these footprints (``labels``: their hover text),
    simplified to about a pixel at ``zoom``."""
    degrees_per_pixel = 360.0 / (TILE_PX * 2.0 ** zoom)
    geometry = index.geometry[positions]
    # a footprint a few pixels across would vanish: it is drawn as a point
    bounds = index.bounds[positions]
    extent = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    tiny = extent < MIN_FOOTPRINT_PX * degrees_per_pixel
    geometry = np.where(tiny, shapely.centroid(geometry), geometry)
    geometry = shapely.simplify(geometry, degrees_per_pixel / 2, preserve_topology=True)
    geometry = shapely.set_precision(geometry, degrees_per_pixel / 8)
    texts = shapely.to_geojson(geometry)
    features = [footprint_feature(index, k, json.loads(text), palette, label,
                                  index.ids[k] in selected, style)
                for k, text, label in zip(positions.tolist(), texts, labels)]
    return {"type": "FeatureCollection", "features": features}


def footprint_feature(index: FootprintIndex, k: int, geometry: dict, palette: Palette,
                      label: str, selected: bool, style: dict) -> dict:
    color = palette.color_of(k)
    feature_style = {**style, "fillColor": color,
                     "color": SELECTED_OUTLINE if selected else color,
                     "weight": 3 if selected else style.get("weight", 1)}
    return {"type": "Feature", "id": str(index.ids[k]), "geometry": geometry,
            "properties": {"image_id": str(index.ids[k]), "name": str(index.names[k]),
                           "label": label, "style": feature_style}}


def cell_features(index: FootprintIndex, positions: np.ndarray, palette: Palette,
                  zoom: float, cell_px: int = CELL_PX) -> dict:
    """Square cells of about ``cell_px`` pixels with each one's count and most common value."""
    if not len(positions):
        return {"type": "FeatureCollection", "features": []}
    size = cell_px / (TILE_PX * 2.0 ** zoom)  # a cell's side in unit coordinates
    column = np.floor(index.unit_x[positions] / size).astype(np.int64)
    row = np.floor(index.unit_y[positions] / size).astype(np.int64)
    per_cell = pd.crosstab([row, column], palette.codes[positions])
    table = per_cell.to_numpy()
    counts = table.sum(axis=1)
    majority = per_cell.columns.to_numpy()[table.argmax(axis=1)]
    rows = per_cell.index.get_level_values(0).to_numpy()
    columns = per_cell.index.get_level_values(1).to_numpy()
    west, north = from_unit(columns * size, rows * size)
    east, south = from_unit((columns + 1) * size, (rows + 1) * size)
    west, south, east, north = (np.round(a, 6).tolist() for a in (west, south, east, north))
    strength = np.log1p(counts) / np.log1p(counts.max())
    names = np.asarray(palette.categories, dtype=object)[per_cell.columns.to_numpy()]
    features = []
    for k in range(len(counts)):
        breakdown = ", ".join(f"{n:,} {name}" for name, n in
                              sorted(zip(names, table[k]), key=lambda p: -p[1])
                              if n)
        color = palette.colors[majority[k]]
        w, s, e, n = west[k], south[k], east[k], north[k]
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon",
                         "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
            "properties": {"count": int(counts[k]), "breakdown": breakdown,
                           "style": {"color": color, "weight": 1, "fillColor": color,
                                     "fillOpacity": round(0.25 + 0.5 * float(strength[k]), 3),
                                     "opacity": 0.9}}})
    return {"type": "FeatureCollection", "features": features}
