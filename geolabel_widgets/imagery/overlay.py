"""An image warped to Web Mercator, for a map's image overlay.

Leaflet stretches an overlay linearly between two corners of its own Web
Mercator plane, so an image in any other CRS (UTM for most scenes) is warped
to EPSG:3857 first; outside the image stays transparent.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import rasterio.warp
from affine import Affine
from pyproj import Transformer
from rasterio.enums import Resampling

from .display import encode_png, read_display_array

_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)


def web_mercator_png(path: str | os.PathLike, crs: str, transform: Sequence[float],
                     width: int, height: int, max_size: int = 1024,
                     bands: Sequence[int] | None = None) -> tuple[bytes, tuple]:
    """RGBA PNG of the image in EPSG:3857 and its ((south, west), (north, east)) corners."""
    rgb = read_display_array(path, max_size, bands)
    shown_h, shown_w = rgb.shape[:2]
    # the display array is the whole image, downsampled: scale the transform to it
    source = Affine(*transform[:6]) @ Affine.scale(width / shown_w, height / shown_h)
    target, target_w, target_h = rasterio.warp.calculate_default_transform(
        crs, "EPSG:3857", shown_w, shown_h,
        *rasterio.transform.array_bounds(shown_h, shown_w, source))
    rgba = np.zeros((4, target_h, target_w), np.uint8)
    source_bands = np.concatenate([np.moveaxis(rgb, -1, 0),
                                   np.full((1, shown_h, shown_w), 255, np.uint8)])
    rasterio.warp.reproject(source_bands, rgba, src_transform=source, src_crs=crs,
                            dst_transform=target, dst_crs="EPSG:3857",
                            resampling=Resampling.bilinear)
    rgba[3] = np.where(rgba[3] > 127, 255, 0)  # no half-transparent seam at the edge
    west, north = target @ (0, 0)
    east, south = target @ (target_w, target_h)
    (lon0, lon1), (lat0, lat1) = _LONLAT.transform([west, east], [south, north])
    return encode_png(np.moveaxis(rgba, 0, -1)), ((lat0, lon0), (lat1, lon1))
