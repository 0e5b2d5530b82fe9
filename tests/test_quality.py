"""Gold images, consensus of several labelers, adjudication and a task's agreement bar,
on labels whose right answer is known."""

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from conftest import write_images
from shapely.geometry import Polygon, box

from geolabel_widgets import LabelStore, StoreError

pytestmark = pytest.mark.both_backends

LABELERS = ("ann", "bob", "cy")


@pytest.fixture
def scenes(store, tmp_path):
    """Forty 64x48 images: (store, ids)."""
    ids = store.add_images(write_images(tmp_path / "images", 40), dataset="beach",
                           progress=False)
    return store, ids


def test_consensus_of_three_taggers_is_the_answer_two_gave(scenes):
    store, ids = scenes
    store.add_task("water", classes=["water", "sand", "rock"])
    answers = {ids[0]: ("water", "water", "sand"),  # two agree
               ids[1]: ("rock", "sand", "rock"),
               ids[2]: ("water", "sand", "rock")}  # no majority: a reviewer decides
    for image_id, given in answers.items():
        for labeler, value in zip(LABELERS, given):
            store.tag(image_id, value, task="water", labeler=labeler)
    table = store.consensus("water").set_index("image_id")
    assert table.loc[ids[0], "agreement"] == pytest.approx(2 / 3)
    assert table.loc[ids[2], "agreement"] == 0 and not table.loc[ids[2], "written"]
    made = store.get_annotations(task="water", labeler="consensus").set_index("image_id")
    assert made["value"].to_dict() == {ids[0]: "water", ids[1]: "rock"}
    waiting = store.adjudication("water")
    assert waiting["image_id"].tolist()[0] == ids[2]  # least agreed first
    store.tag(ids[2], "rock", task="water", labeler="consensus")  # the reviewer decides
    assert ids[2] not in store.adjudication("water")["image_id"].tolist()


def test_consensus_of_three_multilabel_taggers_keeps_what_most_chose(scenes):
    store, ids = scenes
    store.add_task("seen", type="multilabel", classes=["dune", "pier", "boat"])
    for labeler, value in zip(LABELERS, (["dune", "pier"], ["dune"], ["dune", "pier", "boat"])):
        store.tag(ids[0], value, task="seen", labeler=labeler)
    store.consensus("seen")
    made = store.get_annotations(task="seen", labeler="consensus")
    assert sorted(made["value"]) == ["dune", "pier"]


def test_consensus_of_three_drawers_fuses_the_shapes_two_drew(scenes):
    store, ids = scenes
    store.add_task("boats", type="detection", classes=["boat", "pier"])
    truth = box(10, 10, 30, 20)
    shifted = {"ann": (0, 0), "bob": (1, 1), "cy": (20, 20)}  # cy misses the boat
    for labeler, (dx, dy) in shifted.items():
        store.annotate(ids[0], shapely.affinity.translate(truth, dx, dy), "boat",
                       task="boats", labeler=labeler, kind="box")
    pier = Polygon([(40, 5), (60, 5), (60, 8), (45, 12)])
    for labeler in ("ann", "cy"):
        store.annotate(ids[0], pier, "pier", task="boats", labeler=labeler)
    store.annotate(ids[0], pier, "boat", task="boats", labeler="bob")  # wrong class
    table = store.consensus("boats")
    made = store.get_annotations(task="boats", labeler="consensus").sort_values("value")
    assert made["value"].tolist() == ["boat", "pier"]
    assert made["geometry"].iloc[0].equals(box(10.5, 10.5, 30.5, 20.5))  # mean of two
    assert made["geometry"].iloc[1].equals(pier)
    assert made["props"].iloc[0] == {"support": 2}
    # pairwise F1: ann-bob 1/2 (boat matches), ann-cy 1/2 (pier), bob-cy 0
    assert table["agreement"].iloc[0] == pytest.approx(1 / 3)
    store.consensus("boats")  # again: replaces, never doubles
    assert len(store.get_annotations(task="boats", labeler="consensus")) == 2


def test_consensus_of_three_masks_is_each_pixels_majority(scenes):
    store, ids = scenes
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, (48, 64))
    for k, labeler in enumerate(LABELERS):
        noisy = truth.copy()
        noisy[:, k * 20:(k + 1) * 20] = 1 - noisy[:, k * 20:(k + 1) * 20]  # a strip each
        store.add_mask(ids[0], noisy, task="cover", labeler=labeler)
    table = store.consensus("cover")
    made = store.get_annotations(task="cover", labeler="consensus", kinds=["mask"])
    raster, classes = store.mask(made["annotation_id"].iloc[0])
    assert (np.asarray(classes)[raster] == np.array(["water", "sand"])[truth]).all()
    assert 0 < table["agreement"].iloc[0] < 1


def test_a_task_refuses_complete_below_its_agreement_bar(scenes):
    store, ids = scenes
    store.add_task("boats", type="detection", classes=["boat"], min_agreement=0.5)
    store.annotate(ids[0], box(0, 0, 10, 10), "boat", task="boats", labeler="ann")
    store.complete(ids[0], task="boats", labeler="ann")  # alone: nothing to disagree with
    store.annotate(ids[0], box(30, 30, 40, 40), "boat", task="boats", labeler="bob")
    with pytest.raises(StoreError, match="agree 0.00, below task 'boats''s 0.50"):
        store.complete(ids[0], task="boats", labeler="bob")
    assert store.status_of(ids[0], task="boats", labeler="bob") == "in_progress"
    assert store.adjudication("boats")["image_id"].tolist() == [ids[0]]
    store.annotate(ids[0], box(1, 0, 10, 10), "boat", task="boats", labeler="bob")
    store.complete(ids[0], task="boats", labeler="bob")  # 1 of 2 boxes each: F1 0.5


def test_gold_is_a_share_of_every_queue_and_goes_to_everyone(scenes):
    store, ids = scenes
    store.add_task("water", classes=["water", "sand"], gold_share=0.1)
    gold = ids[30:34]
    store.add_gold("water", pd.DataFrame({"image_id": gold, "value": "water"}))
    for labeler in ("ann", "bob"):
        queue = store.queue("water", labeler)
        assert sorted(queue) == sorted(ids)
        spots = [k for k, image_id in enumerate(queue) if image_id in gold]
        assert np.diff(spots).tolist() == [10, 10, 10]  # one in ten, nothing else marks them
    first = store.claim("water", "ann", 40)
    for image_id in first:
        store.tag(image_id, "water", task="water", labeler="ann")
    second = store.claim("water", "bob", 40)  # one label per image: only gold is left
    assert sorted(second) == sorted(gold)


def test_each_labeler_is_scored_against_gold_as_labels_arrive(scenes):
    store, ids = scenes
    store.add_task("water", classes=["water", "sand"])
    store.add_gold("water", pd.DataFrame({"image_id": ids[:4], "value": "water"}))
    for image_id in ids[:4]:
        store.tag(image_id, "water", task="water", labeler="ann")
    for image_id, value in zip(ids[:3], ("water", "sand", "sand")):
        store.tag(image_id, value, task="water", labeler="bob")
    store.tag(ids[10], "sand", task="water", labeler="bob")  # not gold: not scored
    scores = store.gold_accuracy("water").set_index("labeler")
    assert scores.loc["ann", "accuracy"] == 1.0 and scores.loc["ann", "images"] == 4
    assert scores.loc["bob", "accuracy"] == pytest.approx(1 / 3)
    store.tag(ids[1], "water", task="water", labeler="bob")  # live: the next read knows
    assert store.gold_accuracy("water").set_index("labeler").loc[
        "bob", "accuracy"] == pytest.approx(2 / 3)


def test_gold_shapes_and_masks_from_a_trusted_labeler(scenes):
    store, ids = scenes
    store.add_task("boats", type="detection", classes=["boat"])
    store.annotate(ids[0], box(0, 0, 10, 10), "boat", task="boats", labeler="expert")
    store.annotate(ids[0], box(20, 20, 30, 30), "boat", task="boats", labeler="expert")
    assert store.add_gold("boats", labeler="expert") == 1
    store.annotate(ids[0], box(0, 0, 10, 8), "boat", task="boats", labeler="ann")  # IoU 0.8
    row = store.gold_accuracy("boats").set_index("labeler").loc["ann"]
    assert row["accuracy"] == pytest.approx(2 * 1 / 3) and row["mean_iou"] == pytest.approx(0.8)
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    truth = np.zeros((48, 64), int)
    truth[:, 32:] = 1
    store.add_mask(ids[1], truth, task="cover", labeler="expert")
    store.add_gold("cover", labeler="expert", image_ids=[ids[1]])
    store.add_mask(ids[1], np.zeros((48, 64), int), task="cover", labeler="ann")
    row = store.gold_accuracy("cover").set_index("labeler").loc["ann"]
    assert row["accuracy"] == pytest.approx((0.5 + 0) / 2)  # water IoU 0.5, sand 0


def test_bad_gold_and_bad_bars_are_refused_and_nothing_is_written(scenes):
    store, ids = scenes
    store.add_task("water", classes=["water", "sand"])
    with pytest.raises(StoreError, match="1 gold image.s. are not in this store"):
        store.add_gold("water", pd.DataFrame({"image_id": [ids[0], "nope"], "value": "water"}))
    with pytest.raises(StoreError, match="no class 'lava'"):
        store.add_gold("water", pd.DataFrame({"image_id": [ids[0]], "value": "lava"}))
    with pytest.raises(StoreError, match="'bob' has no labels on 1 of the images"):
        store.add_gold("water", labeler="bob", image_ids=[ids[0]])
    assert store.gold("water").empty
    for bad in (1.5, -0.1):
        with pytest.raises(StoreError, match="between 0 and 1"):
            store.add_task("water", min_agreement=bad)
        with pytest.raises(StoreError, match="between 0 and 1"):
            store.consensus("water", min_agreement=bad)
    with pytest.raises(StoreError, match="gold_share is a fraction"):
        store.add_task("water", gold_share=2)


def test_a_store_of_schema_five_gains_gold_when_opened(new_target, backend):
    target = new_target()
    with LabelStore.open(target) as old:
        old.add_task("water")
        with old.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE gold_labels"))
            for column in ("gold_share", "min_agreement"):
                conn.execute(sa.text(f"ALTER TABLE tasks DROP COLUMN {column}"))
            conn.execute(sa.text("UPDATE store_info SET value = '5' "
                                 "WHERE key = 'schema_version'"))
    with LabelStore.open(target) as store:
        assert store.gold("water").empty
        store.add_task("water", gold_share=0.2)
        assert store.tasks.loc["water", "gold_share"] == 0.2


def test_gold_accuracy_is_a_frame_a_figure_and_on_geolabel_plots(scenes, tmp_path):
    from geolabel_widgets.cli import main
    from geolabel_widgets.plots import gold_frame
    from geolabel_widgets.plots.figures import labeler_accuracy_on_gold

    store, ids = scenes
    store.add_task("water", classes=["water", "sand"])
    store.add_gold("water", pd.DataFrame({"image_id": ids[:2], "value": "water"}))
    for labeler, values in (("ann", ("water", "water")), ("bob", ("water", "sand"))):
        for image_id, value in zip(ids, values):
            store.tag(image_id, value, task="water", labeler=labeler)
    frame = gold_frame(store)
    assert frame[["task", "labeler", "kind", "images", "accuracy"]].values.tolist() == [
        ["water", "ann", "tag", 2, 1.0], ["water", "bob", "tag", 2, 0.5]]
    bars = labeler_accuracy_on_gold(store).axes[0].patches
    assert [bar.get_height() for bar in bars] == [1.0, 0.5]
    assert main(["plots", "--store", store.location, str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "Labeler_accuracy_on_gold.png").stat().st_size > 10_000
