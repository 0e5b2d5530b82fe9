"""The labeling widgets. One widget does not import another; app.py composes them."""

from .app import LabelingApp
from .canvas import CanvasLabeler
from .map import ImageMap
from .tagger import ImageTagger

__all__ = ["CanvasLabeler", "ImageMap", "ImageTagger", "LabelingApp"]
