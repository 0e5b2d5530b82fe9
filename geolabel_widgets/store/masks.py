"""Dense label rasters kept as lossless PNG files beside the store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from PIL import Image

from . import schema as s


@dataclass(frozen=True)
class MaskRef:
    """A mask row: its file, size, class names and per-class pixel counts."""

    path: str
    height: int
    width: int
    classes: tuple
    counts: dict

    @property
    def size(self) -> int:
        return self.height * self.width

    @classmethod
    def load(cls, conn, annotation_id: int) -> "MaskRef | None":
        row = conn.execute(sa.select(s.masks).where(
            s.masks.c.annotation_id == annotation_id)).first()
        if row is None:
            return None
        counts = dict(conn.execute(sa.select(s.mask_pixels.c.class_name, s.mask_pixels.c.pixels)
                                   .where(s.mask_pixels.c.annotation_id == annotation_id)).all())
        return cls(row.path, row.height, row.width, tuple(row.classes), counts)

    def attach(self, conn, annotation_id: int) -> None:
        conn.execute(sa.insert(s.masks).values(annotation_id=annotation_id, path=self.path,
                                               height=self.height, width=self.width,
                                               classes=list(self.classes)))
        if self.counts:
            conn.execute(sa.insert(s.mask_pixels), [
                dict(annotation_id=annotation_id, class_name=k, pixels=v)
                for k, v in self.counts.items()])


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
