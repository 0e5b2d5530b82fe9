"""Reading the store into pandas / geopandas frames, and its summary counts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from . import schema as s

if TYPE_CHECKING:
    import geopandas as gpd

# rows kept beside the labels, not labels (a rejection: a labeler said a model was wrong)
NOT_LABELS = ("status", "comment", "split", "rejection")
PARTIAL_LABELS = ("doodles",)  # sparse strokes: they do not say what an image contains


def time_column(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="float64"), unit="s", utc=True)


def geometry_column(values) -> np.ndarray:
    # a column of nothing but NULLs can arrive as float NaN
    return shapely.from_wkb(np.array([v if isinstance(v, bytes) else None for v in values],
                                     dtype=object))


def json_column(values) -> list:
    """JSON cells as read by pandas: text from SQLite, already decoded from PostgreSQL."""
    return [json.loads(v) if isinstance(v, str) else v if isinstance(v, (dict, list)) else None
            for v in values]


def image_geoframe(frame: pd.DataFrame, geometry) -> gpd.GeoDataFrame:
    """Images indexed by id, in lon/lat. geopandas is loaded here, on first use: a
    script that only reads labels never pays for it (nor for pyproj)."""
    import geopandas as gpd

    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326").set_index("image_id")


def images_frame(conn: sa.Connection, where=None) -> gpd.GeoDataFrame:
    i, d = s.images, s.datasets
    query = (
        sa.select(i.c.image_id, i.c.name, d.c.name.label("dataset"), i.c.uri, i.c.sha256,
                  i.c.file_missing, i.c.width, i.c.height, i.c.bands, i.c.dtype, i.c.crs,
                  i.c.transform, i.c.lon, i.c.lat, i.c.acquired_at, i.c.added_at, i.c.props,
                  i.c.footprint)
        .join(d, d.c.dataset_id == i.c.dataset_id)
        .order_by(i.c.seq)
    )
    if where is not None:
        query = query.where(where)
    frame = read_query(conn, query)
    for column in ("transform", "props"):
        frame[column] = json_column(frame[column])
    footprints = geometry_column(frame.pop("footprint"))
    for column in ("acquired_at", "added_at"):
        frame[column] = time_column(frame[column])
    frame["file_missing"] = frame["file_missing"].astype(bool)
    return image_geoframe(frame, footprints)


def footprints_frame(conn: sa.Connection, where=None) -> gpd.GeoDataFrame:
    """Name, dataset, place in the store's order (seq) and footprint of every image that
    has one (else a point at its centroid): the light read a map makes, without headers,
    props or transforms."""
    i, d = s.images, s.datasets
    frame = read_query(conn, sa.select(i.c.image_id, i.c.seq, i.c.name,
                                       d.c.name.label("dataset"), i.c.lon, i.c.lat,
                                       i.c.footprint)
                       .join(d, d.c.dataset_id == i.c.dataset_id)
                       .where(i.c.lat.is_not(None), sa.true() if where is None else where)
                       .order_by(i.c.seq))
    geometry = geometry_column(frame.pop("footprint"))
    missing = shapely.is_missing(geometry)
    geometry[missing] = shapely.points(frame["lon"].to_numpy(float)[missing],
                                       frame["lat"].to_numpy(float)[missing])
    return image_geoframe(frame.drop(columns=["lon", "lat"]), geometry)


def centres_frame(conn: sa.Connection, where=None) -> pd.DataFrame:
    """Dataset and centre (lon, lat) of every located image, indexed by seq: numbers only,
    read straight into numpy, so a million take about a second (a fifth of their footprints)."""
    i, d = s.images, s.datasets
    query = (sa.select(i.c.seq, i.c.dataset_id, i.c.lon, i.c.lat)
             .where(i.c.lat.is_not(None), sa.true() if where is None else where)
             .order_by(i.c.seq))
    rows = np.fromiter(_cursor(conn, query), dtype=[("seq", "i8"), ("dataset_id", "i8"),
                                                    ("lon", "f8"), ("lat", "f8")])
    names = dict(conn.execute(sa.select(d.c.dataset_id, d.c.name)).all())
    ids = sorted(names)
    dataset = pd.Categorical.from_codes(np.searchsorted(ids, rows["dataset_id"]),
                                        categories=[names[k] for k in ids])
    return pd.DataFrame({"dataset": dataset, "lon": rows["lon"], "lat": rows["lat"]},
                        index=pd.Index(rows["seq"], name="seq"))


def image_states(conn: sa.Connection, task_id: int | None = None, labeler: str | None = None,
                 image_ids=None) -> pd.DataFrame:
    """Per labeled image: its status, its main class and who labeled it last.

    Status is the latest status row (of ``labeler``, else of anyone), "labeled" for
    labels without one. The main class covers the most pixels of a mask, else is the
    most frequent value of the image's labels (doodles aside). Images without labels
    or status rows are absent: they are unlabeled. ``seq`` is the image's place in the
    store's order (as in ``centres_frame``).
    """
    a, m, i = s.annotations, s.mask_pixels, s.images
    where = [a.c.is_current, sa.not_(a.c.deleted),
             a.c.kind.not_in(("comment", "split", "rejection"))]
    if task_id is not None:
        where.append(a.c.task_id == task_id)
    if labeler is not None:
        where.append(a.c.labeler_id == labeler)
    if image_ids is not None:
        where.append(a.c.image_id.in_(list(image_ids)))
    rows = read_query(conn, sa.select(a.c.annotation_id, a.c.image_id, i.c.seq, a.c.labeler_id,
                                      a.c.kind, a.c.value, a.c.created_at)
                      .join(i, i.c.image_id == a.c.image_id).where(*where)
                      .order_by(a.c.created_at, a.c.annotation_id))
    pixels = read_query(conn, sa.select(m.c.annotation_id, m.c.class_name, m.c.pixels)
                        .join(a, a.c.annotation_id == m.c.annotation_id)
                        .where(*where, a.c.kind == "mask", m.c.pixels > 0))
    states = pd.DataFrame(index=pd.Index(rows["image_id"].unique(), name="image_id"))
    states["seq"] = rows.groupby("image_id")["seq"].first()
    status_rows = rows[rows["kind"] == "status"]
    labels = rows[~rows["kind"].isin(("status", *PARTIAL_LABELS))]
    states["status"] = status_rows.groupby("image_id")["value"].last()
    states.loc[states["status"].isna() & states.index.isin(labels["image_id"]),
               "status"] = "labeled"
    states["status"] = states["status"].fillna("unlabeled")
    states["labeler"] = labels.groupby("image_id")["labeler_id"].last()
    # each label weighs 1: a mask shares its weight among its classes by pixel count
    pixels["weight"] = pixels["pixels"] / pixels.groupby("annotation_id")["pixels"].transform("sum")
    votes = pd.concat([
        labels.loc[labels["value"].notna(), ["image_id", "value"]].assign(weight=1.0),
        pixels.merge(rows[["annotation_id", "image_id"]], on="annotation_id")
        .rename(columns={"class_name": "value"})[["image_id", "value", "weight"]]])
    if len(votes):
        totals = votes.groupby(["image_id", "value"], sort=False)["weight"].sum()
        ranked = totals.sort_values(ascending=False, kind="stable").reset_index()
        states["class"] = ranked.drop_duplicates("image_id").set_index("image_id")["value"]
    else:
        states["class"] = None
    return states


def annotations_frame(conn: sa.Connection, *, history: bool = False, kinds=None,
                      exclude_kinds=NOT_LABELS, where=None) -> pd.DataFrame:
    a = s.annotations
    columns = [a.c.annotation_id, a.c.label_id, a.c.image_id, a.c.task_id,
               a.c.labeler_id.label("labeler"), a.c.author_id.label("author"), a.c.kind,
               a.c.value, a.c.geometry, a.c.world_geometry, a.c.props, a.c.created_at,
               a.c.supersedes]
    if history:
        columns += [a.c.action_id, a.c.deleted, a.c.is_current]
    query = sa.select(*columns).order_by(a.c.annotation_id)
    if not history:
        query = query.where(a.c.is_current, sa.not_(a.c.deleted))
    if kinds is not None:
        query = query.where(a.c.kind.in_(list(kinds)))
    elif exclude_kinds:
        query = query.where(a.c.kind.not_in(list(exclude_kinds)))
    if where is not None:
        query = query.where(where)
    frame = read_query(conn, query)
    titles = dict(conn.execute(sa.select(s.tasks.c.task_id, s.tasks.c.title)).all())
    frame.insert(3, "task", frame.pop("task_id").map(titles))
    frame["geometry"] = geometry_column(frame["geometry"])
    frame["world_geometry"] = geometry_column(frame["world_geometry"])
    frame["props"] = json_column(frame["props"])
    frame["created_at"] = time_column(frame["created_at"])
    frame["supersedes"] = frame["supersedes"].astype("Int64")
    if history:
        for column in ("deleted", "is_current"):
            frame[column] = frame[column].astype(bool)
    return frame


def read_query(conn: sa.Connection, query) -> pd.DataFrame:
    """Rows straight from the driver's cursor: a million rows skip SQLAlchemy's per-row
    processing (JSON stays text, booleans stay integers; callers convert columns)."""
    cursor = _cursor(conn, query)
    columns = [d[0] for d in cursor.description]
    return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)


def _cursor(conn: sa.Connection, query):
    """The driver's cursor over ``query``'s rows."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    return conn.exec_driver_sql(str(compiled), params).cursor


def table_frame(conn: sa.Connection, table: sa.Table, index: str | None = None) -> pd.DataFrame:
    rows = conn.execute(sa.select(table)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in table.columns])
    for column in ("created_at",):
        if column in frame.columns:
            frame[column] = time_column(frame[column])
    return frame.set_index(index) if index else frame


def tasks_frame(conn: sa.Connection) -> pd.DataFrame:
    tasks = table_frame(conn, s.tasks)
    classes = table_frame(conn, s.label_classes).sort_values(["task_id", "position"])
    by_task = classes.groupby("task_id")["name"].apply(list)
    tasks["classes"] = tasks["task_id"].map(by_task).apply(
        lambda names: names if isinstance(names, list) else [])
    groups = dict(conn.execute(sa.select(s.dataset_groups.c.group_id,
                                         s.dataset_groups.c.name)).all())
    tasks["group"] = tasks.pop("group_id").map(groups)
    return tasks.set_index("title")


def current_label_rows():
    """Current, non-deleted rows that are labels (not status or comments)."""
    a = s.annotations
    return sa.and_(a.c.is_current, sa.not_(a.c.deleted), a.c.kind.not_in(NOT_LABELS))


def stats(conn: sa.Connection) -> dict:
    """Counts of current labels: per dataset, labeler and class (images containing it)."""
    a, i, d = s.annotations, s.images, s.datasets
    labels = current_label_rows()
    result = {
        "images": conn.execute(sa.select(sa.func.count()).select_from(i)).scalar_one(),
        "annotations": conn.execute(sa.select(sa.func.count()).where(labels)).scalar_one(),
        "datasets": {},
        "labelers": {},
    }
    for name, count in conn.execute(
        sa.select(d.c.name, sa.func.count(i.c.seq))
        .select_from(d.outerjoin(i, i.c.dataset_id == d.c.dataset_id))
        .group_by(d.c.name).order_by(d.c.name)
    ):
        result["datasets"][name] = {"images": count, "labelers": {}, "classes": {}}

    labeled = sa.select(a.c.image_id, a.c.labeler_id).where(labels).distinct().subquery()
    per_labeler = (
        sa.select(d.c.name, labeled.c.labeler_id, sa.func.count())
        .select_from(labeled.join(i, i.c.image_id == labeled.c.image_id)
                     .join(d, d.c.dataset_id == i.c.dataset_id))
        .group_by(d.c.name, labeled.c.labeler_id)
    )
    for dataset, labeler, count in conn.execute(per_labeler):
        result["datasets"][dataset]["labelers"][labeler] = count
    overall = sa.select(labeled.c.labeler_id, sa.func.count()).group_by(labeled.c.labeler_id)
    result["labelers"] = dict(conn.execute(overall).all())

    for dataset, cls, count in conn.execute(images_per_class_query()):
        result["datasets"][dataset]["classes"][cls] = count
    return result


def images_per_class_query():
    """(dataset, class, images containing it) from tags, shapes and mask pixel counts."""
    a, i, d, m = s.annotations, s.images, s.datasets, s.mask_pixels
    labels = current_label_rows()
    from_values = sa.select(a.c.image_id, a.c.value.label("cls")).where(
        labels, a.c.value.is_not(None), a.c.kind.not_in(("mask", *PARTIAL_LABELS)))
    from_masks = (
        sa.select(a.c.image_id, m.c.class_name.label("cls"))
        .join(m, m.c.annotation_id == a.c.annotation_id)
        .where(labels, a.c.kind == "mask", m.c.pixels > 0)
    )
    contains = sa.union(from_values, from_masks).subquery()
    return (
        sa.select(d.c.name, contains.c.cls, sa.func.count(sa.distinct(contains.c.image_id)))
        .select_from(contains.join(i, i.c.image_id == contains.c.image_id)
                     .join(d, d.c.dataset_id == i.c.dataset_id))
        .group_by(d.c.name, contains.c.cls)
    )
