"""Dense label rasters as lossless PNGs: files in a folder beside a SQLite store, or
rows of the database itself on a server, which every labeler's kernel reaches."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from PIL import Image
from sqlalchemy import event

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


def encode_mask(mask: np.ndarray) -> tuple[str, bytes]:
    """A 2-D class-index mask as PNG bytes, and its content-addressed name."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"a mask is a 2-D array of class indices, got shape {mask.shape}")
    if mask.size and (mask.min() < 0 or mask.max() > 255):
        raise ValueError("mask class indices must lie in 0..255")
    mask = mask.astype(np.uint8, copy=False)
    name = hashlib.sha256(mask.tobytes() + str(mask.shape).encode()).hexdigest()[:32] + ".png"
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG", optimize=False)
    return name, buffer.getvalue()


def decode_mask(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im)


class FolderMasks:
    """PNG files in a folder (beside a SQLite file, or a disk a team shares). A file
    first written in a transaction that rolls back is removed with it."""

    def __init__(self, folder: str | Path, engine: sa.Engine):
        self.folder = Path(folder)
        event.listen(engine, "rollback", _remove_new_files)
        event.listen(engine, "commit", lambda conn: conn.info.pop(NEW_FILES, None))

    def put(self, conn, name: str, png: bytes) -> None:
        target = self.folder / name
        if not target.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(png)
            partial.replace(target)  # never leave a half-written mask under its final name
            conn.info.setdefault(NEW_FILES, []).append(target)

    def get(self, conn, name: str) -> bytes:
        return (self.folder / name).read_bytes()


NEW_FILES = "geolabel_new_mask_files"  # in the connection's info, until it commits


def _remove_new_files(conn) -> None:
    # before the rollback, so the write lock is still held: no other writer has seen them
    for path in conn.info.pop(NEW_FILES, ()):
        path.unlink(missing_ok=True)


class DatabaseMasks:
    """PNG bytes in the store's own ``mask_files`` table, written in the label's
    transaction: a team on a server needs no shared disk, and a mask is never without
    its row or its row without it."""

    folder = None

    def put(self, conn, name: str, png: bytes) -> None:
        files = s.mask_files
        if conn.execute(sa.select(files.c.name).where(files.c.name == name)).first() is None:
            conn.execute(sa.insert(files).values(name=name, png=png))

    def get(self, conn, name: str) -> bytes:
        return conn.execute(sa.select(s.mask_files.c.png)
                            .where(s.mask_files.c.name == name)).scalar_one()


def pixel_counts(mask: np.ndarray, classes: list[str]) -> dict[str, int]:
    counts = np.bincount(np.asarray(mask, dtype=np.uint8).ravel(), minlength=len(classes))
    return {name: int(counts[i]) for i, name in enumerate(classes) if counts[i]}
