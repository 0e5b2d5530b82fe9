"""A model in the loop: image features, the built-in learner, and any model run in the
background, whatever it does wrong."""

import threading
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geolabel_widgets import LabelStore
from geolabel_widgets.demo import coastal_scene
from geolabel_widgets.learn import FEATURES, Learner, add_image_features, image_features

TASK = "plume"


@pytest.fixture
def scenes(tmp_path):
    """20 synthetic coastal scenes, every other one with a sediment plume: (store, ids,
    truth by image id)."""
    rng = np.random.default_rng(4)
    paths, truth = [], []
    for k in range(20):
        rgb, _ = coastal_scene(rng, size=96, plume=k % 2 == 1)
        path = tmp_path / "images" / f"scene_{k:02d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rgb).save(path)
        paths.append(path)
        truth.append("plume" if k % 2 else "clear")
    store = LabelStore.open(tmp_path / "labels.sqlite")
    ids = list(store.add_images(paths, dataset="synthetic", progress=False))
    store.add_task(TASK, classes=["plume", "clear"])
    yield store, ids, dict(zip(ids, truth))
    store.close()


def test_features_describe_colour_and_texture_and_are_computed_once(scenes):
    store, ids, _ = scenes
    flat = image_features(np.full((32, 32, 3), 120, np.uint8))
    busy = image_features(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8))
    assert flat.shape == busy.shape and np.isfinite(flat).all()
    assert not np.allclose(flat, busy)
    assert add_image_features(store, ids[:5], progress=False) == 5
    assert add_image_features(store, progress=False) == 15  # only those without
    assert add_image_features(store, progress=False) == 0
    assert store.features(FEATURES).shape == (20, flat.size)


def test_features_computed_on_a_cluster_are_those_computed_here(scenes, tmp_path,
                                                                dask_cluster):
    store, ids, _ = scenes
    assert add_image_features(store, progress=False) == 20
    with LabelStore.open(tmp_path / "there.sqlite") as there:
        there.add_images(store.images["uri"].tolist(), dataset="synthetic", progress=False)
        assert add_image_features(there, scheduler=dask_cluster, progress=False) == 20
        assert there.features(FEATURES).loc[ids].equals(store.features(FEATURES).loc[ids])


def test_any_models_embedding_is_a_feature_set_of_its_own(scenes):
    store, ids, _ = scenes
    assert add_image_features(store, ids[:3], name="means", progress=False,
                              embed=lambda rgb: rgb.reshape(-1, 3).mean(0)) == 3
    assert store.features("means").shape == (3, 3)
    assert store.features(FEATURES).empty  # the built-in set is another name


def test_the_learner_refuses_a_task_it_cannot_learn(scenes):
    from geolabel_widgets.store import StoreError

    store, _, _ = scenes
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    with pytest.raises(StoreError, match="no task named 'nope'"):
        Learner(store, "nope")
    with pytest.raises(StoreError, match="one class per image"):
        Learner(store, "cover")


def test_the_learner_predicts_the_untagged_images_from_a_few_tags(scenes):
    store, ids, truth = scenes
    learner = Learner(store, TASK)
    assert learner.fit_predict() == 0  # no tags yet: nothing to learn from
    for image_id in ids[:6]:
        store.tag(image_id, truth[image_id], task=TASK, labeler="ann")
    assert learner.fit_predict() == 14
    predicted = store.predictions(task=TASK).set_index("image_id")
    assert set(predicted["model"]) == {"learner"} and ids[0] not in predicted.index
    right = np.mean([predicted.loc[i, "value"] == truth[i] for i in predicted.index])
    assert right >= 0.8
    assert all(set(s) == {"plume", "clear"} for s in predicted["scores"])
    assert learner.fit_predict() == 0  # nothing new learned: nothing written again
    assert len(store.predictions(task=TASK, history=True)) == 14
    assert store.annotations["labeler"].unique().tolist() == ["ann"]  # no label of its own


def test_the_learner_fits_again_in_its_thread_as_tags_arrive(scenes):
    store, ids, truth = scenes
    for image_id in ids[:2]:
        store.tag(image_id, truth[image_id], task=TASK, labeler="ann")
    learner = Learner(store, TASK).start()
    try:
        assert learner.wait(60) and learner.fits == 1
        store.tag(ids[2], truth[ids[2]], task=TASK, labeler="ann")
        assert learner.wait(60) and learner.fits == 2  # once: its own writes ask nothing
        latest = store.predictions(task=TASK).set_index("image_id")["version"]
        assert latest[ids[2]] == "fit 1 on 2 tags"  # what it said before ann tagged it
    finally:
        learner.stop()


def test_a_tag_is_written_at_once_while_the_learner_fits(scenes):
    store, ids, truth = scenes
    for image_id in ids[:4]:
        store.tag(image_id, truth[image_id], task=TASK, labeler="ann")
    fitting, release = threading.Event(), threading.Event()

    class Slow:  # a classifier that holds the learner's thread until told
        def fit(self, x, y):
            fitting.set()
            release.wait(30)
            from sklearn.linear_model import LogisticRegression
            self.model = LogisticRegression().fit(x, y)
            self.classes_ = self.model.classes_
            return self

        def predict_proba(self, x):
            return self.model.predict_proba(x)

        def get_params(self, deep=True):
            return {}

    learner = Learner(store, TASK, classifier=Slow()).start()
    try:
        assert fitting.wait(60)
        started = time.perf_counter()
        store.tag(ids[5], truth[ids[5]], task=TASK, labeler="ann")
        assert time.perf_counter() - started < 5  # not held by the fit (which waits 30 s)
    finally:
        release.set()
        learner.stop()


def truth_model(truth, score=0.8):
    def predict(image_ids):
        return pd.DataFrame({"image_id": image_ids, "value": [truth[i] for i in image_ids],
                             "score": score})
    return predict


def test_any_model_predicts_the_queue_in_the_background(scenes):
    store, ids, truth = scenes
    store.tag(ids[0], "clear", task=TASK, labeler="ann")
    run = store.add_model(TASK, truth_model(truth), name="oracle", labeler="ann", batch=4,
                          progress=False)
    assert run.wait(60) and run.note is None and run.predicted == 19
    again = store.add_model(TASK, truth_model(truth), name="oracle", progress=False)
    assert again.wait(60) and again.predicted == 1  # only the image it had not seen


@pytest.mark.parametrize("predict, says", [
    (lambda ids: 1 / 0, "raised ZeroDivisionError"),
    (lambda ids: time.sleep(5), "has not answered in 0.5 s"),
    (lambda ids: [("x", "plume")], "no DataFrame"),
    (lambda ids: pd.DataFrame({"image_id": ["elsewhere"], "value": ["plume"]}),
     "not asked about"),
    (lambda ids: pd.DataFrame({"image_id": ids, "value": "plume", "score": 3.0}),
     "refused: prediction row 0: a score is a number from 0 to 1"),
    (lambda ids: pd.DataFrame({"image_id": ids, "value": "lava"}), "has no class 'lava'"),
])
def test_a_model_that_fails_stops_its_run_with_a_note_and_loses_no_label(scenes, predict,
                                                                         says):
    store, ids, truth = scenes
    store.tag(ids[0], "clear", task=TASK, labeler="ann")
    with pytest.warns(RuntimeWarning, match=says):
        run = store.add_model(TASK, predict, name="bad", timeout=0.5, progress=False)
        assert run.wait(30)
    assert says in run.note and "labeling goes on" in run.note
    assert store.predictions(task=TASK).empty
    store.tag(ids[1], "plume", task=TASK, labeler="ann")  # the labeler goes on
    assert len(store.annotations) == 2


def test_the_learner_fits_on_any_models_embedding(scenes):
    store, ids, truth = scenes
    for image_id in ids[:6]:
        store.tag(image_id, truth[image_id], task=TASK, labeler="ann")

    def means(rgb):  # a stand-in for a model's embedding: the mean of each band
        return rgb.reshape(-1, 3).mean(0)

    learner = Learner(store, TASK, features="band means", embed=means)
    assert learner.fit_predict() == 14
    assert store.features("band means").shape == (20, 3)
    assert store.features(FEATURES).empty  # the built-in set was never computed
