"""Class remapping files (Coast Train's ``remap_*.json``) read into view aliases."""

from __future__ import annotations

import json
from pathlib import Path

from .types import StoreError

MAX_REMAP_BYTES = 2**20


def read_remap_file(path) -> dict:
    """One remap JSON object, checked: ``aliases`` (class -> super-class), and where the
    file gives them ``classes`` and ``super_classes`` (a list, or a dict whose keys count)."""
    path = Path(path)
    if path.stat().st_size > MAX_REMAP_BYTES:
        raise StoreError(f"{path} is over {MAX_REMAP_BYTES} bytes: not a remap file")
    try:
        remap = json.loads(path.read_text())
        found = remap.get("aliases")
    except (ValueError, AttributeError) as err:
        raise StoreError(f"{path}: not a remap JSON object ({err})") from None
    if not isinstance(found, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
        raise StoreError(f"{path}: 'aliases' must map class names to super-class names")
    supers = remap.get("super_classes")
    supers = list(supers) if isinstance(supers, (list, dict)) else None
    classes = remap.get("classes")
    for key, names in (("super_classes", supers), ("classes", classes)):
        if names is not None and not (isinstance(names, list)
                                      and all(isinstance(n, str) for n in names)):
            raise StoreError(f"{path}: {key!r} must be a list of names")
    return {"aliases": found, "classes": classes, "super_classes": supers}


def read_remap_files(paths) -> dict[str, str]:
    """The ``aliases`` (class -> super-class) of one or more remap JSON files, merged."""
    aliases: dict[str, str] = {}
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        aliases.update(read_remap_file(path)["aliases"])
    return aliases
