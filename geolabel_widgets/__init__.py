"""geolabel_widgets: tag, draw and map labels on Earth-science imagery in Jupyter.

Names load on first use, so a script that only reads the store does not pay for
the widgets, scikit-learn or matplotlib.
"""

from .lazy import lazy_names

_HOMES = {"LabelStore": "store", "StoreError": "store", "StoreUnavailable": "store",
          "rotated_box": "store", "CanvasLabeler": "widgets", "ImageMap": "widgets",
          "ImageTagger": "widgets", "LabelingApp": "widgets", "demo_store": "demo"}
__all__ = sorted(_HOMES)
__version__ = "0.1.0"
__getattr__, __dir__ = lazy_names(__name__, _HOMES)
