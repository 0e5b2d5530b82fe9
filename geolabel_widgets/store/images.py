"""Images: added by reference (files, catalogues, chips cut from big scenes), each
found again where it moved, and read back as GeoDataFrames."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import pandas as pd
import sqlalchemy as sa

from ..batch import run_batch
from . import aggregates, frames, writes
from . import schema as s
from .retry import retried
from .types import StoreError, chunks

if TYPE_CHECKING:  # adding images loads pyproj and geopandas; reading labels does not
    import geopandas as gpd

    from .ingest import AddedImages, IngestReport


class UnreadableImagesWarning(UserWarning):
    """Some files given to add_images could not be used, or have no place on the map;
    the message lists them."""


class ImagesMixin:
    """LabelStore's images: adding them and reading them."""

    def add_images(self, source, *, dataset: str, recursive: bool = True,
                   progress: bool = True, scheduler: str | None = None,
                   workers: int | None = None) -> AddedImages:
        """Add images by reference: a folder, file, list of paths, or a (Geo)DataFrame.

        Files are hashed (sha256) and only their headers read: here, or on Dask with
        ``scheduler="local"`` (a LocalCluster of ``workers``) or a scheduler's address,
        for catalogues of many thousand files. Returns the ids of every usable image
        found, including those already in the store (a list, shown as a one-line
        count); unreadable files are listed in one warning (and in its ``.report``).
        """
        from .ingest import AddedImages, IngestReport, rows_from_files, rows_from_frame

        report = IngestReport()
        if isinstance(source, pd.DataFrame):
            rows = rows_from_frame(source, report)
        else:
            rows = rows_from_files(source, recursive, progress, report, scheduler, workers)
        report.image_ids, report.added = self._insert_images(rows, dataset)
        self._ingested(report)
        return AddedImages(report)

    def _ingested(self, report: IngestReport) -> None:
        self.last_ingest = report
        if report.failures or report.without_footprint:
            warnings.warn(report.summary(), UnreadableImagesWarning, stacklevel=3)

    def add_chips(self, scene: str | os.PathLike | Sequence, *, size: int = 512,
                  overlap: int = 0, region=None, dataset: str | None = None,
                  folder: str | os.PathLike | None = None, progress: bool = True,
                  scheduler: str | None = None, workers: int | None = None) -> list[str]:
        """Cut large georeferenced rasters into ``size`` x ``size`` chips and add them.

        ``scene``: one raster, or a list of them, cut one per Dask task with
        ``scheduler`` ("local" or a scheduler's address; default: here, in turn). A
        scene is read window by window (never whole); chips of nodata only, and
        chips outside ``region`` (a shapely geometry or GeoJSON dict in lon/lat), are
        skipped. Chips are GeoTIFFs in ``folder`` (default: ``<scene>_chips`` beside the
        store's masks; a store on a server, or a cluster, needs one every kernel and
        worker reads; several scenes get a folder each inside it), each with its
        footprint, and remember their scene and window in ``props``. A scene's chips
        are its dataset (``dataset``, default the scene's name). Returns the chips'
        image ids; ``store.last_chips`` says what was cut.
        """
        from ..imagery.chips import ChipReport
        from .ingest import AddedImages, ChipJob, IngestReport, chip_rows, merge_report

        scenes = [scene] if isinstance(scene, (str, os.PathLike)) else list(scene)
        if folder is None and self.mask_dir is None:
            raise StoreError("a store on a server keeps no files: give add_chips a folder "
                             "that every labeler's kernel can read")
        jobs = [ChipJob(str(one), str(self._chip_folder(one, folder, len(scenes) > 1)),
                        size, overlap, region, progress and len(scenes) == 1)
                for one in scenes]
        folders = {Path(job.folder) for job in jobs} | ({Path(folder)} if folder else set())
        made = [path for path in folders if not path.exists()]  # removed if this fails
        total, report = ChipReport(), IngestReport()
        try:
            cuts = run_batch(chip_rows, jobs, scheduler=scheduler, workers=workers,
                             desc="Chipping scenes", progress=progress and len(scenes) > 1)
            added = self._insert_chips(jobs, cuts, dataset)
            for (cut, _, found), (ids, n) in zip(cuts, added):
                report.image_ids += ids
                report.added += n
                total.paths += cut.paths
                total.windows += cut.windows
                total.nodata_only += cut.nodata_only
                total.outside_region += cut.outside_region
                merge_report(report, found)
        except BaseException:  # no chip files without their rows
            for path in made:
                shutil.rmtree(path, ignore_errors=True)
            raise
        self.last_chips = total
        self._ingested(report)
        return AddedImages(report)

    @retried
    def _insert_chips(self, jobs, cuts, dataset) -> list[tuple[list[str], int]]:
        """Every scene's chips in one transaction (tried again whole if the server goes)."""
        with self.transaction():
            return [self._insert_images(rows, dataset or Path(job.scene).stem)
                    for job, (_, rows, _) in zip(jobs, cuts)]

    def _chip_folder(self, scene, folder, several: bool) -> Path:
        name = f"{Path(str(scene)).stem}_chips"
        if folder is None:
            return self.mask_dir.parent / name
        return Path(folder) / name if several else Path(folder)

    @retried
    def _insert_images(self, rows: list[dict], dataset: str) -> tuple[list[str], int]:
        """Insert the rows not yet in the store, and record every new (image, uri) source."""
        ids = list(dict.fromkeys(row["image_id"] for row in rows))
        src = s.image_sources
        with self._write() as conn:
            dataset_id = writes.dataset_id(conn, dataset, create={})
            known: dict[str, str] = {}  # image id -> its uri
            sources: set[tuple[str, str]] = set()
            for chunk in chunks(ids, 900):
                known.update(conn.execute(sa.select(s.images.c.image_id, s.images.c.uri)
                                          .where(s.images.c.image_id.in_(chunk))).all())
                sources.update(conn.execute(sa.select(src.c.image_id, src.c.uri)
                                            .where(src.c.image_id.in_(chunk))).all())
            new, seen, new_sources = [], set(known), []
            for row in rows:
                if row["image_id"] not in seen:
                    seen.add(row["image_id"])
                    new.append({**row, "dataset_id": dataset_id})
                if (row["image_id"], row["uri"]) not in sources:
                    sources.add((row["image_id"], row["uri"]))
                    new_sources.append(dict(image_id=row["image_id"], uri=row["uri"],
                                            dataset_id=dataset_id, added_at=row["added_at"],
                                            props=row.get("props")))
            if new:
                conn.execute(sa.insert(s.images), new)
                aggregates.on_images_added(conn, new)
            if new_sources:
                conn.execute(sa.insert(src), new_sources)
            _follow_moved_files(conn, rows, known)
        return ids, len(new)

    @retried
    def image(self, image_id: str) -> dict:
        """One image's row as a dict (uri, size, georeference ...)."""
        with self._read() as conn:
            row = conn.execute(sa.select(s.images).where(s.images.c.image_id == image_id)).first()
        if row is None:
            raise StoreError(f"no image with id {image_id!r} in this store")
        return dict(row._mapping)

    @property
    @retried
    def sources(self) -> pd.DataFrame:
        """Where each image was found: one row per (image, path or URL), with its dataset.

        An image added again from another path (the same bytes) has several rows.
        """
        src, d = s.image_sources, s.datasets
        with self._read() as conn:
            frame = frames.read_query(conn, sa.select(
                src.c.image_id, src.c.uri, d.c.name.label("dataset"), src.c.added_at)
                .join(d, d.c.dataset_id == src.c.dataset_id)
                .order_by(src.c.added_at, src.c.image_id))
        frame["added_at"] = pd.to_datetime(frame["added_at"], unit="s", utc=True)
        return frame

    @property
    @retried
    def images(self) -> gpd.GeoDataFrame:
        """Every image, indexed by image_id; geometry is the footprint in EPSG:4326."""
        with self._read() as conn:
            return frames.images_frame(conn)

    @retried
    def footprints(self, task: str | None = None) -> gpd.GeoDataFrame:
        """Name, dataset, place in the store's order (seq) and footprint (or centroid
        point) of every located image (of those ``task`` covers): what a map needs,
        without the rest of each image's row."""
        with self._read() as conn:
            scope = self._in_scope(conn, self._cache.task(task)) if task is not None else None
            return frames.footprints_frame(conn, scope)

    @retried
    def centres(self, task: str | None = None) -> pd.DataFrame:
        """Dataset and centre (lon, lat) of every located image (of those ``task`` covers),
        indexed by its place in the store's order: what a map of a million images draws
        first, while their footprints are read."""
        with self._read() as conn:
            scope = self._in_scope(conn, self._cache.task(task)) if task is not None else None
            return frames.centres_frame(conn, scope)

    @retried
    def images_of(self, image_ids: Sequence[str]) -> gpd.GeoDataFrame:
        """The rows of these images, in this order: what a queue of a few hundred needs,
        without reading every image's row."""
        ids = list(image_ids)
        if len(ids) > 20 * 900:  # most of the store: one read is quicker
            return self.images.reindex(ids)
        with self._read() as conn:
            parts = [frames.images_frame(conn, where=s.images.c.image_id.in_(chunk))
                     for chunk in chunks(ids, 900)]
        if not parts:
            return self.images.iloc[:0]
        return pd.concat(parts).reindex(ids)


def _follow_moved_files(conn, rows: list[dict], known: dict[str, str]) -> None:
    """An image found again at a new path, its old one gone (the files moved, or the
    store came from another machine), is read from where it is now."""
    from .ingest import is_remote

    for row in rows:
        old = known.get(row["image_id"])
        if old is None or old == row["uri"] or row.get("file_missing") or is_remote(old) \
                or os.path.exists(old):
            continue
        conn.execute(sa.update(s.images).where(s.images.c.image_id == row["image_id"])
                     .values(uri=row["uri"], file_missing=False))
        known[row["image_id"]] = row["uri"]
