"""One module per outside format, each with a reader into the store and a writer out.

Each module declares its ``FORMAT`` (``registry.Format``); ``FORMATS`` maps a name to
it, and ``READERS`` and ``WRITERS`` to its ``read_<name>`` / ``write_<name>``. A
format's module is imported when it is first used, so the CLI starts without loading
every format's libraries. Every reader writes in one transaction: a bad file stops it
with a ``FormatError`` naming what is wrong, and the store is as it was.
"""

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import Callable

READ = ("coasttrain", "coco", "datagym", "doodler", "folder", "geojson", "geoparquet",
        "imagelabeler", "labelstudio", "s3label", "stac", "vector", "veda", "yolo")
WRITE = ("coasttrain", "coco", "datagym", "doodler", "folder", "geojson", "geoparquet",
         "imagelabeler", "labelstudio", "s3label", "seggym", "stac", "torchgeo", "veda",
         "yolo")
_ELSEWHERE = {"FormatError": "safety", "Format": "registry", "add_images_s3label": "s3label"}


class _Declared(Mapping):
    """Format name -> what its module declares (``FORMAT``, or one of its fields)."""

    def __init__(self, names: tuple[str, ...], field: str | None = None):
        self._names, self._field = names, field

    def __getitem__(self, name: str):
        if name not in self._names:
            raise KeyError(name)
        declared = import_module(f".{name}", __name__).FORMAT
        return declared if self._field is None else getattr(declared, self._field)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


FORMATS: Mapping = _Declared(tuple(sorted(set(READ) | set(WRITE))))
READERS: Mapping[str, Callable] = _Declared(READ, "read")
WRITERS: Mapping[str, Callable] = _Declared(WRITE, "write")

__all__ = ["FORMATS", "READERS", "WRITERS", *_ELSEWHERE, *(f"read_{name}" for name in READ),
           *(f"write_{name}" for name in WRITE)]


def __getattr__(name: str):
    verb, _, fmt = name.partition("_")
    functions = {"read": READERS, "write": WRITERS}.get(verb)
    if name in _ELSEWHERE:
        return getattr(import_module(f".{_ELSEWHERE[name]}", __name__), name)
    if functions is not None and fmt in functions:
        return functions[fmt]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
