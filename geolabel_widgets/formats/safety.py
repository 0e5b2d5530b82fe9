"""Files from elsewhere, read safely: archives unpacked only inside their target, JSON of
bounded size and depth, NPZ without pickle (each refusal names the file or member); and
names from elsewhere made safe as folder names."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import tarfile
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from ..store import StoreError

MAX_JSON_BYTES = 256 * 2**20
MAX_JSON_DEPTH = 64
MAX_MEMBERS = 1_000_000
MAX_UNPACKED_BYTES = 64 * 2**30
# Past this many bytes, an archive may unpack to at most this many times its size: real
# releases hold JPEGs, GeoTIFFs and NPZ, which compress little.
UNPACK_BOMB_BYTES, UNPACK_BOMB_RATIO = 2**30, 100
MAX_NPZ_ARRAY_BYTES = 4 * 2**30
MAX_NPZ_BYTES = 4 * 2**30  # every array of one NPZ, as loaded
# Arrays past this many bytes, from a file this many times smaller, are a bomb: a real
# Coast Train or Doodler NPZ holds its image, which does not compress like that.
NPZ_BOMB_BYTES, NPZ_BOMB_RATIO = 256 * 2**20, 100
MAX_CSV_BYTES = 200 * 2**20
# what damaged bytes raise from the archive readers and their decompressors
DAMAGED = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


class FormatError(StoreError):
    """A file that is not what its format says; nothing was written."""


def is_number(value) -> bool:
    """A finite int or float (JSON also allows NaN and Infinity, and bools are ints)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def check_size(path: str | os.PathLike, max_bytes: int, what: str) -> None:
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise FormatError(f"{path}: {size:,} bytes; a {what} is at most {max_bytes:,}")


def read_json(path: str | os.PathLike, *, max_bytes: int = MAX_JSON_BYTES,
              max_depth: int = MAX_JSON_DEPTH):
    """A JSON document, refused if larger than ``max_bytes`` or nested deeper than
    ``max_depth`` (checked on the bytes, before anything is parsed)."""
    path = Path(path)
    check_size(path, max_bytes, "JSON file")
    raw = path.read_bytes()
    if _depth(raw) > max_depth:
        raise FormatError(f"{path}: JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except RecursionError:
        raise FormatError(f"{path}: JSON nested deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise FormatError(f"{path}: not valid JSON ({err})") from None


def _depth(raw: bytes) -> int:
    """How deep a JSON text's brackets nest, those inside strings aside: numpy passes
    over the bytes, so 100 MB takes about a second, not minutes of walking objects."""
    text = np.frombuffer(raw, np.uint8)
    quotes = np.flatnonzero(text == ord('"'))
    backslashes = np.flatnonzero(text == ord("\\"))
    if len(backslashes) and len(quotes):  # a quote after an odd run of backslashes is text
        breaks = np.flatnonzero(np.diff(backslashes) != 1)
        starts, ends = backslashes[np.r_[0, breaks + 1]], backslashes[np.r_[breaks, -1]]
        run = np.minimum(np.searchsorted(ends, quotes - 1), len(ends) - 1)
        escaped = (ends[run] == quotes - 1) & ((ends[run] - starts[run]) % 2 == 0)
        quotes = quotes[~escaped]
    opening = (text == ord("[")) | (text == ord("{"))
    brackets = np.flatnonzero(opening | (text == ord("]")) | (text == ord("}")))
    outside = np.searchsorted(quotes, brackets) % 2 == 0  # after an even number of quotes
    steps = np.where(opening[brackets[outside]], 1, -1)
    return int(np.cumsum(steps).max()) if len(steps) else 0


def unpack(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Unpack a ``.tar``, ``.tar.gz`` or ``.zip`` into ``target``, a new folder.

    Every member is checked before anything is written: absolute paths, ``..``,
    links and device files are refused, as are more than ``MAX_MEMBERS`` members, or
    more bytes than ``unpack_limit`` allows or the disk has free (counted as bytes are
    written, too, since an archive's sizes can lie). ``atomic.unpacked`` puts the
    result in place whole or not at all.
    """
    archive, target = Path(archive), Path(target)
    if zipfile.is_zipfile(archive):
        members = _zip_members(archive)
    else:
        members = _tar_members(archive)
    if len(members) > MAX_MEMBERS:
        raise FormatError(f"{archive}: {len(members):,} members; the limit is {MAX_MEMBERS:,}")
    limit = unpack_limit(archive)
    declared = sum(size for _, size, _ in members)
    if declared > limit:
        raise FormatError(_past_limit(archive, declared, limit))
    target.mkdir(parents=True)
    free = shutil.disk_usage(target).free
    if declared > free:
        raise FormatError(f"{archive}: unpacks to {declared:,} bytes; the disk it would go "
                          f"to has {free:,} free")
    written = 0
    for name, _size, open_member in members:
        out = target / name
        if open_member is None:  # a folder
            out.mkdir(parents=True, exist_ok=True)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            source = open_member()
        except DAMAGED as err:
            raise FormatError(f"{archive}: member {name!r} is damaged ({err!r})") from None
        try:
            with source, open(out, "wb") as sink:
                while chunk := _read(source, archive, name):
                    written += len(chunk)
                    if written > limit:
                        raise FormatError(_past_limit(archive, written, limit, name))
                    sink.write(chunk)
        except OSError as err:  # the disk: full, read-only, a name it cannot hold
            raise FormatError(f"{archive}: cannot write member {name!r} to {out} "
                              f"({err.strerror or err})") from None
    return target


def unpack_limit(archive: Path) -> int:
    """The most bytes ``archive`` may unpack to: ``MAX_UNPACKED_BYTES``, and past
    ``UNPACK_BOMB_BYTES`` no more than ``UNPACK_BOMB_RATIO`` times its own size."""
    by_ratio = max(UNPACK_BOMB_BYTES, UNPACK_BOMB_RATIO * archive.stat().st_size)
    return min(MAX_UNPACKED_BYTES, by_ratio)


def _past_limit(archive: Path, size: int, limit: int, member: str | None = None) -> str:
    where = f"member {member!r} unpacks past" if member else f"{size:,} bytes unpacked; past"
    return (f"{archive}: {where} the limit of {limit:,} bytes for an archive of "
            f"{archive.stat().st_size:,} (a decompression bomb?); refused")


def _read(source, archive: Path, name: str) -> bytes:
    try:
        return source.read(2**20)
    except DAMAGED as err:
        raise FormatError(f"{archive}: member {name!r} is damaged ({err!r})") from None


def _safe_name(archive: Path, name: str) -> str:
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"[A-Za-z]:", text):
        raise FormatError(f"{archive}: member {name!r} has an absolute path; refused")
    path = PurePosixPath(text)
    if ".." in path.parts:
        raise FormatError(f"{archive}: member {name!r} points outside the archive ('..'); "
                          "refused")
    if not path.parts:
        raise FormatError(f"{archive}: a member has an empty name; refused")
    return str(path)


def _tar_members(archive: Path) -> list:
    try:
        tar = tarfile.open(archive)
        infos = tar.getmembers()
    except DAMAGED as err:
        raise FormatError(f"{archive}: not a readable tar or zip archive ({err!r})") from None
    members = []
    for info in infos:
        name = _safe_name(archive, info.name)
        if info.issym() or info.islnk():
            raise FormatError(f"{archive}: member {info.name!r} is a link; refused")
        if info.isdir():
            members.append((name, 0, None))
        elif info.isfile():
            members.append((name, info.size, lambda info=info: tar.extractfile(info)))
        else:
            raise FormatError(f"{archive}: member {info.name!r} is not a file or folder; "
                              "refused")
    return members


def _zip_members(archive: Path) -> list:
    try:
        zf = zipfile.ZipFile(archive)
        infos = zf.infolist()
    except DAMAGED as err:
        raise FormatError(f"{archive}: not a readable zip archive ({err!r})") from None
    members = []
    for info in infos:
        name = _safe_name(archive, info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise FormatError(f"{archive}: member {info.filename!r} is a link; refused")
        if info.is_dir():
            members.append((name, 0, None))
        else:
            members.append((name, info.file_size, lambda info=info: zf.open(info)))
    return members


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an NPZ file, loaded without pickle; an entry that would need
    pickle (or is larger than ``MAX_NPZ_ARRAY_BYTES``) is left out with a warning.
    What the arrays will take is read from their headers before any is loaded: more
    than ``MAX_NPZ_BYTES`` in all, or a decompression bomb, is refused."""
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as err:  # numpy and zipfile raise many types for damaged bytes
        raise FormatError(f"{path}: not a readable NPZ file ({err!r})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise FormatError(f"{path}: a single array, not an NPZ archive of arrays")
    arrays = {}
    with npz:
        sizes = {key: _npy_bytes(npz, key, path) for key in npz.files}
        kept = [key for key, size in sizes.items() if size <= MAX_NPZ_ARRAY_BYTES]
        for key in sizes.keys() - set(kept):
            warnings.warn(f"{path}: entry {key!r} is {sizes[key]:,} bytes; left out",
                          stacklevel=2)
        _check_npz_cost(path, sum(sizes[key] for key in kept))
        for key in kept:
            try:
                arrays[key] = npz[key]
            except ValueError as err:
                if "pickle" not in str(err):
                    raise FormatError(f"{path}: entry {key!r} is damaged ({err})") from None
                warnings.warn(f"{path}: entry {key!r} needs pickle to load; left out",
                              stacklevel=2)  # object arrays: we never unpickle
            except Exception as err:  # zip and zlib raise many types for damaged bytes
                raise FormatError(f"{path}: entry {key!r} is damaged ({err!r})") from None
    return arrays


def _npy_bytes(npz, key: str, path: Path) -> int:
    """What entry ``key`` takes loaded, from its .npy header (its shape and dtype), not
    from what the zip says it holds."""
    fmt = np.lib.format
    try:
        with npz.zip.open(key + ".npy") as entry:
            version = fmt.read_magic(entry)
            read = fmt.read_array_header_1_0 if version == (1, 0) else \
                fmt.read_array_header_2_0
            shape, _, dtype = read(entry)
    except Exception as err:  # a missing entry, a damaged header: zip and numpy vary
        raise FormatError(f"{path}: entry {key!r} is damaged ({err!r})") from None
    return math.prod(shape) * dtype.itemsize


def _check_npz_cost(path: Path, total: int) -> None:
    if total > MAX_NPZ_BYTES:
        raise FormatError(f"{path}: its arrays take {total:,} bytes loaded, past the limit "
                          f"of {MAX_NPZ_BYTES:,}; refused")
    stored = max(path.stat().st_size, 1)
    if total > NPZ_BOMB_BYTES and total > NPZ_BOMB_RATIO * stored:
        raise FormatError(f"{path}: {stored:,} bytes that unpack to {total:,} "
                          f"({total // stored:,} times more): a decompression bomb; refused")


# a spreadsheet runs a cell starting with these as a formula (OWASP's CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each text cell a spreadsheet would run as a formula prefixed by an
    apostrophe, as OWASP advises; numbers stay numbers. ``csv_text`` undoes it."""
    def escape(value):
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) \
            else value
    return frame.apply(lambda column: column.map(escape) if column.dtype == object or
                       pd.api.types.is_string_dtype(column) else column)


def csv_text(column: pd.Series) -> pd.Series:
    """A text column of a CSV we wrote, with ``csv_safe``'s apostrophes taken off."""
    def unescape(value):
        return value[1:] if isinstance(value, str) and value.startswith("'") and \
            value[1:].startswith(FORMULA_START) else value
    return column.map(unescape)


def folder_name(name: str) -> str:
    """A class or dataset name as one folder name (no separators, no '..')."""
    cleaned = "".join(c if c.isalnum() or c in " -_." else "_" for c in str(name)).strip(". ")
    return cleaned or "_"


def file_name(name: str) -> str:
    """A stored image name (which came from elsewhere: ``../../x.png``, ``/etc/x``,
    ``C:\\x``) as one file name: its last part, cleaned, its extension kept."""
    return folder_name(PurePosixPath(str(name).replace("\\", "/")).name)


def inside(root: str | os.PathLike, *parts: str) -> Path:
    """``root / parts``, refused unless it stays inside ``root`` (links followed)."""
    root = Path(root)
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise FormatError(f"{path}: outside {root}; refused")
    return path
