"""The distribution aggregates stay equal to what the rows say, through any edits."""

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely.geometry import box

from geolabel_widgets import LabelStore
from geolabel_widgets.store import aggregates
from geolabel_widgets.store import schema as s

pytestmark = pytest.mark.both_backends

CLASSES = ["water", "sand", "gravel", "vegetated"]
REMAP = {"*": {"sand": "sediment", "gravel": "sediment"}, "b": {"vegetated": "water"}}


def assert_aggregates_match_rows(store: LabelStore) -> None:
    with store.engine.connect() as conn:
        kept, derived = aggregates.stored(conn), aggregates.recompute(conn)
    for table in s.AGGREGATES:
        keys = [c.name for c in table.primary_key.columns]
        values = [c.name for c in table.columns if c.name not in keys]
        a = kept[table.name].set_index(keys).sort_index()[values].astype(float)
        b = derived[table.name].set_index(keys).sort_index()[values].astype(float)
        pd.testing.assert_frame_equal(a, b, check_names=False, check_index_type=False,
                                      rtol=1e-9, obj=table.name)


def random_edits(store: LabelStore, ids: list[str], rng: np.random.Generator, steps: int):
    labelers = ["ann", "bo"]
    for _ in range(steps):
        image, labeler = ids[rng.integers(len(ids))], labelers[rng.integers(2)]
        op = rng.integers(9)
        if op == 0:
            store.tag(image, CLASSES[rng.integers(4)], task="single", labeler=labeler)
        elif op == 1:
            picked = [c for c in CLASSES if rng.random() < 0.4]
            store.tag(image, picked, task="multi", labeler=labeler)
        elif op == 2:
            store.tag(image, None, task="single", labeler=labeler)
        elif op == 3:
            store.annotate(image, box(1, 1, 5, 5), CLASSES[rng.integers(4)], task="draw",
                           labeler=labeler)
        elif op == 4:
            mask = rng.integers(0, rng.integers(1, 5), (8, 8))
            store.add_mask(image, mask, task="draw", labeler=labeler)
        elif op == 5:
            doodles = np.where(rng.random((8, 8)) < 0.2, rng.integers(1, 5, (8, 8)), 0)
            store.add_mask(image, doodles, task="draw", labeler=labeler, kind="doodles")
        elif op == 6:
            shapes = store.get_annotations(task="draw", labeler=labeler, kinds=["polygon"])
            if len(shapes):
                store.delete_label(shapes["label_id"].iloc[0], labeler=labeler)
        elif op == 7:
            store.undo(task=["single", "multi", "draw"][rng.integers(3)], labeler=labeler)
        else:
            store.redo(task=["single", "multi", "draw"][rng.integers(3)], labeler=labeler)


@pytest.fixture
def labeled(store, tmp_path):
    from tests.conftest import write_images

    ids = store.add_images(write_images(tmp_path / "a", 4, size=(8, 8)), dataset="a",
                           progress=False)
    ids += store.add_images(write_images(tmp_path / "b", 3, size=(8, 8), seed=1), dataset="b",
                            progress=False)
    store.add_task("single", type="classification", classes=CLASSES)
    store.add_task("multi", type="multilabel", classes=CLASSES)
    store.add_task("draw", type="semantic_segmentation", classes=CLASSES)
    return store, ids


@pytest.mark.parametrize("seed", range(4))
def test_aggregates_equal_the_rows_after_random_edits_undos_and_remaps(labeled, seed):
    store, ids = labeled
    rng = np.random.default_rng(seed)
    random_edits(store, ids, rng, 60)
    store.remap("super", REMAP)  # a view made after labels exist ...
    random_edits(store, ids, rng, 60)  # ... and kept current by the labels after it
    assert_aggregates_match_rows(store)
    store.remap("super", {"water": "wet"})  # redefined
    random_edits(store, ids, rng, 20)
    assert_aggregates_match_rows(store)


def test_counts_follow_a_tag_its_undo_and_a_second_labeler(labeled):
    store, ids = labeled
    counts = lambda: {  # noqa: E731
        (r.task_id, r.dataset_id, r.class_name): r.images
        for r in store.engine.connect().execute(sa.select(s.class_counts).where(
            s.class_counts.c.view_id == 0))}
    store.tag(ids[0], "sand", task="single", labeler="ann")
    store.tag(ids[0], "sand", task="single", labeler="bo")  # same image: still one image
    store.tag(ids[1], "sand", task="single", labeler="ann")
    assert list(counts().values()) == [2]
    store.undo(task="single", labeler="ann")
    assert list(counts().values()) == [1]
    store.tag(ids[0], "water", task="single", labeler="bo")
    store.tag(ids[0], None, task="single", labeler="ann")
    assert [k[2] for k in counts()] == ["water"]


def test_an_old_store_gets_its_aggregates_when_opened(labeled):
    store, ids = labeled
    random_edits(store, ids, np.random.default_rng(7), 40)
    with store._writer.begin() as conn:  # as schema 1 left it: no aggregates, no sources
        for table in s.AGGREGATES + (s.image_sources,):
            conn.execute(sa.delete(table))
        conn.execute(sa.update(s.store_info).values(value="1"))
    reopened = LabelStore.open(store.location)
    assert_aggregates_match_rows(reopened)
    with reopened.engine.connect() as conn:
        assert len(aggregates.stored(conn)["class_counts"]) > 0
    assert sorted(reopened.sources["image_id"]) == sorted(ids)
    reopened.close()


def test_a_remap_needs_class_to_class_aliases(store):
    from geolabel_widgets.store import StoreError

    with pytest.raises(StoreError, match="class names"):
        store.remap("bad", {"a": {"b": 3}})
    with pytest.raises(StoreError, match="aliases"):
        store.remap("bad", [])


def test_an_import_and_its_undo_move_the_aggregates_as_single_writes_would(labeled):
    """add_labels and undo move the counts once per image, summed over many rows: a
    remapped view, multilabel tags replaced, shapes and doodled fractions included."""
    store, ids = labeled
    store.remap("super", REMAP)
    rng = np.random.default_rng(7)
    rows = []
    for labeler in ("ann", "bo"):
        for image in ids:
            picked = [c for c in CLASSES if rng.random() < 0.5]
            rows.append(dict(image_id=image, labeler=labeler, kind="tag", value=picked))
    store.add_labels(pd.DataFrame(rows), task="multi")
    assert_aggregates_match_rows(store)
    shapes = pd.DataFrame([dict(image_id=image, labeler="ann", kind="box", value=cls,
                                geometry=box(1, 1, 4, 4)) for image in ids[:3]
                           for cls in CLASSES[:2]]
                          + [dict(image_id=image, labeler="bo", kind="doodles", value=None,
                                  props={"doodled_fraction": 0.1 * (k + 1)})
                             for k, image in enumerate(ids[2:])])
    store.add_labels(shapes, task="draw")
    assert_aggregates_match_rows(store)
    again = pd.DataFrame([dict(row, value=CLASSES[:1]) for row in rows])
    assert store.add_labels(again, task="multi", mode="replace").replaced > 0
    assert_aggregates_match_rows(store)
    for labeler in ("ann", "bo"):  # each labeler's import was one action
        store.undo(task="multi", labeler=labeler)
        store.undo(task="draw", labeler=labeler)
    assert_aggregates_match_rows(store)
    # back to the first import's tags (the replacement undone), and nothing drawn
    assert len(store.get_annotations(task="multi", kinds=["tag"])) == \
        sum(len(row["value"]) for row in rows)
    assert store.get_annotations(task="draw").empty
