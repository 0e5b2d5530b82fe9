"""The map's background: OpenStreetMap unless told otherwise, a tile URL template,
any ipyleaflet basemap or TileLayer, or none (the footprints on a plain background)."""

from __future__ import annotations

import os

from ipyleaflet import TileLayer, basemap_to_tiles, basemaps

DEFAULT = "default"  # $GEOLABEL_BASEMAP (a URL template, or "none"), else OpenStreetMap


def base_layers(basemap) -> tuple:
    """The base layer the map starts with, as the layers ``Map`` takes (none: ())."""
    if basemap == DEFAULT:
        basemap = os.environ.get("GEOLABEL_BASEMAP") or basemaps.OpenStreetMap.Mapnik
    if basemap is None or (isinstance(basemap, str) and basemap.lower() in ("none", "")):
        return ()
    if isinstance(basemap, str):
        layer = TileLayer(url=basemap, name="basemap", attribution="")
    elif isinstance(basemap, TileLayer):
        layer = basemap
    else:
        layer = basemap_to_tiles(basemap)
    layer.base = True
    return (layer,)
