"""The label store: one source of truth for images and labels (SQLite or PostgreSQL)."""

from .labelstore import LabelStore, StoreError, UnreadableImagesWarning
from .retry import StoreUnavailable

__all__ = ["LabelStore", "StoreError", "StoreUnavailable", "UnreadableImagesWarning"]
