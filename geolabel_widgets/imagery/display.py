"""Images as a browser shows them: downsampled, stretched to 8 bits, JPEG-encoded.

A 40-megapixel scene is never decoded whole: JPEGs use the decoder's DCT
scaling (``draft``), rasters a decimated read that uses overviews.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import ExifTags, Image, ImageOps

from .header import UnreadableImage, open_raster

DEFAULT_PERCENTILES = (2.0, 98.0)


def read_display_array(path: str | os.PathLike, max_size: int = 1024,
                       bands: Sequence[int] | None = None,
                       percentiles: tuple[float, float] = DEFAULT_PERCENTILES) -> np.ndarray:
    """An RGB (H x W x 3) uint8 array no larger than ``max_size`` on its long side.

    ``bands`` are 1-based band numbers to show as red, green, blue (default: the
    first three, or the only one as grey). Anything but 8-bit data is stretched
    between the given percentiles.
    """
    path = Path(path)
    if not path.exists():
        raise UnreadableImage(path, "is missing")
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            array = _read_raster(path, max_size, bands)
        elif suffix == ".npz":
            array = _downsample(_read_npz(path), max_size)
            array = _select(array, bands)
        else:
            array = _read_pil(path, max_size, bands)
    except UnreadableImage:
        raise
    except Exception as err:  # decoders raise many types for a bad file
        raise UnreadableImage(path, f"cannot be shown ({err})") from None
    return to_rgb8(array, percentiles)


def read_display_region(path: str | os.PathLike, box: tuple[int, int, int, int],
                        size: tuple[int, int], bands: Sequence[int] | None = None,
                        percentiles: tuple[float, float] = DEFAULT_PERCENTILES) -> np.ndarray:
    """The full-resolution pixels in ``box`` (left, top, right, bottom) as RGB uint8
    of ``size`` (width, height): the sharp view of a zoomed-in part of a large image."""
    path = Path(path)
    left, top, right, bottom = box
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            from rasterio.enums import Resampling
            from rasterio.windows import Window

            with open_raster(path) as src:
                indexes = _rgb_bands(src, bands)
                data = src.read(indexes, window=Window(left, top, right - left, bottom - top),
                                out_shape=(len(indexes), size[1], size[0]),
                                resampling=Resampling.average)
            array = np.moveaxis(data, 0, -1)
        else:
            with Image.open(path) as im:
                array = _select(np.asarray(_plain(upright(im)).resize(
                    size, Image.Resampling.BILINEAR, box=box)), bands)
    except Exception as err:  # decoders raise many types for a bad file
        raise UnreadableImage(path, f"cannot be shown ({err})") from None
    return to_rgb8(array, percentiles)


def encode_jpeg(array: np.ndarray, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_png(array: np.ndarray) -> bytes:
    """Lossless, with transparency: for overlays (RGBA) and labels."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def display_jpeg(path: str | os.PathLike, max_size: int = 1024,
                 bands: Sequence[int] | None = None) -> tuple[bytes, tuple[int, int]]:
    """JPEG bytes for the browser and the (width, height) they show."""
    array = read_display_array(path, max_size, bands)
    return encode_jpeg(array), (array.shape[1], array.shape[0])


def to_rgb8(array: np.ndarray, percentiles=DEFAULT_PERCENTILES) -> np.ndarray:
    """H x W or H x W x B data of any dtype as H x W x 3 uint8."""
    if array.ndim == 2:
        array = array[..., None]
    if array.dtype != np.uint8:
        array = _stretch(array.astype(np.float32), percentiles)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array[..., :3])


def _stretch(array: np.ndarray, percentiles) -> np.ndarray:
    out = np.empty(array.shape, np.uint8)
    for b in range(array.shape[2]):
        band = array[..., b]
        finite = band[np.isfinite(band)]
        low, high = np.percentile(finite, percentiles) if finite.size else (0.0, 1.0)
        scaled = (band - low) / (high - low if high > low else 1.0)
        out[..., b] = np.clip(np.nan_to_num(scaled) * 255, 0, 255).astype(np.uint8)
    return out


def _read_pil(path: Path, max_size: int, bands) -> np.ndarray:
    with Image.open(path) as im:
        if im.format == "JPEG":
            im.draft("RGB", (max_size, max_size))  # decode at 1/2, 1/4 or 1/8 scale
        im = _plain(upright(im))
        im.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
        return _select(np.asarray(im), bands)


def upright(im: Image.Image) -> Image.Image:
    """The image as its camera meant it shown (EXIF orientation), as labelers see it."""
    return ImageOps.exif_transpose(im) if im.getexif().get(ExifTags.Base.Orientation, 1) \
        != 1 else im


def _plain(im: Image.Image) -> Image.Image:
    """Palette, CMYK (the real orthomosaics are CMYK JPEGs) and the like as RGB."""
    return im.convert("RGB") if im.mode in ("P", "CMYK", "YCbCr", "LA", "1") else im


def _read_raster(path: Path, max_size: int, bands) -> np.ndarray:
    from rasterio.enums import Resampling

    with open_raster(path) as src:
        scale = min(1.0, max_size / max(src.width, src.height))
        shape = (max(1, round(src.height * scale)), max(1, round(src.width * scale)))
        indexes = _rgb_bands(src, bands)
        data = src.read(indexes, out_shape=(len(indexes), *shape),
                        resampling=Resampling.average, masked=True)
        return np.moveaxis(data.filled(np.nan) if data.dtype.kind == "f" else data.data, 0, -1)


def _rgb_bands(src, bands) -> list[int]:
    """The bands asked for; else those the file marks red, green, blue; else the first three."""
    if bands:
        return list(bands)
    from rasterio.enums import ColorInterp

    marked = {c: k for k, c in enumerate(src.colorinterp, start=1)}
    rgb = [marked.get(c) for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)]
    return rgb if all(rgb) else list(range(1, min(src.count, 3) + 1))


def _read_npz(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        for key in ("orig_image", "image"):
            if key in archive.files:
                return archive[key]
    raise UnreadableImage(path, "is an NPZ without an 'image' array")


def _downsample(array: np.ndarray, max_size: int) -> np.ndarray:
    step = int(np.ceil(max(array.shape[:2]) / max_size))
    return array[::step, ::step] if step > 1 else array


def _select(array: np.ndarray, bands) -> np.ndarray:
    if not bands or array.ndim == 2:
        return array
    return array[..., [b - 1 for b in bands]]

