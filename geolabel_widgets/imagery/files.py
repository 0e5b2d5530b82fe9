"""Finding image files and hashing them, without decoding anything."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif", ".bmp", ".webp", ".npz"}
)


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def find_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files in ``folder`` (and its subfolders), sorted for a stable order."""
    folder = Path(folder)
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    found = [p.absolute() for p in pattern if p.is_file() and is_image_path(p)]
    return sorted(found)


def expand_paths(sources: str | os.PathLike | Iterable, recursive: bool = True) -> list[Path]:
    """Files named directly plus the images inside any folders named."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths: list[Path] = []
    for source in sources:
        source = Path(source)
        paths.extend(find_images(source, recursive) if source.is_dir() else [source.absolute()])
    return paths


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def uri_id(uri: str) -> str:
    """Stable id for an image whose bytes were never seen (a catalogue row)."""
    return hashlib.sha256(b"geolabel-uri:" + uri.encode()).hexdigest()
