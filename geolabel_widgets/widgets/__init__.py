"""The labeling widgets. One widget does not import another; app.py composes them.
Each loads on first use: the tagger does not pay for the canvas or the map."""

from ..lazy import lazy_names

_HOMES = {"CanvasLabeler": "canvas", "ImageMap": "map", "ImageTagger": "tagger",
          "LabelingApp": "app"}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_names(__name__, _HOMES)
