"""Turning files, folders and catalogue frames into image rows.

Files are hashed and their headers read; nothing is decoded and nothing is
copied. Bad files are collected, not raised, so one summary names them all.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj.exceptions import CRSError

from ..batch import IN_PROCESS, run_batch
from ..imagery.files import expand_paths, sha256_file, uri_id
from ..imagery.georef import NoFootprint, centre, crs_wkt, footprint
from ..imagery.header import UnreadableImage, read_header
from .types import StoreError

if TYPE_CHECKING:
    from ..imagery.chips import ChipReport


CHUNK = 500  # image files per Dask task: enough work to outweigh sending it


@dataclass(frozen=True)
class ChipJob:
    """A scene to cut and where its chips go."""
    scene: str
    folder: str
    size: int
    overlap: int
    region: object  # a shapely geometry or GeoJSON dict in lon/lat, or None
    progress: bool


@dataclass
class IngestReport:
    """What an add_images call found: ids of every usable image, and the failures."""

    image_ids: list[str] = field(default_factory=list)
    row_ids: list[str | None] = field(default_factory=list)  # per frame row; None: skipped
    added: int = 0
    failures: list[UnreadableImage] = field(default_factory=list)
    without_footprint: list[tuple[str, str]] = field(default_factory=list)  # (name, why)

    def summary(self) -> str:
        lines = [f"{len(self.image_ids)} images ({self.added} new), {len(self.failures)} skipped"]
        lines += [f"  skipped {f.path}: {f.reason}" for f in self.failures]
        lines += [f"  {name}: added without a footprint: {why}"
                  for name, why in self.without_footprint]
        return "\n".join(lines)


class AddedImages(list):
    """The ids ``add_images`` returns, every usable image it found (a list, in order),
    whose repr is one line: a cell ending with it does not print 50,000 hashes."""

    def __init__(self, report: IngestReport):
        super().__init__(report.image_ids)
        self.report = report

    def __repr__(self) -> str:
        r = self.report
        unplaced = f", {len(r.without_footprint)} without a footprint" \
            if r.without_footprint else ""
        listed = "; .report.summary() lists them" if r.failures or unplaced else ""
        return (f"<{len(self)} images: {r.added} new, {len(r.failures)} skipped{unplaced}"
                f"{listed}>")


def rows_from_files(sources, recursive: bool, progress: bool, report: IngestReport,
                    scheduler: str | None = IN_PROCESS, workers: int | None = None
                    ) -> list[dict]:
    """A row per readable image file, headers read (and files hashed) here or, in
    chunks, on Dask (``scheduler``, as ``batch.run_batch`` takes it)."""
    paths = expand_paths(sources, recursive)
    if scheduler is IN_PROCESS:
        rows, found = header_rows(paths, progress)
        merge_report(report, found)
        return rows
    chunks = [paths[k:k + CHUNK] for k in range(0, len(paths), CHUNK)]
    rows = []
    for part, found in run_batch(header_rows, chunks, scheduler=scheduler, workers=workers,
                                 desc=f"Reading image headers ({CHUNK} a chunk)",
                                 progress=progress):
        rows.extend(part)
        merge_report(report, found)
    return rows


def header_rows(paths: list[Path], progress: bool = False) -> tuple[list[dict], IngestReport]:
    """The rows of ``paths`` and what could not be read: a worker's part."""
    from tqdm.auto import tqdm  # on first use: it costs a tenth of the store's start-up

    report = IngestReport()
    rows = []
    for path in tqdm(paths, desc="Reading image headers", unit="image", disable=not progress):
        try:
            header = read_header(path)
            digest = sha256_file(path)
        except UnreadableImage as err:
            report.failures.append(err)
            continue
        except Exception as err:  # one odd file must not stop a long scan
            report.failures.append(UnreadableImage(path, f"cannot be read ({err})"))
            continue
        row = _base_row(digest, path.name, str(path), sha256=digest)
        row.update(width=header.width, height=header.height, bands=header.bands,
                   dtype=header.dtype)
        if header.crs and header.transform:
            row.update(_georeference(header.crs, header.transform, header.width, header.height,
                                     path.name, report))
        rows.append(row)
    return rows, report


def chip_rows(job: ChipJob) -> tuple[ChipReport, list[dict], IngestReport]:
    """One scene cut into chips, and the chips' rows: a worker's part."""
    from ..imagery.chips import cut_chips  # rasterio, on first use

    cut = cut_chips(job.scene, job.folder, size=job.size, overlap=job.overlap,
                    region=job.region, progress=job.progress)
    # the chips' headers are known from the cut: hashed, the files are not opened again
    catalogue = pd.DataFrame([vars(header) for header in cut.headers],
                             columns=["width", "height", "bands", "dtype", "crs", "transform"])
    catalogue["uri"] = [str(p) for p in cut.paths]
    catalogue["sha256"] = [sha256_file(p) for p in cut.paths]
    catalogue["props"] = [{"scene": job.scene, "window": list(w)} for w in cut.windows]
    report = IngestReport()
    return cut, rows_from_frame(catalogue, report), report


def merge_report(report: IngestReport, found: IngestReport) -> None:
    """Add what a worker's part found to the whole call's report."""
    report.failures.extend(found.failures)
    report.without_footprint.extend(found.without_footprint)


def rows_from_frame(frame: pd.DataFrame, report: IngestReport) -> list[dict]:
    """Catalogue rows: files that may be elsewhere; geometry is the footprint in lon/lat.

    A row whose file is here is hashed and its header read, as for a folder;
    values given in the frame win over what the header says.
    """
    uri_column = next((c for c in ("uri", "path", "url") if c in frame.columns), None)
    if uri_column is None:
        raise ValueError("an image frame needs a 'path', 'uri' or 'url' column")
    if frame[uri_column].isna().any():
        bad = frame.index[frame[uri_column].isna()][:5].tolist()
        raise ValueError(f"image frame rows {bad} have no {uri_column}")
    frame = _to_lonlat(frame)
    uris = frame[uri_column].astype(str).to_numpy()
    ids = _column(frame, "image_id")
    sha = _column(frame, "sha256")
    names = _column(frame, "name")
    geometries = _column(frame, "geometry")
    valid = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    finite = np.isfinite(shapely.bounds(geometries)).all(axis=1)
    if (valid & ~finite).any():
        k = int(np.argmax(valid & ~finite))
        raise StoreError(f"image frame row {k}: its footprint has coordinates that are not "
                         "finite numbers")
    _check_on_earth(shapely.bounds(geometries), valid)
    wkbs = np.where(valid, shapely.to_wkb(geometries), None)
    centroids = shapely.centroid(geometries)
    lons, lats = shapely.get_x(centroids), shapely.get_y(centroids)
    acquired = _timestamps(frame)
    optional = {c: _column(frame, c) for c in ("width", "height", "bands", "dtype", "crs")}
    transforms = _column(frame, "transform")
    props = _column(frame, "props")
    rows = []
    for i, uri in enumerate(uris):
        local = not is_remote(uri)
        missing = not (local and os.path.exists(uri))
        digest = sha[i] if isinstance(sha[i], str) else None
        header = {}
        if not missing and digest is None:
            try:
                header = vars(read_header(uri))
                digest = sha256_file(uri)
            except UnreadableImage as err:
                report.failures.append(err)
                report.row_ids.append(None)
                continue
        image_id = ids[i] if isinstance(ids[i], str) else (digest or uri_id(uri))
        name = names[i] if isinstance(names[i], str) else uri.rstrip("/").rsplit("/", 1)[-1]
        row = _base_row(image_id, name, os.path.abspath(uri) if local else uri, sha256=digest,
                        missing=missing)
        for column, values in optional.items():
            given = _scalar(values[i])
            if column in PIXEL_COUNTS and given is not None:
                given = _pixel_count(given, column, i, name)
            row[column] = header.get(column) if given is None else given
        if isinstance(row["crs"], str):
            try:
                row["crs"] = crs_wkt(row["crs"])
            except CRSError:
                raise StoreError(f"image {name!r}: {row['crs'][:80]!r} is not a CRS") from None
        transform = transforms[i] if _present(transforms[i]) else header.get("transform")
        if transform is not None:
            row["transform"] = [float(v) for v in transform][:6]
        row["acquired_at"] = acquired[i]
        if isinstance(props[i], dict):
            row["props"] = props[i]
        if valid[i]:
            row.update(footprint=wkbs[i], lon=float(lons[i]), lat=float(lats[i]))
        elif row["crs"] and row["transform"] and row["width"] and row["height"]:
            row.update(_georeference(row["crs"], row["transform"], row["width"], row["height"],
                                     name, report))
        report.row_ids.append(row["image_id"])
        rows.append(row)
    return rows


PIXEL_COUNTS = ("width", "height", "bands")


def _pixel_count(value, column: str, row: int, name: str) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and \
            float(value).is_integer() and 0 < value < 2**31:
        return int(value)
    shown = f"{value:g}" if isinstance(value, float) else repr(value)
    raise StoreError(f"image frame row {row} ({name!r}): {column} {shown} is not a "
                     "positive whole number")


def _check_on_earth(bounds: np.ndarray, valid: np.ndarray) -> None:
    """Footprints in lon/lat: latitudes within +-90, longitudes within -180..180 (or
    0..360, a convention some catalogues keep)."""
    west, south, east, north = bounds.T
    off = valid & ((south < -90) | (north > 90) | (west < -180) | (east > 360))
    if off.any():
        k = int(np.argmax(off))
        raise StoreError(f"image frame row {k}: its footprint spans longitude "
                         f"{west[k]:g}..{east[k]:g}, latitude {south[k]:g}..{north[k]:g}, "
                         "off the Earth in degrees; is its CRS right?")


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def _base_row(image_id, name, uri, sha256=None, missing=False) -> dict:
    return dict(image_id=image_id, name=name, uri=uri, sha256=sha256, file_missing=missing,
                width=None, height=None, bands=None, dtype=None, crs=None, transform=None,
                footprint=None, lon=None, lat=None, acquired_at=None, added_at=time.time(),
                props=None)


def _georeference(crs: str, transform, width: int, height: int, name: str,
                  report: IngestReport) -> dict:
    """CRS, transform and footprint; an image off the Earth's map keeps its CRS and
    transform (its own coordinates hold) and the report says why it has no footprint."""
    try:
        outline = footprint(crs, transform, width, height)
    except NoFootprint as why:
        report.without_footprint.append((name, str(why)))
        return dict(crs=crs, transform=list(transform)[:6])
    return dict(crs=crs, transform=list(transform)[:6], **_footprint_columns(outline))


def _footprint_columns(geometry) -> dict:
    lon, lat = centre(geometry)
    return dict(footprint=shapely.to_wkb(geometry), lon=float(lon), lat=float(lat))


def _to_lonlat(frame: pd.DataFrame) -> pd.DataFrame:
    # a "crs" column is not a CRS; nor has a GeoDataFrame without a geometry column one
    geo = isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame
    crs = frame.crs if geo else None
    if crs is not None and not crs.equals("EPSG:4326"):
        return frame.to_crs("EPSG:4326")
    return frame


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy(dtype=object)
    return np.full(len(frame), None, dtype=object)


def _timestamps(frame: pd.DataFrame) -> list:
    column = next((c for c in ("acquired_at", "date", "datetime") if c in frame.columns), None)
    if column is None:
        return [None] * len(frame)
    times = pd.to_datetime(frame[column], errors="coerce", utc=True)
    seconds = (times - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return [None if pd.isna(s) else float(s) for s in seconds]


def _present(value) -> bool:
    return value is not None and not _is_na(value)


def _is_na(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _scalar(value):
    if not _present(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def path_of(uri: str) -> Path | None:
    """A local path for a stored uri, or None for a remote one."""
    if is_remote(uri):
        return None
    return Path(uri[len("file://"):] if uri.startswith("file://") else uri)
