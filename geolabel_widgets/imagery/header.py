"""Reading an image's size, bands and georeference from its header only.

Listing a folder of 40-megapixel scenes must not decode them, so nothing here
reads pixel data. Cheap end-of-file checks catch truncated downloads.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

_PIL_DTYPES = {"1": "bool", "L": "uint8", "P": "uint8", "RGB": "uint8", "RGBA": "uint8",
               "CMYK": "uint8", "LA": "uint8", "I;16": "uint16", "I;16B": "uint16",
               "I": "int32", "F": "float32", "YCbCr": "uint8"}
_TIFF_SUFFIXES = {".tif", ".tiff"}


class UnreadableImage(ValueError):
    """An image file that cannot be used, with the reason in plain words."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):  # rebuilt whole when it comes back from a Dask worker
        return type(self), (self.path, self.reason)


@dataclass(frozen=True)
class ImageHeader:
    width: int
    height: int
    bands: int
    dtype: str
    crs: str | None = None  # WKT
    transform: tuple[float, ...] | None = None  # affine a, b, c, d, e, f


def read_header(path: str | os.PathLike) -> ImageHeader:
    """Size, bands, dtype and georeference of an image file, raising UnreadableImage."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise UnreadableImage(path, f"cannot be read ({err.strerror})") from None
    if size == 0:
        raise UnreadableImage(path, "is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _npz_header(path)
    if suffix in _TIFF_SUFFIXES:
        return _raster_header(path)
    return _pil_header(path)


def _pil_header(path: Path) -> ImageHeader:
    try:
        with Image.open(path) as im:
            width, height = im.size
            if turned_sideways(im):
                width, height = height, width
            bands, mode, fmt = len(im.getbands()), im.mode, im.format
    except Image.DecompressionBombError:
        return _raster_header(path)  # GDAL reads the header of a huge file without complaint
    except Exception as err:  # Pillow raises many types for a bad file
        raise UnreadableImage(path, f"is not a readable image ({err})") from None
    _check_complete(path, fmt)
    return ImageHeader(width, height, bands, _PIL_DTYPES.get(mode, "uint8"))


def turned_sideways(im: Image.Image) -> bool:
    """Whether the camera's EXIF orientation turns the image a quarter: its labels are
    made on it as shown, upright, so its width and height trade places."""
    return im.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)


def _check_complete(path: Path, fmt: str | None) -> None:
    """Catch truncated JPEG and PNG files from their last bytes.

    A JPEG without its end marker is sometimes whole anyway (real files are
    messy), so that case is settled by a cheap 1/8-scale decode.
    """
    markers = {"JPEG": b"\xff\xd9", "PNG": b"IEND"}
    marker = markers.get(fmt or "")
    if marker is None:
        return
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 1024))
        tail = f.read()
    if marker in tail:
        return
    if fmt == "JPEG":
        try:
            with Image.open(path) as im:
                im.draft("RGB", (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
                im.load()
            return
        except OSError:
            pass
    raise UnreadableImage(path, f"is a truncated {fmt} file (its data ends early)")


@contextmanager
def open_raster(path: str | os.PathLike):
    """``rasterio.open`` for reading, writing no side-car file and quiet about a
    raster without georeference (a photo is one; its pixels are what count)."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path) as src:
            yield src


def _raster_header(path: Path) -> ImageHeader:
    from rasterio.errors import RasterioIOError

    try:
        with open_raster(path) as src:
            crs = src.crs.to_wkt() if src.crs else None
            transform = None if src.transform.is_identity else tuple(src.transform)[:6]
            gcps, gcps_crs = src.gcps
            if transform is None and len(gcps) >= 3 and gcps_crs:  # georeferenced by GCPs
                from rasterio.transform import from_gcps

                crs, transform = gcps_crs.to_wkt(), tuple(from_gcps(gcps))[:6]
            header = ImageHeader(src.width, src.height, src.count, src.dtypes[0], crs, transform)
            if src.driver == "GTiff":
                _check_tiff_blocks(path, src)
    except RasterioIOError as err:
        raise UnreadableImage(path, f"is not a readable raster ({err})") from None
    return header


def _check_tiff_blocks(path: Path, src) -> None:
    """A TIFF whose last block lies past the end of the file was cut short."""
    shape = src.block_shapes[0]
    last_x = (src.width - 1) // shape[1]
    last_y = (src.height - 1) // shape[0]
    offset = src.get_tag_item(f"BLOCK_OFFSET_{last_x}_{last_y}", "TIFF", bidx=src.count)
    length = src.get_tag_item(f"BLOCK_SIZE_{last_x}_{last_y}", "TIFF", bidx=src.count)
    if offset and length and int(offset) + int(length) > path.stat().st_size:
        raise UnreadableImage(path, "is a truncated TIFF file (data ends early)")


def _npz_header(path: Path) -> ImageHeader:
    """Shape of the image array inside a Coast Train style NPZ, read from its npy header."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            key = next((k for k in ("orig_image.npy", "image.npy") if k in names), None)
            if key is None:
                raise UnreadableImage(path, "is an NPZ without an 'image' or 'orig_image' array")
            with archive.open(key) as member:
                version = np.lib.format.read_magic(member)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(member)
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        if isinstance(err, UnreadableImage):
            raise
        raise UnreadableImage(path, f"is not a readable NPZ archive ({err})") from None
    if dtype.hasobject:
        raise UnreadableImage(path, "holds pickled objects, which are never loaded")
    if len(shape) not in (2, 3):
        raise UnreadableImage(path, f"has an image array of shape {shape}, not H x W (x B)")
    bands = shape[2] if len(shape) == 3 else 1
    return ImageHeader(int(shape[1]), int(shape[0]), int(bands), dtype.name)
