"""A model's predictions in the store: kept apart from labels, confirmed or rejected by a
labeler, and ordering an active queue."""

import numpy as np
import pandas as pd
import pytest
import shapely

from geolabel_widgets import LabelStore
from geolabel_widgets.store import StoreError

from tests.conftest import write_images

pytestmark = pytest.mark.both_backends
CLASSES = ["water", "sand", "marsh"]


@pytest.fixture
def tagged(store, tmp_path):
    ids = store.add_images(write_images(tmp_path / "images", 6), dataset="coast",
                           progress=False)
    store.add_task("cover", classes=CLASSES)
    return store, list(ids)


def predict(store, ids, values, scores=None, model="net", **columns):
    frame = pd.DataFrame({"image_id": ids, "value": values, **columns})
    if scores is not None:
        frame["score"] = scores
    return store.add_predictions(frame, task="cover", model=model)


def test_predictions_are_kept_apart_from_labels(tagged):
    store, ids = tagged
    assert predict(store, ids[:3], ["water", "sand", "water"], [0.9, 0.6, 0.55]) == 3
    current = store.predictions(task="cover")
    assert current["value"].tolist() == ["water", "sand", "water"]
    assert current["score"].tolist() == [0.9, 0.6, 0.55] and set(current["model"]) == {"net"}
    assert store.annotations.empty  # no label, no statistic, no figure
    assert store.stats()["annotations"] == 0 and store.stats()["labelers"] == {}
    assert store.distribution("classes").empty
    assert len(store.queue("cover", "ann")) == 6  # nobody labeled anything


def test_a_model_run_again_supersedes_its_own_predictions_only(tagged):
    store, ids = tagged
    predict(store, ids[:2], ["water", "water"], [0.9, 0.8])
    predict(store, ids[:2], ["sand", "sand"], [0.7, 0.7], model="other")
    predict(store, ids[:1], ["marsh"], [0.4])  # net again, on the first image
    current = store.predictions(task="cover").set_index(["model", "image_id"])["value"]
    assert current.to_dict() == {("net", ids[0]): "marsh", ("net", ids[1]): "water",
                                 ("other", ids[0]): "sand", ("other", ids[1]): "sand"}
    history = store.predictions(task="cover", history=True)
    assert len(history) == 5 and history["is_current"].sum() == 4


def test_confirming_a_prediction_is_a_label_that_names_it(tagged):
    store, ids = tagged
    predict(store, ids[:2], ["water", "sand"], [0.9, 0.6])
    first, second = store.predictions(task="cover")["prediction_id"]
    store.accept_prediction(first, labeler="ann")
    store.accept_prediction(second, labeler="ann", value="marsh")  # corrected
    labels = store.get_annotations(task="cover", kinds=["tag"]).set_index("image_id")
    assert labels.loc[ids[0], "value"] == "water" and labels.loc[ids[1], "value"] == "marsh"
    assert labels.loc[ids[0], "props"] == {"prediction_id": first, "model": "net",
                                           "edited": False}
    assert labels.loc[ids[1], "props"]["edited"] is True
    assert store.status_of(ids[0], task="cover", labeler="ann") == "labeled"
    assert ids[0] not in store.queue("cover", "ann")


def test_rejecting_a_prediction_is_no_label_and_can_be_undone(tagged):
    store, ids = tagged
    predict(store, ids[:1], ["water"], [0.9])
    (prediction,) = store.predictions(task="cover")["prediction_id"]
    store.reject_prediction(prediction, labeler="ann")
    rejections = store.get_annotations(task="cover", kinds=["rejection"])
    assert rejections[["image_id", "labeler", "value"]].values.tolist() == \
        [[ids[0], "ann", "water"]]
    assert store.annotations.empty and ids[0] in store.queue("cover", "ann")
    assert store.undo(task="cover", labeler="ann") == [ids[0]]
    assert store.get_annotations(task="cover", kinds=["rejection"]).empty


@pytest.mark.parametrize("frame, says", [
    (pd.DataFrame({"image_id": ["nope"], "value": ["water"]}), "not in this store"),
    (pd.DataFrame({"image_id": ["ID0"], "value": ["lava"]}), "has no class 'lava'"),
    (pd.DataFrame({"image_id": ["ID0"], "value": ["water"], "score": [1.5]}), "0 to 1"),
    (pd.DataFrame({"image_id": ["ID0"], "value": ["water"], "score": ["high"]}), "0 to 1"),
    (pd.DataFrame({"image_id": ["ID0"], "value": ["water"],
                   "scores": [{"water": 0.7, "lava": 0.3}]}), "classes the task has not"),
    (pd.DataFrame({"image_id": ["ID0"], "value": ["water"], "kind": ["box"]}),
     "needs its geometry"),
])
def test_bad_predictions_are_refused_and_nothing_is_written(tagged, frame, says):
    store, ids = tagged
    predict(store, ids[:1], ["water"], [0.9])
    frame = frame.assign(image_id=frame["image_id"].replace("ID0", ids[0]))
    with pytest.raises(StoreError, match=says):
        store.add_predictions(pd.concat([pd.DataFrame({"image_id": [ids[1]],
                                                       "value": ["sand"]}), frame]),
                              task="cover", model="net")
    assert len(store.predictions(task="cover", history=True)) == 1
    with pytest.raises(StoreError, match=r"need the columns \['value'\]"):
        store.add_predictions(pd.DataFrame({"image_id": ids}), task="cover", model="net")
    with pytest.raises(StoreError, match="the model's name"):
        store.add_predictions(frame, task="cover", model="")


def test_the_uncertain_order_puts_what_the_model_doubts_first(tagged):
    store, ids = tagged
    frame = pd.DataFrame({
        "image_id": ids[:4], "value": ["water", "water", "sand", "marsh"],
        "scores": [{"water": 0.9, "sand": 0.05, "marsh": 0.05},  # sure: 0.15
                   {"water": 0.4, "sand": 0.35, "marsh": 0.25},  # torn: 0.95
                   {"water": 0.3, "sand": 0.6, "marsh": 0.1},    # 0.7
                   {"water": 0.1, "sand": 0.1, "marsh": 0.8}]})  # 0.3
    store.add_predictions(frame, task="cover", model="net")
    assert store.uncertainty("cover").round(2).to_dict() == {
        ids[0]: 0.15, ids[1]: 0.95, ids[2]: 0.7, ids[3]: 0.3}
    queue = store.queue("cover", "ann", order="uncertain")
    assert queue == [ids[1], ids[2], ids[3], ids[0], ids[4], ids[5]]  # unpredicted last
    assert store.queue("cover", "ann") == ids  # the plain order stays the default


def test_shape_predictions_are_edited_then_confirmed(tagged):
    store, ids = tagged
    box = shapely.box(2, 2, 20, 12)
    store.add_predictions(pd.DataFrame({"image_id": [ids[0]], "value": ["sand"],
                                        "kind": ["box"], "geometry": [box],
                                        "score": [0.55]}), task="cover", model="det")
    row = store.predictions(task="cover").iloc[0]
    assert row["geometry"].equals(box)
    assert store.uncertainty("cover")[ids[0]] == pytest.approx(0.9)  # near a coin toss
    edited = shapely.Polygon([(2, 2), (24, 2), (20, 12), (2, 12)])
    label_id = store.accept_prediction(row["prediction_id"], labeler="ann", geometry=edited)
    label = store.get_annotations(task="cover", kinds=["box"]).set_index("label_id").loc[
        label_id]
    assert label["geometry"].equals(edited) and label["props"]["edited"] is True


def test_features_are_stored_once_per_image_and_read_back(tagged):
    store, ids = tagged
    vectors = pd.DataFrame(np.arange(12, dtype=float).reshape(3, 4), index=ids[:3])
    assert store.add_features("stats", vectors) == 3
    store.add_features("stats", vectors.iloc[:1] * 10)  # replaced, not doubled
    back = store.features("stats")
    assert back.shape == (3, 4) and back.loc[ids[0]].tolist() == [0, 10, 20, 30]
    assert store.features("stats", image_ids=[ids[2]]).loc[ids[2]].tolist() == [8, 9, 10, 11]
    with pytest.raises(StoreError, match="finite"):
        store.add_features("stats", vectors * np.nan)


def test_a_spread_queue_takes_one_image_per_scene_in_turn(store, tmp_path):
    paths = write_images(tmp_path / "images", 6)
    first = list(store.add_images(paths[:4], dataset="scene A", progress=False))
    second = list(store.add_images(paths[4:], dataset="scene B", progress=False))
    store.add_task("cover", classes=CLASSES)
    assert store.queue("cover", "ann", spread=True) == [
        first[0], second[0], first[1], second[1], first[2], first[3]]


def test_a_predicted_mask_is_kept_apart_and_confirmed_as_a_mask(tagged):
    store, ids = tagged
    height, width = store.image(ids[0])["height"], store.image(ids[0])["width"]
    mask = np.zeros((height, width), np.uint8)
    mask[:, width // 2:] = 1
    store.add_predictions(pd.DataFrame({"image_id": [ids[0]], "kind": ["mask"],
                                        "mask": [mask], "value": [None]}),
                          task="cover", model="unet")
    row = store.predictions(task="cover").iloc[0]
    assert row["value"] == "water"  # the class covering most of it (a tie: the first)
    back, classes = store.predicted_mask(row["prediction_id"])
    assert np.array_equal(back, mask) and classes == CLASSES
    assert store.distribution("class pixels").empty  # no pixel counted as labeled
    store.accept_prediction(row["prediction_id"], labeler="ann")
    label = store.get_annotations(task="cover", kinds=["mask"]).iloc[0]
    assert label["props"]["prediction_id"] == row["prediction_id"]
    assert np.array_equal(store.mask(label["annotation_id"])[0], mask)
    with pytest.raises(StoreError, match="does not fit image"):
        store.add_predictions(pd.DataFrame({"image_id": [ids[1]], "kind": ["mask"],
                                            "mask": [mask[:4]]}), task="cover", model="unet")
    with pytest.raises(StoreError, match="index the task's 3 classes"):
        store.add_predictions(pd.DataFrame({"image_id": [ids[1]], "kind": ["mask"],
                                            "mask": [mask + 5]}), task="cover", model="unet")


def test_a_store_of_schema_six_gains_predictions_when_opened(new_target, backend, tmp_path):
    import sqlalchemy as sa

    target = new_target()
    with LabelStore.open(target) as old:
        ids = old.add_images(write_images(tmp_path / "old", 1), dataset="old", progress=False)
        old.add_task("cover", classes=CLASSES)
        with old.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE predictions"))
            conn.execute(sa.text("DROP TABLE image_features"))
            conn.execute(sa.text("UPDATE store_info SET value = '6' "
                                 "WHERE key = 'schema_version'"))
    with LabelStore.open(target) as store:
        predict(store, ids, ["sand"], [0.7])
        assert store.predictions(task="cover")["value"].tolist() == ["sand"]


def test_answering_a_prediction_that_is_not_there_says_so_and_writes_nothing(tagged):
    store, ids = tagged
    with pytest.raises(StoreError, match="no prediction 999"):
        store.accept_prediction(999, labeler="ann")
    with pytest.raises(StoreError, match="no prediction 999"):
        store.reject_prediction(999, labeler="ann")
    with pytest.raises(StoreError, match="a tag, not a mask"):
        predict(store, ids[:1], ["water"], [0.9])
        store.predicted_mask(int(store.predictions(task="cover")["prediction_id"].iloc[0]))
    assert store.get_annotations(task="cover", history=True).empty
