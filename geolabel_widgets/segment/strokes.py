"""Brush strokes (lines with a width, in image pixels) to a Doodler doodle raster."""

from __future__ import annotations

from typing import Iterable

import numpy as np
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry


def doodle_raster(strokes: Iterable[tuple[BaseGeometry, int, float]],
                  shape: tuple[int, int]) -> np.ndarray:
    """Paint ``(line, value, width)`` strokes in order: 0 is "not doodled", k class k - 1.

    A later stroke paints over an earlier one, as a brush does; value 0 erases.
    Lines are in full-resolution pixel coordinates (x right, y down).
    """
    shapes = [(line.buffer(max(width, 1) / 2), int(value)) for line, value, width in strokes
              if not line.is_empty]
    if not shapes:
        return np.zeros(shape, dtype=np.uint8)
    return rasterize(shapes, out_shape=shape, fill=0, dtype="uint8", all_touched=True)
