"""Names of a package loaded from their modules on first use (PEP 562), so importing
the package costs only what a caller touches."""

from __future__ import annotations

from importlib import import_module
from typing import Callable


def lazy_names(package: str, homes: dict[str, str]) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package``, where ``homes`` maps each name
    to the submodule that defines it."""
    namespace = import_module(package).__dict__

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{homes[name]}", package), name)
        namespace[name] = value  # once loaded, a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
