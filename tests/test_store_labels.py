"""Writing and reading labels: tags, shapes, masks, history, undo, statuses, the queue."""

import numpy as np
import pandas as pd
import pytest
import rasterio
from pyproj import Transformer
import sqlalchemy as sa
from shapely.geometry import Point, Polygon, box

from geolabel_widgets import LabelStore, StoreError

pytestmark = pytest.mark.both_backends


def test_a_store_is_one_sqlite_file_in_wal_mode(tmp_path):
    path = tmp_path / "labels.sqlite"
    with LabelStore.open(path) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert path.exists()


def test_tagging_twice_keeps_history_and_the_last_tag_is_current(event):
    store, ids = event
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.tag(ids[0], "not present", task="flood", labeler="ann")
    current = store.annotations
    assert current[["image_id", "labeler", "kind", "value"]].values.tolist() == [
        [ids[0], "ann", "tag", "not present"]]
    history = store.get_annotations(history=True, kinds=["tag"])
    assert history["value"].tolist() == ["present", "not present"]
    assert history["supersedes"].tolist()[1] == history["annotation_id"].tolist()[0]
    assert history["is_current"].tolist() == [False, True]


def test_undo_restores_the_previous_tag_and_redo_brings_back_the_new_one(event):
    store, ids = event
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.tag(ids[0], "not present", task="flood", labeler="ann")
    assert store.undo(task="flood", labeler="ann")
    assert store.annotations["value"].tolist() == ["present"]
    assert store.undo(task="flood", labeler="ann")
    assert store.annotations.empty
    assert store.status_of(ids[0], task="flood", labeler="ann") == "unlabeled"
    assert not store.undo(task="flood", labeler="ann")
    assert store.redo(task="flood", labeler="ann")
    assert store.annotations["value"].tolist() == ["present"]
    assert store.redo(task="flood", labeler="ann")
    assert store.annotations["value"].tolist() == ["not present"]
    assert not store.redo(task="flood", labeler="ann")
    # nothing was deleted: every step is a row
    assert len(store.get_annotations(history=True, kinds=["tag"])) == 6


def test_a_new_edit_after_undo_clears_redo(event):
    store, ids = event
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.undo(task="flood", labeler="ann")
    store.tag(ids[1], "present", task="flood", labeler="ann")
    assert not store.redo(task="flood", labeler="ann")


def test_undo_is_per_labeler(event):
    store, ids = event
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.tag(ids[1], "present", task="flood", labeler="bob")
    store.undo(task="flood", labeler="ann")
    assert store.annotations[["image_id", "labeler"]].values.tolist() == [[ids[1], "bob"]]


def test_skip_then_undo_puts_the_image_back_in_the_queue(event):
    store, ids = event
    store.skip(ids[0], task="flood", labeler="ann")
    assert ids[0] not in store.queue("flood", "ann")
    assert store.queue("flood", "ann", status="skipped") == [ids[0]]
    store.undo(task="flood", labeler="ann")
    assert store.queue("flood", "ann")[0] == ids[0]


def test_multilabel_tags_are_one_row_per_class(store, image_folder):
    ids = store.add_images(image_folder, dataset="d", progress=False)
    store.add_task("cover", type="multilabel", classes=["water", "sand", "trees"])
    store.tag(ids[0], ["water", "sand"], task="cover", labeler="ann")
    store.tag(ids[0], ["sand", "trees"], task="cover", labeler="ann")
    assert sorted(store.annotations["value"]) == ["sand", "trees"]
    store.undo(task="cover", labeler="ann")
    assert sorted(store.annotations["value"]) == ["sand", "water"]


def test_a_single_label_task_refuses_two_classes_and_unknown_ones(event):
    store, ids = event
    with pytest.raises(StoreError, match="one class"):
        store.tag(ids[0], ["present", "not present"], task="flood", labeler="ann")
    with pytest.raises(StoreError, match="no class 'maybe'"):
        store.tag(ids[0], "maybe", task="flood", labeler="ann")
    with pytest.raises(StoreError, match="no image"):
        store.tag("nope", "present", task="flood", labeler="ann")
    with pytest.raises(StoreError, match="no task"):
        store.tag(ids[0], "present", task="fire", labeler="ann")
    assert store.get_annotations(history=True).empty


def test_shapes_are_stored_in_pixels_and_edits_supersede(event):
    store, ids = event
    store.add_task("boats", type="detection", classes=["boat", "buoy"])
    ring = Polygon([(0, 0), (40, 0), (40, 30), (0, 30)], [[(10, 10), (20, 10), (20, 20)]])
    label = store.annotate(ids[0], ring, "boat", task="boats", labeler="ann")
    store.annotate(ids[0], Point(5, 6), "buoy", task="boats", labeler="ann")
    store.annotate(ids[0], box(1, 1, 9, 9), "boat", task="boats", labeler="ann",
                   label_id=label)
    shapes = store.get_annotations(task="boats").set_index("label_id")
    assert len(shapes) == 2
    assert shapes.loc[label, "geometry"].equals(box(1, 1, 9, 9))
    assert shapes.loc[label, "world_geometry"] is None  # a plain JPEG has no georeference
    assert store.status_of(ids[0], task="boats", labeler="ann") == "in_progress"
    store.delete_label(label, labeler="ann")
    assert store.get_annotations(task="boats")["kind"].tolist() == ["point"]
    store.undo(task="boats", labeler="ann")
    assert len(store.get_annotations(task="boats")) == 2


def test_shapes_on_a_georeferenced_image_get_world_coordinates(store, shared_data):
    (image_id,) = store.add_images(shared_data / "imagery" / "examplegeotiff.tif",
                                   dataset="real", progress=False)
    store.add_task("dunes", type="instance_segmentation", classes=["dune"])
    store.annotate(image_id, Point(0, 0), "dune", task="dunes", labeler="ann")
    world = store.annotations["world_geometry"].iloc[0]
    with rasterio.open(shared_data / "imagery" / "examplegeotiff.tif") as src:
        x, y = src.transform @ (0, 0)
        lon, lat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True).transform(x, y)
    assert world.distance(Point(lon, lat)) < 1e-9
    assert store.images.geometry.iloc[0].exterior.distance(world) < 1e-9


def test_masks_are_files_with_pixel_counts_and_undo_restores_the_earlier_mask(event):
    store, ids = event
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand", "trees"])
    first = np.zeros((48, 64), np.uint8)
    first[:, 32:] = 1
    second = np.full((48, 64), 2, np.uint8)
    store.add_mask(ids[0], first, task="cover", labeler="ann")
    row = store.add_mask(ids[0], second, task="cover", labeler="ann")
    mask, classes = store.mask(row)
    assert np.array_equal(mask, second) and classes == ["water", "sand", "trees"]
    assert store.stats()["datasets"]["event"]["classes"] == {"trees": 1}
    store.undo(task="cover", labeler="ann")
    (current,) = store.get_annotations(task="cover")["annotation_id"]
    assert np.array_equal(store.mask(current)[0], first)
    assert store.stats()["datasets"]["event"]["classes"] == {"water": 1, "sand": 1}
    with pytest.raises(StoreError, match="only 3 classes"):
        store.add_mask(ids[1], np.full((4, 4), 7, np.uint8), task="cover", labeler="ann")


def test_another_kernel_reads_a_mask_where_the_store_keeps_it(event, tmp_path, monkeypatch):
    store, ids = event
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    mask = np.eye(48, 64, dtype=np.uint8)
    row = store.add_mask(ids[0], mask, task="cover", labeler="ann")
    (tmp_path / "bob").mkdir()
    monkeypatch.chdir(tmp_path / "bob")  # another labeler's kernel, in their own home
    with LabelStore.open(store.location, mask_dir=store.mask_dir) as bobs:
        assert np.array_equal(bobs.mask(row)[0], mask)


def test_doodles_use_zero_for_not_doodled(event):
    store, ids = event
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    doodles = np.zeros((48, 64), np.uint8)
    doodles[5, 5:10] = 2
    store.add_mask(ids[0], doodles, task="cover", labeler="ann", kind="doodles")
    # doodles say nothing about what the image contains, and do not finish it
    assert store.stats()["datasets"]["event"]["classes"] == {}
    assert store.status_of(ids[0], task="cover", labeler="ann") == "unlabeled"


def test_review_sends_a_label_back_with_a_comment_and_the_queue_finds_it(event):
    store, ids = event
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.tag(ids[1], "present", task="flood", labeler="ann")
    store.review(ids[0], "needs_improvement", task="flood", reviewer="rev", comment="look closer")
    store.review(ids[1], "accept", task="flood", reviewer="rev")
    statuses = store.statuses("flood").set_index("image_id")
    assert statuses.loc[ids[0], ["labeler", "status", "comment", "author"]].tolist() == [
        "ann", "needs_improvement", "look closer", "rev"]
    assert statuses.loc[ids[1], "status"] == "reviewed"
    assert store.queue("flood", "ann", status="needs_improvement") == [ids[0]]
    store.comment(ids[0], "sorry", task="flood", labeler="ann")
    assert store.get_annotations(kinds=["comment"])["value"].tolist() == ["sorry"]
    with pytest.raises(StoreError, match="no labels"):
        store.review(ids[2], "accept", task="flood", reviewer="rev")


def test_the_queue_is_stable_resumes_and_filters(store, image_folder, tmp_path):
    ids = store.add_images(image_folder, dataset="a", progress=False)
    from conftest import write_images

    other = store.add_images(write_images(tmp_path / "b", 3, seed=9), dataset="b",
                             progress=False)
    store.add_task("flood")
    assert store.queue("flood", "ann") == ids + other
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.tag(ids[1], "not present", task="flood", labeler="ann")
    assert store.queue("flood", "ann")[0] == ids[2]  # resumes at the first unlabeled
    assert store.queue("flood", "bob")[0] == ids[0]  # another labeler has their own queue
    assert store.queue("flood", "ann", dataset="b") == other
    assert store.queue("flood", "ann", status="labeled") == ids[:2]
    assert store.queue("flood", "ann", status=None, value="present") == [ids[0]]
    assert store.queue("flood", "ann", image_ids=[other[1], ids[3]]) == [ids[3], other[1]]
    shuffled = store.queue("flood", "ann", order="random", seed=1)
    assert shuffled == store.queue("flood", "ann", order="random", seed=1)
    assert sorted(shuffled) == sorted(ids[2:] + other) and shuffled != ids[2:] + other
    scores = pd.Series({other[2]: 0.9, ids[4]: 0.5})
    assert store.queue("flood", "ann", order=scores)[:2] == [other[2], ids[4]]


def test_the_queue_filters_by_bounding_box(store):
    frame = pd.DataFrame({"path": [f"s3://bucket/{k}.tif" for k in range(3)],
                          "lon": [0, 10, 20]})
    import geopandas as gpd

    catalogue = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, [5, 5, 5]),
                                 crs="EPSG:4326")
    ids = store.add_images(catalogue, dataset="cat")
    store.add_task("flood")
    assert store.queue("flood", "ann", bbox=(5, 0, 25, 10)) == ids[1:]


def test_a_task_on_a_dataset_group_queues_only_that_group(store, image_folder, tmp_path):
    from conftest import write_images

    ids = store.add_images(image_folder, dataset="a", progress=False)
    store.add_images(write_images(tmp_path / "b", 2, seed=5), dataset="b", progress=False)
    store.add_group("only a", ["a"])
    store.add_task("flood", group="only a")
    assert store.queue("flood", "ann") == ids
    assert store.tasks.loc["flood", "group"] == "only a"


def test_frames_carry_the_documented_columns(event):
    store, ids = event
    store.add_labeler("ann", display_name="Ann Lee", anonymized_id="ID1")
    store.tag(ids[0], "present", task="flood", labeler="ann")
    assert {"image_id", "task", "labeler", "kind", "value", "geometry", "created_at"} <= set(
        store.annotations.columns)
    assert str(store.annotations["created_at"].dtype).startswith("datetime64")
    assert store.images.index.name == "image_id"
    assert store.labelers.loc["ann", "anonymized_id"] == "ID1"
    assert store.tasks.loc["flood", "classes"] == ["present", "not present"]
    assert store.datasets.index.tolist() == ["event"]


def test_stats_counts_current_labels_per_dataset_labeler_and_class(event):
    store, ids = event
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.tag(ids[0], "not present", task="flood", labeler="ann")
    store.tag(ids[1], "present", task="flood", labeler="bob")
    store.tag(ids[0], "present", task="flood", labeler="bob")
    assert store.stats() == {
        "images": 6, "annotations": 3, "labelers": {"ann": 1, "bob": 2},
        "datasets": {"event": {"images": 6, "labelers": {"ann": 1, "bob": 2},
                               "classes": {"present": 2, "not present": 1}}}}


def test_rows_are_never_updated_except_the_current_flag(event):
    store, ids = event
    store.tag(ids[0], "present", task="flood", labeler="ann")
    with store.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT annotation_id, value, created_at FROM annotations"
                                      " ORDER BY 1")).all()
    store.tag(ids[0], "not present", task="flood", labeler="ann")
    store.undo(task="flood", labeler="ann")
    with store.engine.connect() as conn:
        after = conn.execute(sa.text("SELECT annotation_id, value, created_at FROM annotations"
                                     " ORDER BY 1")).all()
    assert after[:len(before)] == before


def test_task_types_and_classes_are_checked(store):
    with pytest.raises(StoreError, match="unknown task type"):
        store.add_task("x", type="bogus")
    store.add_task("x", classes=["a"])
    store.add_task("x", classes=["a", "b"])  # adding classes later is fine
    assert store.classes("x") == ["a", "b"]
    with pytest.raises(StoreError, match="exists with type"):
        store.add_task("x", type="detection")


def test_frames_read_rows_bulk_loaded_beside_the_stores_own(event):
    store, ids = event
    with store.engine.begin() as conn:  # rows as another tool (or a bulk load) writes them
        conn.execute(sa.text("INSERT INTO labelers (labeler_id, created_at) VALUES ('x', 0)"))
        conn.execute(sa.text("INSERT INTO actions (task_id, labeler_id, kind, created_at) "
                             "VALUES (1, 'x', 'edit', 0)"))
        conn.execute(sa.text(
            "INSERT INTO annotations (label_id, action_id, image_id, task_id, labeler_id, "
            "author_id, kind, value, created_at, deleted, is_current) "
            f"VALUES ('t', 1, '{ids[0]}', 1, 'x', 'x', 'tag', 'present', 0, false, true)"))
    store.tag(ids[1], "present", task="flood", labeler="ann")  # and one the store wrote
    frame = store.annotations
    assert frame["props"].tolist() == [None, None]
    assert frame["geometry"].tolist() == [None, None]


def test_add_labels_writes_all_rows_in_one_action_or_none(event):
    store, ids = event
    good = pd.DataFrame({"image_id": ids[:3], "labeler": "ann", "kind": "tag",
                         "value": ["present", "not present", "present"]})
    bad = pd.concat([good, pd.DataFrame({"image_id": ["nope"], "labeler": ["ann"],
                                         "kind": ["tag"], "value": ["present"]})])
    with pytest.raises(StoreError, match="no image 'nope'"):
        store.add_labels(bad, task="flood")
    assert len(store.annotations) == 0
    assert store.add_labels(good, task="flood").added == 3
    assert store.annotations.set_index("image_id")["value"].to_dict() == dict(
        zip(ids[:3], good["value"]))
    store.undo(task="flood", labeler="ann")  # one action: the whole import
    assert len(store.annotations) == 0


def test_add_labels_writes_shapes_as_annotate_does_in_one_undoable_action(store,
                                                                         image_folder):
    """An import's shapes: one action per labeler (one undo takes them all back), the
    image "in_progress", a given label id superseded or kept by ``mode``."""
    import shapely

    ids = store.add_images(image_folder, dataset="d", progress=False)
    store.add_task("boats", type="detection", classes=["boat", "buoy"])
    frame = pd.DataFrame({
        "image_id": [ids[0], ids[0], ids[1]], "labeler": "ann",
        "kind": ["box", "point", "polygon"], "value": ["boat", "buoy", "boat"],
        "geometry": [shapely.box(1, 2, 10, 12), shapely.Point(5, 5),
                     shapely.Polygon([(0, 0), (8, 0), (8, 6)])],
        "label_id": ["ours/1", None, None]})
    assert store.add_labels(frame, task="boats").added == 3
    shapes = store.get_annotations(task="boats").set_index("kind")
    assert shapes.loc["box", "geometry"].bounds == (1, 2, 10, 12)
    assert shapes.loc["box", "label_id"] == "ours/1" and len(set(shapes["label_id"])) == 3
    assert set(store.statuses("boats")["status"]) == {"in_progress"}
    store.undo(task="boats", labeler="ann")  # one action: the whole import
    assert store.get_annotations(task="boats").empty
    store.redo(task="boats", labeler="ann")
    moved = frame.iloc[:1].assign(geometry=[shapely.box(2, 2, 9, 9)])
    assert store.add_labels(moved, task="boats", mode="keep").kept == 1
    assert store.add_labels(moved, task="boats").replaced == 1
    assert store.get_annotations(task="boats").set_index("label_id").loc[
        "ours/1", "geometry"].bounds == (2, 2, 9, 9)
    with pytest.raises(StoreError, match="columns \\['geometry'\\]"):
        store.add_labels(frame.drop(columns="geometry"), task="boats")
    store.undo(task="boats", labeler="ann")  # the replacement (the kept one wrote nothing)
    assert store.get_annotations(task="boats").set_index("label_id").loc[
        "ours/1", "geometry"].bounds == (1, 2, 10, 12)


def test_imports_keep_or_replace_what_is_there_and_history_keeps_it(store, image_folder):
    import pandas as pd

    ids = store.add_images(image_folder, dataset="d", progress=False)
    store.add_task("kind", type="classification", classes=["sand", "rock", "water"])
    store.add_task("has", type="multilabel", classes=["sand", "rock", "water"])
    store.tag(ids[0], "sand", task="kind", labeler="ann")
    store.tag(ids[0], ["sand", "rock"], task="has", labeler="ann")

    def imported(task, values, mode):
        frame = pd.DataFrame({"image_id": ids[:2], "labeler": "ann", "kind": "tag",
                              "value": values})
        return store.add_labels(frame, task=task, mode=mode)

    kept = imported("kind", ["water", "rock"], "keep")
    assert (kept.added, kept.kept, kept.replaced) == (1, 1, 0)
    tags = store.get_annotations(task="kind", kinds=["tag"]).set_index("image_id")["value"]
    assert tags.to_dict() == {ids[0]: "sand", ids[1]: "rock"}

    replaced = imported("kind", ["water", "rock"], "replace")
    assert (replaced.added, replaced.replaced, replaced.unchanged) == (0, 1, 1)
    tags = store.get_annotations(task="kind", kinds=["tag"]).set_index("image_id")["value"]
    assert tags.to_dict() == {ids[0]: "water", ids[1]: "rock"}
    history = store.get_annotations(task="kind", kinds=["tag"], history=True)
    assert list(history[history["image_id"] == ids[0]]["value"]) == ["sand", "water"]

    again = imported("kind", ["water", "rock"], "replace")  # never silent duplicates
    assert (again.added, again.replaced, again.unchanged) == (0, 0, 2)
    assert len(store.get_annotations(task="kind", kinds=["tag"], history=True)) == 3

    kept = imported("has", [["water"], ["rock"]], "keep")  # multilabel: a union
    assert (kept.added, kept.kept) == (2, 2)
    current = store.get_annotations(task="has", kinds=["tag"])
    assert sorted(current[current["image_id"] == ids[0]]["value"]) == ["rock", "sand", "water"]
    replaced = imported("has", [["water"], ["rock"]], "replace")
    assert (replaced.replaced, replaced.unchanged) == (2, 2)
    current = store.get_annotations(task="has", kinds=["tag"])
    assert sorted(current[current["image_id"] == ids[0]]["value"]) == ["water"]


def test_a_transaction_keeps_everything_or_nothing(tmp_path):
    from conftest import write_images

    path = tmp_path / "labels.sqlite"
    heard = []
    with LabelStore.open(path) as store:
        store.subscribe(heard.append)
        ids = store.add_images(write_images(tmp_path / "a", 2), dataset="a", progress=False)
        before = (store.datasets.index.tolist(), store.tasks.index.tolist(),
                  len(store.images), len(store.get_annotations(history=True)))
        with pytest.raises(ValueError, match="halfway"):
            with store.transaction():
                store.add_task("cover", type="semantic_segmentation", classes=["water"])
                store.add_images(write_images(tmp_path / "b", 3, seed=1), dataset="b",
                                 progress=False)
                store.annotate(ids[0], box(0, 0, 5, 5), "water", task="cover", labeler="ann")
                assert len(store.images) == 5  # reads inside see the writes
                raise ValueError("halfway")
        after = (store.datasets.index.tolist(), store.tasks.index.tolist(),
                 len(store.images), len(store.get_annotations(history=True)))
        assert after == before and heard == []
        with pytest.raises(StoreError, match="no task named 'cover'"):
            store.annotate(ids[0], box(0, 0, 5, 5), "water", task="cover", labeler="ann")

        with store.transaction():
            store.add_task("cover", type="semantic_segmentation", classes=["water"])
            store.annotate(ids[0], box(0, 0, 5, 5), "water", task="cover", labeler="ann")
            with pytest.raises(StoreError):  # a failed write inside rolls back alone
                store.annotate(ids[1], box(0, 0, 5, 5), "lava", task="cover", labeler="ann")
            store.annotate(ids[1], box(1, 1, 5, 5), "water", task="cover", labeler="ann")
        assert heard == [[("cover", ids[0]), ("cover", ids[1])]]
    with LabelStore.open(path) as reopened:
        assert sorted(reopened.annotations["image_id"]) == sorted(ids)


def test_tasks_are_assigned_to_labelers(store):
    store.add_task("flood")
    store.assign("flood", "ann")
    store.assign("flood", "ben", receive_new=False)
    store.assign("flood", "ben")  # again: updated, not doubled
    assert store.assignments.values.tolist() == [["flood", "ann", True], ["flood", "ben", True]]
    assert {"ann", "ben"} <= set(store.labelers.index)
