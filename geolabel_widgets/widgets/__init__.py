"""The labeling widgets. One widget does not import another; app.py composes them."""

from .canvas import CanvasLabeler
from .tagger import ImageTagger

__all__ = ["CanvasLabeler", "ImageTagger"]
