"""The label store: one source of truth for images and labels (SQLite or PostgreSQL)."""

from .labelstore import LabelStore, StoreError, UnreadableImagesWarning
from .retry import StoreUnavailable
from .rotated import RotatedBox, box_of, rotated_box

__all__ = ["LabelStore", "RotatedBox", "StoreError", "StoreUnavailable", "UnreadableImagesWarning",
           "box_of", "rotated_box"]
