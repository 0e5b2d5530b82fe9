"""Whole or nothing on disk: an archive is unpacked, and an export written, into a fresh
hidden folder beside its destination and renamed into place only when complete, so a
failure or a kill never leaves a half-written folder where a whole one is expected."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .safety import FormatError, unpack

# written last: an unpacking without it is not whole (no suffix: no reader globs it)
MARKER = ".geolabel-unpacked"


@contextmanager
def unpacked(archive: str | os.PathLike, target: str | os.PathLike) -> Iterator[Path]:
    """``archive``'s files in the folder ``target``, for the ``with`` block to read.

    A folder this archive was unpacked into before (its marker says so) is read again
    as it is; any other existing ``target`` is refused, so nothing of the user's is
    written into or through. A folder made here is removed if the block fails.
    """
    archive, target = Path(archive), Path(target)
    if target.exists() or target.is_symlink():
        if target.is_symlink() or _marker(archive) != _read_marker(target):
            raise FormatError(f"{archive}: {target} already exists and is not an earlier "
                              "unpacking of this archive; choose another folder to unpack "
                              "into, or import the folder itself")
        yield target
        return
    with _scratch(target) as scratch:
        folder = unpack(archive, scratch / target.name)
        (folder / MARKER).write_text(json.dumps(_marker(archive)))
        os.rename(folder, target)
    try:
        yield target
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def whole_or_nothing(write):
    """A writer made whole or nothing: it writes into a scratch folder beside ``dest``,
    and its result is renamed to ``dest`` when it returns. An existing ``dest`` (but an
    empty folder or file) is refused unless ``overwrite=True``. Database URLs are
    written as they are: their writers work in one transaction."""

    @functools.wraps(write)
    def whole(store, dest, *args, overwrite: bool = False, **options):
        if "://" in str(dest):
            return write(store, dest, *args, **options)
        dest = Path(dest)
        if _occupied(dest) and not overwrite:
            raise FileExistsError(f"{dest} already exists; pass --overwrite "
                                  "(overwrite=True) to replace it")
        in_the_way = next((p for p in dest.parents if p.exists() and not p.is_dir()), None)
        if in_the_way is not None:
            raise NotADirectoryError(f"{dest}: {in_the_way} is a file, not a folder to "
                                     "export into")
        with _scratch(dest) as scratch:
            result = write(store, scratch / dest.name, *args, **options)
            written = scratch / dest.name
            if written.exists():
                if dest.exists() or dest.is_symlink():  # empty, or overwrite asked for
                    os.rename(dest, scratch / ".replaced")
                os.rename(written, dest)
        return dest if isinstance(result, Path) and result == written else result

    return whole


@contextmanager
def _scratch(beside: Path) -> Iterator[Path]:
    """A fresh hidden folder next to ``beside`` (on its disk, so a rename moves it),
    removed afterwards whatever happens."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{beside.name}.partial-", dir=beside.parent))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _occupied(path: Path) -> bool:
    if path.is_symlink():
        return True
    if path.is_dir():
        return any(path.iterdir())
    return path.exists() and path.stat().st_size > 0


def _marker(archive: Path) -> dict:
    info = archive.stat()
    return {"archive": archive.name, "bytes": info.st_size, "mtime_ns": info.st_mtime_ns}


def _read_marker(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
