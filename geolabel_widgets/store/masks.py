"""Dense label rasters kept as lossless PNG files beside the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image


def write_mask(folder: Path, mask: np.ndarray) -> str:
    """Save a 2-D class-index mask; returns its file name (content-addressed)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask is a 2-D array of class indices, got shape {mask.shape}")
    if mask.size and (mask.min() < 0 or mask.max() > 255):
        raise ValueError("mask class indices must lie in 0..255")
    mask = mask.astype(np.uint8, copy=False)
    name = hashlib.sha256(mask.tobytes() + str(mask.shape).encode()).hexdigest()[:32] + ".png"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists():
        partial = target.with_suffix(".part")
        Image.fromarray(mask).save(partial, format="PNG", optimize=False)
        partial.replace(target)  # never leave a half-written mask under its final name
    return name


def read_mask(folder: Path, name: str) -> np.ndarray:
    with Image.open(folder / name) as im:
        return np.asarray(im)


def pixel_counts(mask: np.ndarray, classes: list[str]) -> dict[str, int]:
    counts = np.bincount(np.asarray(mask, dtype=np.uint8).ravel(), minlength=len(classes))
    return {name: int(counts[i]) for i, name in enumerate(classes) if counts[i]}
