"""S3Label databases (SQLite here) and its way of adding a folder of images."""

import hashlib
import json

import pytest
import sqlalchemy as sa

from conftest import write_images
from formats_helpers import SHAPES, labeled_store, snapshot
from geolabel_widgets import LabelStore
from geolabel_widgets.formats import FormatError, add_images_s3label, read_s3label, \
    write_s3label
from geolabel_widgets.formats import s3label


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
                                                        sensor="UAS", dataset_description=None))
        conn.execute(sa.insert(s3label.label_tasks).values(
            label_task_id=1, title="shoreline", type="semantic_segmentation",
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
                label_id=1, timestamp_edit=100.0 + k, label_serialised=json.dumps(shapes)))
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
