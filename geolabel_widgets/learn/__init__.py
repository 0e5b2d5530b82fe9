"""A model in the loop: image features computed once, and a built-in learner refitted
as labels arrive. Any other model runs through ``LabelStore.add_model``."""

from ..lazy import lazy_names

_HOMES = {"FEATURES": "features", "add_image_features": "features",
          "image_features": "features", "Learner": "learner"}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_names(__name__, _HOMES)
