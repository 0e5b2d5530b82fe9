"""What a format offers, declared once in its module as ``FORMAT``; the CLI reads it.

A new format is a module of ``formats/`` with ``read_<name>`` and/or ``write_<name>``
(and ``parse_<name>`` when it reads a file into frames before writing them, as most
do), a ``FORMAT = Format(...)`` naming them, and its name in ``READ`` / ``WRITE``
of the package, which the CLI lists without importing any format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

# the options of `geolabel import` / `geolabel export` beyond the source, destination,
# store and dataset, as the keyword arguments of read_<name> / write_<name> they become
IMPORT_OPTIONS = frozenset({"remap", "image", "class_property", "crs", "root", "scheduler",
                            "mode", "images_dir", "config", "predictions", "model",
                            "score_property", "ground_truth"})
EXPORT_OPTIONS = frozenset({"remap", "for_import"})


@dataclass(frozen=True)
class Format:
    name: str
    read: Callable | None = None  # read_<name>(store, source, *, dataset=None, ...)
    write: Callable | None = None  # write_<name>(store, dest, *, overwrite=False, ...)
    parse: Callable | None = None  # parse_<name>(...) -> records.Parsed, nothing written
    import_options: frozenset[str] = frozenset()  # of IMPORT_OPTIONS, that read takes
    export_options: frozenset[str] = frozenset()  # of EXPORT_OPTIONS, that write takes
    # what an export holds: one task (given, or the store's only one), the given task
    # or every task, or the whole store (it takes no task)
    exports: Literal["one task", "any tasks", "the store"] = "one task"

    def __post_init__(self):
        unknown = (self.import_options - IMPORT_OPTIONS) | (self.export_options -
                                                            EXPORT_OPTIONS)
        if unknown:
            raise ValueError(f"format {self.name!r} declares unknown options {sorted(unknown)}")
