"""Coast Train records with their NPZ files: images, label masks, doodles, Doodler
settings and earlier trials, in and out.

An NPZ holds ``image`` (the first three bands of ``orig_image``), ``orig_image``,
``label`` (class indices into ``classes``, or one-hot H x W x classes as Doodler
writes it), ``color_label``, ``doodles`` (0 not
doodled, k class k-1), ``color_doodles``, ``settings`` and ``classes``; keys with
leading zeros are earlier trials (more zeros, earlier), kept here as history.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning
from tqdm.auto import tqdm

from ..imagery.header import open_raster
from ..store import LabelStore, StoreError
from ..store.ingest import path_of
from .records import image_pixels
from .safety import FormatError, csv_safe, file_name, inside, load_npz

TRIAL = re.compile(r"^(0+)(label|doodles)$")
# what the 7 numbers of an NPZ's ``settings`` are, in order (6: no num_of_scales yet)
SETTINGS_ORDER = ("pen_width", "CRF_downsample_factor", "Classifier_downsample_factor",
                  "CRF_theta", "CRF_mu", "prob_of_unary_potential", "num_of_scales")
CSV_COLUMNS = [
    "label_image_filename", "image_filename", "annotation_image_filename", "classes_array",
    "num_classes", "classes_integer", "classes_present_integer", "classes_present_array",
    "pen_width", "CRF_theta", "CRF_mu", "CRF_downsample_factor", "Classifier_downsample_factor",
    "prob_of_unary_potential", "doodle_spatial_density", "num_of_scales", "acc_georef", "epsg",
    "year", "month", "day", "hour", "minute", "second", "XMin", "XMax", "YMin", "YMax",
    "LonMin", "LonMax", "LatMin", "LatMax", "CRS", "px_size_m", "ImageHeightPx",
    "ImageWidthPx", "ImageBands", "labeler"]
PALETTE = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
                    [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127],
                    [188, 189, 34], [23, 190, 207], [0, 0, 0], [255, 255, 255]], np.uint8)


def image_files_from_npz(folder: Path, frame: pd.DataFrame) -> pd.Series:
    """The image path of each row: the record's own file, or one written from the NPZ's
    ``orig_image`` (a TIFF under ``images_from_npz/``) where the record has none."""
    paths = []
    for row in frame.itertuples():
        path = folder / row.image_path
        npz = _npz_path(folder, row)
        if not path.is_file() and npz is not None:
            path = folder / "images_from_npz" / (Path(row.image_path).stem + ".tif")
            if not path.is_file():
                arrays = load_npz(npz)
                pixels = arrays.get("orig_image", arrays.get("image"))
                if pixels is None or pixels.ndim not in (2, 3):
                    raise FormatError(f"{npz}: no image array (orig_image or image)")
                write_tiff(path, pixels)
        paths.append(str(path))
    return pd.Series(paths, index=frame.index)


def _npz_path(folder: Path, row) -> Path | None:
    name = getattr(row, "annotation_image_filename", None)
    if not isinstance(name, str):
        return None
    path = inside(folder, name.strip().lstrip("/"))  # a CSV naming ../x is refused
    if not path.is_file():
        path = folder / "npz" / Path(name).name
    return path if path.is_file() else None


def trial_prefixes(arrays: dict, key: str) -> list[str]:
    """The zero prefixes under which ``key`` was saved, oldest (most zeros) first and
    the final save (``""``) last."""
    zeros = {m.group(1) for k in arrays if (m := TRIAL.match(k)) and m.group(2) == key}
    return sorted(zeros, key=len, reverse=True) + ([""] if key in arrays else [])


def label_indices(label: np.ndarray, classes: int, where: str) -> np.ndarray:
    """A ``label`` entry as a 2-D class-index raster: as it is, or the argmax of a
    one-hot (H, W, classes) array."""
    if label.ndim == 3 and label.shape[-1] == classes:
        label = np.argmax(label, axis=-1).astype(np.uint8)
    if label.ndim != 2 or label.dtype.kind not in "ui":
        raise FormatError(f"{where} is neither a 2-D integer raster nor one-hot "
                          f"(height, width, {classes}): shape {label.shape}, {label.dtype}")
    return label


def doodler_settings(values) -> dict:
    """An NPZ's ``settings`` array as named numbers (empty where there is none)."""
    if values is None or values.dtype.kind not in "uif" or values.ndim != 1:
        return {}
    return {name: float(v) for name, v in zip(SETTINGS_ORDER, values)}


def read_tiff(path: Path) -> np.ndarray:
    """Pixels as ``write_tiff`` took them."""
    with open_raster(path) as src:
        bands = src.read()
    return bands[0] if len(bands) == 1 else np.moveaxis(bands, 0, -1)


def write_tiff(path: Path, pixels: np.ndarray) -> None:
    bands = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # pixels only; the CSV row georeferences it
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=bands.shape[2],
                           height=bands.shape[1], count=bands.shape[0], dtype=bands.dtype,
                           compress="deflate") as dst:
            dst.write(bands)


def write_masks(store: LabelStore, folder: Path, frame: pd.DataFrame, ids: list[str],
                task: str, progress: bool) -> None:
    """Each row's NPZ as masks and doodles: earlier trials first, so that history keeps
    them and the final ones are current."""
    for row, image_id in tqdm(zip(frame.itertuples(), ids), total=len(frame),
                              desc="Reading NPZ files", disable=not progress):
        npz = _npz_path(folder, row)
        if npz is None:
            continue
        arrays = load_npz(npz)
        classes = _classes(arrays, row.classes, npz)
        settings = row.doodle_props["doodler_settings"] if row.doodle_props else {}
        for kind, key in (("doodles", "doodles"), ("mask", "label")):
            for prefix in trial_prefixes(arrays, key):
                where = f"{npz}: {prefix + key!r}"
                array = arrays[prefix + key]
                array = (label_indices(array, len(classes), where) if kind == "mask"
                         else integer_raster(array, where))
                try:
                    store.add_mask(image_id, array, task=task, labeler=row.labeler,
                                   classes=classes, kind=kind,
                                   props={"doodler_settings": settings, "npz_key": prefix + key})
                except StoreError as err:
                    raise FormatError(f"{where}: {err}") from None


def integer_raster(array: np.ndarray, where: str) -> np.ndarray:
    """``array``, checked to be a 2-D raster of integers."""
    if array.ndim != 2 or array.dtype.kind not in "ui":
        raise FormatError(f"{where} is not a 2-D integer raster")
    return array


def _classes(arrays: dict, fallback: list[str], npz: Path) -> list[str]:
    classes = arrays.get("classes")
    if classes is None:
        return list(fallback)
    if classes.dtype.kind not in "US" or classes.ndim != 1:
        raise FormatError(f"{npz}: 'classes' is not a list of names")
    return [str(c) for c in classes]


def write_record(store: LabelStore, dest: Path, task: str, progress: bool = True
                 ) -> pd.DataFrame:
    """A record folder: ``<name>_meta.csv``, ``images/``, ``npz/`` (one per image and
    labeler, with earlier trials under zero-prefixed keys). Returns the CSV's table."""
    masks = store.get_annotations(task=task, kinds=["mask", "doodles"], history=True)
    masks = masks[~masks["deleted"]].sort_values("annotation_id")
    images = store.images
    labelers = _file_labelers(masks["labeler"].unique())
    (dest / "npz").mkdir(parents=True, exist_ok=True)
    (dest / "images").mkdir(exist_ok=True)
    rows = []
    groups = masks.groupby(["image_id", "labeler"], sort=False)
    for (image_id, labeler), mine in tqdm(groups, total=groups.ngroups, desc="Writing NPZ",
                                          disable=not progress):
        image = images.loc[image_id]
        name = file_name(image["name"])  # a stored name is never a path
        stem = f"{Path(name).stem}_{labelers[labeler]}"
        arrays, classes, settings = {}, None, {}
        for kind, key in (("mask", "label"), ("doodles", "doodles")):
            rows_of_kind = mine[mine["kind"] == kind]
            for zeros, row in enumerate(reversed(list(rows_of_kind.itertuples()))):
                array, classes = store.mask(row.annotation_id)
                arrays["0" * zeros + key] = array.astype(np.uint8)
                settings = (row.props or {}).get("doodler_settings") or settings
        if "label" not in arrays:
            continue
        pixels = image_pixels(image)
        arrays.update(orig_image=pixels, image=pixels[..., :3],
                      color_label=PALETTE[arrays["label"] % len(PALETTE)],
                      classes=np.array(classes),
                      settings=np.array(json.dumps(settings)))
        if "doodles" in arrays:
            arrays["color_doodles"] = np.where(arrays["doodles"][..., None] > 0,
                                               PALETTE[(arrays["doodles"] - 1) % len(PALETTE)], 0
                                               ).astype(np.uint8)
        np.savez_compressed(dest / "npz" / f"{stem}.npz", **arrays)
        image_file = f"images/{name}"  # one file, however many labeled it
        source = path_of(image["uri"])
        if source is not None and source.is_file():
            shutil.copy2(source, dest / image_file)
        else:
            image_file = f"images/{Path(name).stem}.png"
            Image.fromarray(pixels[..., :3]).save(dest / image_file)
        rows.append(_csv_row(image, stem, image_file, classes, arrays, settings, labeler))
    table = pd.DataFrame(rows).reindex(columns=CSV_COLUMNS)
    csv_safe(table).to_csv(dest / f"{dest.name}_meta.csv", index=False)
    return table


def _file_labelers(labelers) -> dict[str, str]:
    """The ``IDn`` each labeler goes by in file names: their own when they have one, else
    the next numbers free (the CSV's ``labeler`` column keeps the real name)."""
    named = {l: l for l in labelers if re.fullmatch(r"ID\d+", l)}
    free = (f"ID{k}" for k in range(1, 10**6) if f"ID{k}" not in named)
    return {**named, **{l: next(free) for l in sorted(set(labelers) - set(named))}}


def _csv_row(image, stem, image_file, classes, arrays, settings, labeler) -> dict:
    present = sorted(int(v) for v in np.unique(arrays["label"]))
    doodles = arrays.get("doodles")
    quoted = ", ".join(map(repr, classes))  # Python literals, as the reader reads them
    row = {"label_image_filename": f"labels/{stem}_label.jpg", "image_filename": image_file,
           "annotation_image_filename": f"npz/{stem}.npz", "classes_array": quoted,
           "num_classes": len(classes),
           "classes_integer": ", ".join(str(k) for k in range(1, len(classes))),
           "classes_present_integer": ", ".join(map(str, present)),
           "classes_present_array": ", ".join(repr(classes[k]) for k in present),
           "doodle_spatial_density": None if doodles is None else float((doodles > 0).mean()),
           "ImageHeightPx": int(image["height"]), "ImageWidthPx": int(image["width"]),
           "ImageBands": int(image["bands"] or 3), "labeler": labeler, **settings}
    if image["geometry"] is not None:
        row.update(zip(("LonMin", "LatMin", "LonMax", "LatMax"), image["geometry"].bounds))
    if isinstance(image["acquired_at"], pd.Timestamp):
        when = image["acquired_at"]
        row.update(year=when.year, month=when.month, day=when.day, hour=when.hour,
                   minute=when.minute, second=when.second)
    return row
