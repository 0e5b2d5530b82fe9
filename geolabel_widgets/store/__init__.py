"""The label store: one source of truth for images and labels (SQLite or PostgreSQL)."""

from .labelstore import LabelStore, StoreError, UnreadableImagesWarning

__all__ = ["LabelStore", "StoreError", "UnreadableImagesWarning"]
