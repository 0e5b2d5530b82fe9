"""The labeling widgets. One widget does not import another; app.py composes them."""

from .tagger import ImageTagger

__all__ = ["ImageTagger"]
