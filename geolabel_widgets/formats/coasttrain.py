"""Coast Train records: the metadata CSV as a catalogue of images and their labels.

A record's CSV alone says, per image: its file, footprint, size, date and
projection, who labeled it (the ``_IDn`` suffix of the file names), which
classes it contains and what fraction of it was doodled. That is enough for
every distribution figure. The real CSVs differ in column order, write paths
with and without folders or a leading slash, and spell missing values ``n/a``,
``na`` or not at all; all of it is read here.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from ..store import LabelStore
from ..store.remap import read_remap_files
from .atomic import unpacked, whole_or_nothing
from .coasttrain_npz import image_files_from_npz, write_masks, write_record
from .registry import Format
from .safety import FormatError

MISSING = ["n/a", "na", "N/A", "NA", "", "nan", "NaN", "None", "null"]
REQUIRED = ("image_filename", "classes_array", "classes_present_array", "ImageHeightPx",
            "ImageWidthPx")
DOODLER_SETTINGS = ("pen_width", "CRF_theta", "CRF_mu", "CRF_downsample_factor",
                    "Classifier_downsample_factor", "prob_of_unary_potential", "num_of_scales")
SENSORS = {"naip": "NAIP", "s2": "Sentinel-2", "l8": "Landsat-8", "quads": "PlanetScope",
           "madeira": "orthomosaic", "sandwich": "orthomosaic", "dauphin": "orthomosaic",
           "elwha": "Landsat-8"}
_LABELER = re.compile(r"_ID(\d+)(?:_|\.|$)")
MAX_CSV_BYTES = 200 * 2**20
MAX_CELL_CHARS = 20_000  # a class list; anything longer is not one


def read_coasttrain(store: LabelStore, source: str | os.PathLike, *,
                    dataset: str | None = None, task: str | None = None,
                    mode: str = "replace", extract_to: str | os.PathLike | None = None,
                    remap=None, view: str = "superclasses", progress: bool = True) -> list[str]:
    """Import a record: its metadata CSV alone, or a record folder or ``.zip`` with NPZ
    files (a zip is unpacked, safely, into ``extract_to``, default beside it).

    From the CSV: images as catalogue rows (their files need not be here), labelers
    from the ``_IDn`` suffix. Without NPZ files, classes present become multilabel tags
    of the task ``task`` (default "<dataset> classes") and the doodled fraction a doodle
    row; labels already there are superseded (``mode="replace"``) or kept (``"keep"``),
    and what changed is in ``store.last_import``. With them, that task is a semantic
    segmentation: each NPZ's label and doodles become mask rows (earlier trials first,
    kept as history), with the Doodler settings. ``remap`` (one or more remap JSON files)
    maps this record's classes to super-classes in the class view ``view``, beside
    what that view says of other records. One transaction. Returns the image ids.
    """
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".zip":
        with unpacked(source, extract_to or source.with_suffix("")) as folder:
            return read_coasttrain(store, folder, dataset=dataset, task=task, mode=mode,
                                   remap=remap, view=view, progress=progress)
    with store.transaction():
        ids = _read_record(store, source, dataset, task, mode, progress)
        if remap is not None:
            name = store.images.loc[ids[0], "dataset"] if ids else dataset
            store.remap(view, {**store.view_aliases(view), name: read_remap_files(remap)})
        return ids


def _read_record(store, source: Path, dataset, task, mode, progress) -> list[str]:
    path = _csv_of(source)
    dataset = dataset or record_name(path)
    frame = read_metadata_csv(path)
    with_npz = path.parent.joinpath("npz").is_dir()
    task = task or f"{dataset} classes"
    classes = list(dict.fromkeys(c for row in frame["classes"] for c in row))
    present = {c for row in frame["present"] for c in row}
    unknown = present - set(classes)
    if unknown:
        raise FormatError(f"{path}: classes_present_array names classes missing from "
                         f"classes_array: {sorted(unknown)}")
    store.add_dataset(dataset, sensor=_sensor(path.stem), source="coasttrain",
                      description=f"Coast Train record read from {path.name}")
    if with_npz:
        store.add_task(task, type="semantic_segmentation", classes=classes,
                       description=f"Label masks of {dataset} (Coast Train)")
    else:
        store.add_task(task, type="multilabel", classes=classes,
                       description=f"Classes present in each image of {dataset} (Coast Train)")
    for labeler in sorted(frame["labeler"].unique()):
        store.add_labeler(labeler, anonymized_id=labeler.removeprefix("ID"))
    catalogue = _catalogue(frame, path.parent, dataset)
    if with_npz:
        catalogue["uri"] = image_files_from_npz(path.parent, frame).to_numpy()
    store.add_images(catalogue, dataset=dataset, progress=False)
    if store.last_ingest.failures:
        raise FormatError(store.last_ingest.summary())
    ids = store.last_ingest.row_ids  # one per CSV row: two labelers' rows share an image
    if with_npz:
        write_masks(store, path.parent, frame, ids, task, progress)
        return list(dict.fromkeys(ids))
    labels = pd.concat([
        pd.DataFrame({"image_id": ids, "labeler": frame["labeler"], "kind": "tag",
                      "value": frame["present"]}),
        pd.DataFrame({"image_id": ids, "labeler": frame["labeler"], "kind": "doodles",
                      "value": None, "props": frame["doodle_props"]})
        .loc[frame["doodle_props"].notna().to_numpy()],
    ], ignore_index=True)
    store.add_labels(labels, task=task, mode=mode)
    return list(dict.fromkeys(ids))


@whole_or_nothing
def write_coasttrain(store: LabelStore, dest: str | os.PathLike, *, task: str,
                     progress: bool = True) -> pd.DataFrame:
    """Write a task's masks and doodles as a record folder (``dest``, or a ``.zip``):
    the metadata CSV, ``images/`` and ``npz/`` with the keys Coast Train uses."""
    dest = Path(dest)
    if dest.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / dest.stem
            table = write_record(store, folder, task, progress)
            shutil.make_archive(str(dest.with_suffix("")), "zip", folder)
        return table
    return write_record(store, dest, task, progress)


def record_name(path: Path) -> str:
    """``A_naip_meta_served.csv`` -> ``A_naip``."""
    return re.sub(r"_meta(data)?(_all)?(_served)?$", "", path.stem) or path.stem


def read_metadata_csv(path: Path) -> pd.DataFrame:
    """The CSV, checked and normalised: one row per image, with parsed lists.

    Adds ``labeler``, ``classes``, ``present``, ``image_path`` and ``doodle_props``;
    a row that cannot be read stops the import with its line number.
    """
    if path.stat().st_size > MAX_CSV_BYTES:
        raise FormatError(f"{path} is larger than {MAX_CSV_BYTES // 2**20} MB; "
                         "not a Coast Train metadata CSV")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=MISSING)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise FormatError(f"{path}: not a readable CSV ({err})") from None
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise FormatError(f"{path}: missing column(s) {', '.join(missing)}")
    frame = frame.reset_index(drop=True)
    line = frame.index + 2  # the header is line 1
    if frame["image_filename"].isna().any():
        raise FormatError(f"{path} line {line[frame['image_filename'].isna()][0]}: "
                         "image_filename is empty")
    frame["image_path"] = frame["image_filename"].str.strip().str.lstrip("/")
    named = [c for c in ("image_filename", "label_image_filename", "annotation_image_filename")
             if c in frame.columns]
    named_labelers = frame["labeler"].copy() if "labeler" in frame.columns else None
    frame["labeler"] = [_labeler_of(row, n, path)
                        for row, n in zip(frame[named].fillna("").to_numpy(), line)]
    if named_labelers is not None:  # our own records keep each labeler's name too
        frame["labeler"] = named_labelers.where(named_labelers.notna(), frame["labeler"])
    frame["classes"] = [_names(v, n, "classes_array", path)
                        for v, n in zip(frame["classes_array"], line)]
    frame["present"] = _present(frame, line, path)
    for column in ("ImageHeightPx", "ImageWidthPx"):
        sizes = pd.to_numeric(frame[column], errors="coerce")
        bad = sizes.isna() | (sizes <= 0)
        if bad.any():
            raise FormatError(f"{path} line {line[bad.to_numpy()][0]}: {column} is "
                             f"{frame[column][bad].iloc[0]!r}, not a size in pixels")
        frame[column] = sizes.astype("int64")
    density = pd.to_numeric(frame["doodle_spatial_density"], errors="coerce") \
        if "doodle_spatial_density" in frame.columns else None
    settings = frame[[c for c in DOODLER_SETTINGS if c in frame.columns]]
    frame["doodle_props"] = [
        None if pd.isna(d) else {"doodled_fraction": float(d), "doodler_settings": {
            k: _number(v) for k, v in s.items() if isinstance(v, str)}}
        for d, s in zip(density if density is not None else [np.nan] * len(frame),
                        settings.to_dict("records"))]
    return frame


def _present(frame: pd.DataFrame, line, path: Path) -> list[list[str]]:
    """Each row's classes present: ``classes_present_integer`` (0-based into
    ``classes_array``, what the authors' own figures count) where the row has it, else
    ``classes_present_array``. Where the two disagree (record B lists every class in
    its array on every row), the integers win, with one warning for the record."""
    named = [_names(v, n, "classes_present_array", path)
             for v, n in zip(frame["classes_present_array"], line)]
    if "classes_present_integer" not in frame.columns:
        return named
    present, disagree = [], 0
    for value, classes, names, n in zip(frame["classes_present_integer"], frame["classes"],
                                        named, line):
        indices = _indices(value, n, len(classes), path)
        if indices is None:
            present.append(names)
            continue
        chosen = [classes[k] for k in indices]
        disagree += sorted(set(chosen)) != sorted(set(names))
        present.append(chosen)
    if disagree:
        warnings.warn(f"{path.name}: classes_present_array disagrees with "
                      f"classes_present_integer in {disagree} of {len(frame)} rows; the "
                      "integers are used (the authors' own figures count them)", stacklevel=4)
    return present


def _indices(value, line: int, count: int, path: Path) -> list[int] | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        indices = [int(v) for v in re.split(r"[,\s\[\]]+", value.strip()) if v]
    except ValueError:
        raise FormatError(f"{path} line {line}: classes_present_integer is not a list of "
                         f"integers: {value[:80]!r}") from None
    bad = [k for k in indices if not 0 <= k < count]
    if bad:
        raise FormatError(f"{path} line {line}: classes_present_integer holds {bad[0]}, "
                         f"outside the {count} classes of classes_array")
    return indices


def _catalogue(frame: pd.DataFrame, folder: Path, record: str) -> gpd.GeoDataFrame:
    """Image rows. A file that is not beside the CSV is named inside its record
    (``coasttrain://A_naip/images/x.jpg``): the real records repeat a few file
    names, and a CSV read alone must not merge two records' images."""
    corners = ["LonMin", "LatMin", "LonMax", "LatMax"]
    geometry = [None] * len(frame)
    if set(corners) <= set(frame.columns):
        bounds = frame[corners].apply(pd.to_numeric, errors="coerce").to_numpy()
        geometry = [None if np.isnan(b).any() else box(*b) for b in bounds]
    return gpd.GeoDataFrame({
        "uri": [str(folder / p) if (folder / p).is_file() else f"coasttrain://{record}/{p}"
                for p in frame["image_path"]],
        "name": [Path(p).name for p in frame["image_path"]],
        "width": frame["ImageWidthPx"], "height": frame["ImageHeightPx"],
        "bands": pd.to_numeric(frame.get("ImageBands"), errors="coerce"),
        "crs": [f"EPSG:{int(e)}" if e == e else None
                for e in pd.to_numeric(frame.get("epsg"), errors="coerce")]
        if "epsg" in frame.columns else None,
        "transform": _transforms(frame),
        "acquired_at": _dates(frame),
        "props": [_image_props(row) for row in frame.to_dict("records")],
    }, geometry=geometry, crs="EPSG:4326")


def _transforms(frame: pd.DataFrame) -> list:
    """Pixel -> projected CRS, from the record's XMin..YMax bounds and image size."""
    columns = ["XMin", "XMax", "YMin", "YMax"]
    if not set(columns) <= set(frame.columns):
        return [None] * len(frame)
    xmin, xmax, ymin, ymax = (pd.to_numeric(frame[c], errors="coerce") for c in columns)
    width, height = frame["ImageWidthPx"], frame["ImageHeightPx"]
    return [None if np.isnan([a, b, c, d]).any() else
            [(b - a) / w, 0.0, a, 0.0, -(d - c) / h, d]
            for a, b, c, d, w, h in zip(xmin, xmax, ymin, ymax, width, height)]


def _dates(frame: pd.DataFrame) -> pd.Series:
    parts = ["year", "month", "day", "hour", "minute", "second"]
    if not {"year", "month", "day"} <= set(frame.columns):
        return pd.Series([pd.NaT] * len(frame))
    values = {p: pd.to_numeric(frame[p], errors="coerce") if p in frame.columns else 0
              for p in parts}
    return pd.to_datetime(pd.DataFrame(values), errors="coerce", utc=True)


def _image_props(row: dict) -> dict:
    keep = ("label_image_filename", "annotation_image_filename", "acc_georef", "px_size_m",
            "CRS")
    return {"coasttrain": {k: row[k] for k in keep if isinstance(row.get(k), str)}}


def _labeler_of(files, line: int, path: Path) -> str:
    for name in files:
        match = _LABELER.search(Path(name).name)
        if match:
            return f"ID{int(match.group(1))}"
    raise FormatError(f"{path} line {line}: no _IDn labeler suffix in {files[0]!r}")


def _names(value, line: int, column: str, path: Path) -> list[str]:
    """``"'water', 'sand'"`` -> ["water", "sand"], read as Python literals, never eval'd."""
    if not isinstance(value, str):
        return []
    if len(value) > MAX_CELL_CHARS:
        raise FormatError(f"{path} line {line}: {column} is {len(value)} characters long; "
                         "not a list of class names")
    try:
        parsed = ast.literal_eval(f"[{value}]")
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        raise FormatError(f"{path} line {line}: {column} is not a list of quoted class names: "
                         f"{value[:80]!r}") from None
    if not all(isinstance(v, str) for v in parsed):
        raise FormatError(f"{path} line {line}: {column} holds non-names: {value[:80]!r}")
    return [v.strip() for v in parsed]


def _number(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _sensor(stem: str) -> str | None:
    words = re.split(r"[_\W]+", stem.lower())
    return next((SENSORS[w] for w in words if w in SENSORS), None)


def _csv_of(source: Path) -> Path:
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise FormatError(f"{source}: a Coast Train record is its metadata CSV, or a "
                             "folder or .zip holding it")
        return source
    if source.is_dir():
        found = sorted(source.glob("*.csv"))
        if len(found) != 1:
            raise FormatError(f"{source}: expected one metadata CSV, found {len(found)}")
        return found[0]
    raise FileNotFoundError(f"no Coast Train record at {source}")


FORMAT = Format("coasttrain", read=read_coasttrain, write=write_coasttrain,
                import_options=frozenset({"mode", "remap"}))
