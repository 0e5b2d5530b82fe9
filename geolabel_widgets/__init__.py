"""geolabel_widgets: tag, draw and map labels on Earth-science imagery in Jupyter."""

from .demo import demo_store
from .store import LabelStore, StoreError, StoreUnavailable
from .widgets import CanvasLabeler, ImageMap, ImageTagger, LabelingApp

__all__ = ["CanvasLabeler", "ImageMap", "ImageTagger", "LabelStore", "LabelingApp", "StoreError",
           "StoreUnavailable", "demo_store"]
__version__ = "0.1.0"
