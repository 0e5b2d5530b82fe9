"""S3Label databases (SQLite here) and its way of adding a folder of images."""

import hashlib
import json
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from conftest import write_images
from formats_helpers import SHAPES, labeled_store, snapshot
from geolabel_widgets import LabelStore
from geolabel_widgets.formats import FormatError, add_images_s3label, read_s3label, \
    write_s3label
from geolabel_widgets.formats import s3label_schema as s3label


def test_a_store_written_as_an_s3label_database_reads_back(tmp_path):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.assign(SHAPES, "ann")
    store.assign(SHAPES, "ben", receive_new=False)
    with pytest.warns(UserWarning, match="tags, lines"):
        write_s3label(store, tmp_path / "s3label.db")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's3label.db'}")
    with engine.connect() as conn:
        task = conn.execute(sa.select(s3label.label_tasks)).one()
        data = conn.execute(sa.select(s3label.input_data.c.data_path)).scalars().all()
    engine.dispose()
    assert task.type == "instance_segmentation"
    assert [c["label_class"] for c in json.loads(task.label_classes)] == ["water", "sand", "road"]
    assert task.default_tool == "freehand" and task.description == ""
    assert all(len(json.loads(c["color"])) == 3 for c in json.loads(task.label_classes))
    assert all(path.startswith("/") for path in data)
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_s3label(again, tmp_path / "s3label.db", progress=False)
        kinds = ["box", "polygon", "point"]
        assert snapshot(again, kinds=kinds, task=SHAPES)["labels"] == \
            snapshot(store, kinds=kinds, task=SHAPES)["labels"]
        mine = [r for r in snapshot(store)["statuses"] if r[1] == SHAPES]
        assert [r for r in snapshot(again)["statuses"] if r[1] == SHAPES] == mine
        assert again.assignments.values.tolist() == [[SHAPES, "ann", True],
                                                     [SHAPES, "ben", False]]
        assert again.groups == {"scenes and photos": ["scenes", "photos"]}
    store.close()


def _database(path, serialised: list[list]) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        s3label.meta.create_all(conn)
        conn.execute(sa.insert(s3label.datasets).values(dataset_id=1, site="Sandwich",
                                                        sensor="UAS", dataset_description=""))
        conn.execute(sa.insert(s3label.label_tasks).values(
            label_task_id=1, title="shoreline", type="semantic_segmentation", description="",
            label_classes=json.dumps([{"label_class": "water", "color": "[0, 0, 255]"},
                                      {"label_class": "sand", "color": "[255, 200, 0]"}])))
        conn.execute(sa.insert(s3label.users).values(user_id=1, first_name="Ann",
                                                     last_name="Lee", email="ann@x.org"))
        conn.execute(sa.insert(s3label.users_label_tasks).values(
            user_id=1, label_task_id=1, receive_new_unlabeled_data=True))
        photo = write_images(path.parent / "photos", 1, size=(100, 80))[0]
        conn.execute(sa.insert(s3label.input_data).values(
            input_data_id=1, dataset_id=1, data_path=str(photo.absolute()), sha1_hash="x"))
        conn.execute(sa.insert(s3label.labels).values(
            label_id=1, input_data_id=1, label_task_id=1, user_id=1, user_complete=True,
            admin_complete=False, in_progress=False, needs_improvement=False,
            user_comment="done"))
        for k, shapes in enumerate(serialised):
            conn.execute(sa.insert(s3label.label_history).values(
                label_id=1, timestamp_edit=datetime.fromtimestamp(100 + k, timezone.utc),
                label_serialised=shapes))
    engine.dispose()


def _region(kind, cls, *rings):
    return {"type": kind, "label": cls, "polygon": {"regions": [list(r) for r in rings],
                                                    "inverted": False}}


def test_label_history_becomes_history_and_the_latest_is_current(tmp_path):
    outer = [[0, 0], [50, 0], [50, 50], [0, 50]]
    hole = [[10, 10], [20, 10], [20, 20], [10, 20]]
    first = [_region("polygon", "water", outer), _region("rectangle", "sand", [[60, 5], [90, 5],
                                                                               [90, 30], [60, 30]])]
    second = [_region("freehand", "water", outer, hole)]  # the box went, a hole came
    _database(tmp_path / "s3.db", [first, second])
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        read_s3label(store, tmp_path / "s3.db", progress=False)
        [current] = store.annotations.itertuples()
        assert current.value == "water" and current.geometry.area == 2500 - 100
        assert current.props == {"s3label_type": "freehand"}
        history = store.get_annotations(history=True, kinds=["polygon", "box"])
        assert len(history) == 4  # polygon, box, changed polygon, the box deleted
        status = store.statuses("shoreline").iloc[0]
        assert (status["labeler"], status["status"], status["comment"]) == \
            ("ann@x.org", "labeled", "done")
        assert store.labelers.loc["ann@x.org", "display_name"] == "Ann Lee"
        assert store.datasets.index.tolist() == ["Sandwich UAS"]


def test_a_malformed_label_serialised_stops_the_import(tmp_path):
    _database(tmp_path / "s3.db", [[{"type": "polygon", "label": "water"}]])
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        with pytest.raises(FormatError, match="label 1 has a malformed label_serialised"):
            read_s3label(store, tmp_path / "s3.db", progress=False)
        assert len(store.images) == 0 and len(store.tasks) == 0 and len(store.datasets) == 0


def test_a_folder_is_added_the_s3label_way(tmp_path):
    paths = write_images(tmp_path / "survey", 4)
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        ids = add_images_s3label(store, tmp_path / "survey", dataset="survey", site="Elwha",
                                 sensor="UAS", progress=False)
        images = store.images.loc[ids]
        assert sorted(images["uri"]) == sorted(str(p.absolute()) for p in paths)
        assert sorted(p["sha1"] for p in images["props"]) == sorted(
            hashlib.sha1(p.read_bytes()).hexdigest() for p in paths)
        assert store.datasets.loc["survey", "site"] == "Elwha"


def test_an_s3label_database_on_postgresql_round_trips(tmp_path, postgres_url):
    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    with pytest.warns(UserWarning, match="tags, lines"):
        write_s3label(store, postgres_url)
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_s3label(again, postgres_url, progress=False)
        kinds = ["box", "polygon", "point"]
        got, kept = (snapshot(s, kinds=kinds, task=SHAPES) for s in (again, store))
        assert got["labels"] == kept["labels"] and got["tasks"] == kept["tasks"]
        assert [r for r in got["statuses"] if r[1] == SHAPES] == \
            [r for r in kept["statuses"] if r[1] == SHAPES]
    with pytest.raises(FormatError, match="already holds S3Label tables"):
        write_s3label(store, postgres_url)
    store.close()


def test_s3labels_real_schema_imports_and_its_views_read_what_we_write(shared_data, postgres,
                                                                        tmp_path):
    """A database made with S3Label's own schema (PostgreSQL, JSONB) and rows like its
    fixtures imports: relative paths against --root, both shape forms, a rectangle
    dragged up-left, points and circles; our export is read by S3Label's views."""
    from shapely.geometry import box

    from geolabel_widgets.cli import main
    from s3label_real import TABLES, VIEWS, fixtures

    source = postgres.new_database()
    engine = sa.create_engine(source)
    with engine.begin() as conn:
        conn.exec_driver_sql(TABLES)
        conn.exec_driver_sql(VIEWS)
        fixtures(conn)
    engine.dispose()
    store = tmp_path / "s.sqlite"
    assert main(["import", "s3label", source, "--store", str(store),
                 "--root", str(shared_data / "real" / "s3label")]) == 0
    with LabelStore.open(store) as imported:
        images = imported.images
        assert len(images) == 6 and not images["file_missing"].any()
        shapes = imported.get_annotations().join(images["name"], on="image_id")
        by_image = {name: rows for name, rows in shapes.groupby("name")}
        assert by_image["image.jpg"]["geometry"].iloc[0].area == 2000
        assert len(by_image["image2.jpg"]) == 1  # two equal history rows, one shape
        assert by_image["image3.jpg"]["geometry"].iloc[0].equals(box(95, 69.21875, 355,
                                                                     186.21875))
        assert by_image["image4.jpg"]["geometry"].iloc[0].equals(box(180, 119.5, 300, 200))
        froth = by_image["froth_image.jpg"].set_index("kind")
        assert froth.loc["point", "geometry"].coords[0] == (40.5, 30)
        polygons = sorted(froth.loc[["polygon"], "geometry"], key=lambda g: g.area)
        assert polygons[0].area == pytest.approx(3.1416 * 625, rel=0.01)  # the circle
        assert polygons[1].area == 8100 - 900  # a ring inside a ring is a hole
        statuses = imported.statuses("froth").set_index("image_id")["status"]
        assert statuses[images.index[images["name"] == "image_test.jpg"][0]] == "in_progress"
        dest = postgres.new_database()
        write_s3label(imported, dest)
        wanted = shapes.groupby("image_id").size()
    engine = sa.create_engine(dest)
    with engine.begin() as conn:
        conn.exec_driver_sql(VIEWS)  # S3Label's own views over what we wrote
        rows = conn.exec_driver_sql(
            "SELECT data_path, num_objects_labeled FROM latest_label_history_per_input_item "
            "WHERE NOT unlabeled").all()
        kinds = conn.exec_driver_sql(
            "SELECT DISTINCT s->>'type' FROM latest_label_history, "
            "jsonb_array_elements(label_serialised) s").scalars().all()
    engine.dispose()
    with LabelStore.open(store) as imported:
        paths = imported.images["uri"]
        assert sorted((r.data_path, r.num_objects_labeled) for r in rows if r.num_objects_labeled) \
            == sorted((paths[i], n) for i, n in wanted.items())
    assert sorted(kinds) == ["circle", "freehand", "point", "polygon", "rectangle"]


def test_an_s3label_database_of_the_old_schema_is_named(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        for ddl in ("CREATE TABLE datasets (dataset_id INTEGER PRIMARY KEY, site TEXT)",
                    "CREATE TABLE label_tasks (label_task_id INTEGER, example_labeling TEXT)",
                    "CREATE TABLE input_data (input_data_id INTEGER, image_path TEXT)",
                    "CREATE TABLE users (user_id INTEGER, user_code TEXT)",
                    "CREATE TABLE labels (label_id INTEGER, verified BOOLEAN)",
                    "CREATE TABLE label_history (label_id INTEGER, label_serialised TEXT)"):
            conn.exec_driver_sql(ddl)
    engine.dispose()
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        with pytest.raises(FormatError, match="the schema before 2018-04-12"):
            read_s3label(store, tmp_path / "old.db", progress=False)


def test_an_offset_comes_off_every_coordinate(tmp_path):
    """S3Label's own mask exporter takes a fixed 160 px of canvas padding off."""
    _database(tmp_path / "s3.db", [[_region("polygon", "water",
                                            [[170, 170], [200, 170], [200, 190]])]])
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        read_s3label(store, tmp_path / "s3.db", offset=160, progress=False)
        [row] = store.annotations.itertuples()
        assert row.geometry.bounds == (10, 10, 40, 30)
