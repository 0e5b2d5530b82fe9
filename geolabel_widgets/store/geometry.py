"""Geometry columns: PostGIS geometries where the store's server has PostGIS, WKB bytes
elsewhere, and WKB bytes to and from Python either way.

On PostGIS the columns are real geometries (footprints and world coordinates in
EPSG:4326, pixel shapes without an SRID) with spatial indexes, so that a team can
query them in SQL or open them in QGIS. Whether a store uses PostGIS is decided
when it is created and kept in ``store_info``; a store never changes its mind.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

POSTGIS, WKB = "postgis", "wkb"


def uses_postgis(dialect) -> bool:
    return getattr(dialect, "geolabel_geometry", WKB) == POSTGIS


class Geometry(sa.types.TypeDecorator):
    """A geometry column, read and written as WKB bytes."""

    impl = sa.LargeBinary
    cache_ok = True

    def __init__(self, srid: int = 0):
        super().__init__()
        self.srid = srid

    def load_dialect_impl(self, dialect):
        if uses_postgis(dialect):
            return dialect.type_descriptor(_PostGISGeometry(self.srid))
        return dialect.type_descriptor(sa.LargeBinary())

    def bind_expression(self, value):
        return _FromWKB(value, sa.literal_column(str(int(self.srid))))

    def column_expression(self, column):
        return _AsWKB(column)


class _PostGISGeometry(sa.types.UserDefinedType):
    cache_ok = True

    def __init__(self, srid: int):
        self.srid = srid

    def get_col_spec(self, **kw) -> str:
        return f"geometry(Geometry, {self.srid})" if self.srid else "geometry"


class _FromWKB(FunctionElement):
    inherit_cache = True


class _AsWKB(FunctionElement):
    inherit_cache = True
    type = sa.LargeBinary()


@compiles(_FromWKB)
def _from_wkb(element, compiler, **kw) -> str:
    value, srid = element.clauses
    if uses_postgis(compiler.dialect):
        return f"ST_GeomFromWKB({compiler.process(value, **kw)}, {compiler.process(srid, **kw)})"
    return compiler.process(value, **kw)


@compiles(_AsWKB)
def _as_wkb(element, compiler, **kw) -> str:
    (column,) = element.clauses
    if uses_postgis(compiler.dialect):
        return f"ST_AsBinary({compiler.process(column, **kw)})"
    return compiler.process(column, **kw)


def choose_geometry(conn, new_store: bool, recorded: str | None) -> str:
    """The geometry kind of this store, set on the connection's dialect before any
    geometry column is used: what it recorded, or for a new store on PostgreSQL,
    PostGIS when the server has it and lets us enable it."""
    kind = recorded or WKB
    if new_store and conn.dialect.name == "postgresql":
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            kind = POSTGIS
        except sa.exc.DBAPIError:  # not installed, or not ours to enable: WKB
            kind = WKB
    conn.dialect.geolabel_geometry = kind
    return kind


def add_spatial_indexes(conn) -> None:
    """GiST indexes on the lon/lat geometries (PostGIS stores)."""
    for table, column in (("images", "footprint"), ("annotations", "world_geometry")):
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS ix_{table}_{column}_gist "
                             f"ON {table} USING GIST ({column})")
