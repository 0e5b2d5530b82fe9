"""Labels as GeoParquet: the GeoJSON export's table (one row per annotation, EPSG:4326),
in a columnar file that geopandas, GDAL and DuckDB read fast."""

from __future__ import annotations

import os

import geopandas as gpd
import pyarrow

from ..store import LabelStore
from .atomic import whole_or_nothing
from .geojson import labels_frame, parse_geojson
from .records import write_records
from .registry import Format
from .safety import FormatError


@whole_or_nothing
def write_geoparquet(store: LabelStore, dest: str | os.PathLike, *, task: str | None = None
                     ) -> gpd.GeoDataFrame:
    frame = labels_frame(store, task)
    frame.to_parquet(dest, index=False)
    return frame


def read_geoparquet(store: LabelStore, source: str | os.PathLike, *,
                    dataset: str | None = None, progress: bool = True) -> list[str]:
    try:
        frame = gpd.read_parquet(source)
    except (pyarrow.ArrowException, ValueError, TypeError, OSError) as err:
        raise FormatError(f"{source}: not a readable GeoParquet file ({err})") from None
    return write_records(store, parse_geojson(frame, source), dataset=dataset,
                         progress=progress)


FORMAT = Format("geoparquet", read=read_geoparquet, write=write_geoparquet,
                parse=parse_geojson, exports="any tasks")
