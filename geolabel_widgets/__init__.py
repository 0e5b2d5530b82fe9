"""geolabel_widgets: tag, draw and map labels on Earth-science imagery in Jupyter."""

from .store import LabelStore, StoreError

__all__ = ["LabelStore", "StoreError"]
__version__ = "0.1.0"
