"""Doodles to dense segmentation labels, for scripts, benchmarks and the canvas."""

from .doodles import DoodleError, doodles_to_mask
from .strokes import doodle_raster

__all__ = ["DoodleError", "doodle_raster", "doodles_to_mask"]
