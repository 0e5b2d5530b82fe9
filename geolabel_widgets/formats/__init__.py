"""One module per outside format, each with a reader into the store and a writer out.

``READERS`` and ``WRITERS`` map a format's name to its ``read_<name>`` /
``write_<name>``; the CLI dispatches through them. A format's module is imported
when it is first used, so the CLI starts without loading every format's libraries.
Every reader writes in one transaction: a bad file stops it with a ``FormatError``
naming what is wrong, and the store is as it was.
"""

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import Callable

READ = ("coasttrain", "coco", "datagym", "doodler", "folder", "geojson", "geoparquet",
        "imagelabeler", "s3label", "vector", "veda")
WRITE = ("coasttrain", "coco", "datagym", "doodler", "folder", "geojson", "geoparquet",
         "imagelabeler", "s3label", "seggym", "veda")
_ELSEWHERE = {"FormatError": "safety", "add_images_s3label": "s3label"}


class _Functions(Mapping):
    """Format name -> its ``<verb>_<name>`` function, from the module of that name."""

    def __init__(self, verb: str, names: tuple[str, ...]):
        self._verb, self._names = verb, names

    def __getitem__(self, name: str) -> Callable:
        if name not in self._names:
            raise KeyError(name)
        return getattr(import_module(f".{name}", __name__), f"{self._verb}_{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


READERS = _Functions("read", READ)
WRITERS = _Functions("write", WRITE)

__all__ = ["READERS", "WRITERS", *_ELSEWHERE, *(f"read_{name}" for name in READ),
           *(f"write_{name}" for name in WRITE)]


def __getattr__(name: str):
    verb, _, fmt = name.partition("_")
    functions = {"read": READERS, "write": WRITERS}.get(verb)
    if name in _ELSEWHERE:
        return getattr(import_module(f".{_ELSEWHERE[name]}", __name__), name)
    if functions is not None and fmt in functions:
        return functions[fmt]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
