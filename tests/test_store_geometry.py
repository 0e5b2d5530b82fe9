"""Geometry columns on PostgreSQL: PostGIS where the server has it (and lets the store
enable it), WKB otherwise; the same frames either way."""

import secrets

import pytest
import sqlalchemy as sa
from shapely.geometry import box

from geolabel_widgets import LabelStore

pytestmark = pytest.mark.both_backends


@pytest.fixture
def plain_role_url(postgres):
    """A database owned by a role that may not enable PostGIS (not a superuser)."""
    name = "plain_" + secrets.token_hex(4)
    admin = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = 'plain'").first():
            conn.exec_driver_sql("CREATE ROLE plain LOGIN")
        conn.exec_driver_sql(f"CREATE DATABASE {name} OWNER plain")
    admin.dispose()
    return postgres.url(name).replace("geolabel@", "plain@")


def _fill(store, shared_data):
    store.add_images(shared_data / "imagery", dataset="real", progress=False)
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    tif = store.images.index[store.images["name"] == "examplegeotiff.tif"][0]
    store.annotate(tif, box(10, 10, 100, 50), "water", task="cover", labeler="ann")
    return tif


def _column_types(store) -> dict:
    with store.engine.connect() as conn:
        return dict(conn.exec_driver_sql(
            "SELECT table_name || '.' || column_name, udt_name FROM information_schema.columns"
            " WHERE column_name IN ('footprint', 'geometry', 'world_geometry')").all())


def test_on_postgis_footprints_and_labels_are_spatial_columns(postgres_url, shared_data):
    with LabelStore.open(postgres_url) as store:
        tif = _fill(store, shared_data)
        assert _column_types(store) == {"images.footprint": "geometry",
                                        "annotations.geometry": "geometry",
                                        "annotations.world_geometry": "geometry",
                                        "gold_labels.geometry": "geometry",
                                        "predictions.geometry": "geometry",
                                        "predictions.world_geometry": "geometry"}
        with store.engine.connect() as conn:
            # what a team member asks in SQL (or QGIS shows): images near a point, in lon/lat
            near = conn.exec_driver_sql(
                "SELECT image_id, ST_SRID(footprint) FROM images WHERE ST_DWithin(footprint,"
                " ST_SetSRID(ST_MakePoint(-76.154, 34.981), 4326), 0.01)").all()
            drawn = conn.exec_driver_sql(
                "SELECT ST_Area(geometry), ST_SRID(world_geometry),"
                " ST_Within(world_geometry, (SELECT footprint FROM images i"
                "  WHERE i.image_id = a.image_id))"
                " FROM annotations a WHERE kind = 'polygon'").one()
            indexes = conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%%USING gist%%'"
            ).scalars().all()
        assert near == [(tif, 4326)]
        assert drawn == (3600.0, 4326, True)
        assert sorted(indexes) == ["ix_annotations_world_geometry_gist",
                                   "ix_images_footprint_gist"]
        frame = store.annotations
        assert frame["geometry"].iloc[0].equals(box(10, 10, 100, 50))


def test_without_rights_to_postgis_the_store_keeps_wkb_and_the_same_frames(
        plain_role_url, postgres_url, shared_data):
    with LabelStore.open(plain_role_url) as wkb, LabelStore.open(postgres_url) as postgis:
        for store in (wkb, postgis):
            _fill(store, shared_data)
        assert set(_column_types(wkb).values()) == {"bytea"}
        for frame in ("images", "annotations"):
            ours, theirs = getattr(wkb, frame), getattr(postgis, frame)
            columns = [c for c in ours.columns if c not in ("added_at", "created_at")]
            assert ours[columns].reset_index(drop=True).drop(columns="label_id", errors="ignore") \
                .equals(theirs[columns].reset_index(drop=True).drop(columns="label_id",
                                                                    errors="ignore"))
    # a store stays what it was made: opened by someone who could enable PostGIS, still WKB
    with LabelStore.open(plain_role_url.replace("plain@", "geolabel@")) as again:
        assert set(_column_types(again).values()) == {"bytea"}
        assert again.annotations["geometry"].iloc[0].equals(box(10, 10, 100, 50))
