"""ImageTagger's kernel half, driven with the messages its browser half sends."""

import pytest

from conftest import write_images
from widget_drivers import Browser
from geolabel_widgets import ImageTagger, LabelStore
from geolabel_widgets.widgets.keyboard import class_keys, key_map


@pytest.fixture
def tagger(store, image_folder):
    store.add_images(image_folder, dataset="event", progress=False)
    widget = ImageTagger(store, task="flood", labeler="ann")
    yield widget
    widget.close()


def test_the_window_carries_images_and_what_to_show_about_them(tagger):
    browser = Browser(tagger)
    window = browser.say(type="need", position=0, have=[])
    assert window["type"] == "window" and [i["position"] for i in window["items"]] == list(range(6))
    first = window["items"][0]
    assert first["name"].startswith("img_") and "64 × 48 px" in first["info"]
    assert first["label"] == [] and first["status"] == "unlabeled"
    buffers = browser.sent[-1][1]
    assert len(buffers) == 6 and all(b[:2] == b"\xff\xd8" for b in buffers)
    # images the view already has are not sent again
    browser.say(type="need", position=1, have=[i["image_id"] for i in window["items"]])
    assert browser.sent[-1][1] == []


def test_a_tag_is_committed_before_the_view_hears_saved(tagger):
    browser = Browser(tagger)
    first = tagger.queue[0]
    reply = browser.say(type="tag", image_id=first, value="present", req=7)
    assert reply == {"type": "saved", "req": 7, "items": [
        {"image_id": first, "label": ["present"], "labels": {}, "status": "labeled",
         "prediction": None}],
        "positions": [0]}
    assert tagger.store.annotations["value"].tolist() == ["present"]
    assert tagger.labeled == 1


def test_undo_says_where_the_image_it_changed_is(tagger):
    browser = Browser(tagger)
    for req, image_id in enumerate(tagger.queue[:3]):
        browser.say(type="tag", image_id=image_id, value="present", req=req)
    reply = browser.say(type="undo", image_id=tagger.queue[2], req=9)
    assert reply["type"] == "saved" and reply["positions"] == [2]
    assert tagger.labeled == 2


def test_undo_takes_back_the_image_the_view_names_not_the_last_write(tagger):
    browser = Browser(tagger)
    first, second = tagger.queue[:2]
    browser.say(type="tag", image_id=first, value="present", req=1)
    browser.say(type="tag", image_id=second, value="present", req=2)
    browser.say(type="undo", image_id=first, req=3)
    assert tagger.store.annotations["image_id"].tolist() == [second]


def test_writes_wait_in_order_for_a_slow_store_and_images_do_not(tagger, monkeypatch):
    """A store that takes 200 ms a write: the window of images is answered at once, and
    the tags, a copy sent twice and an undo are applied in the order made, once each."""
    import threading
    import time

    release = threading.Event()
    real_tag = tagger.store.tag

    def slow_tag(*args, **kwargs):
        release.wait(5)
        time.sleep(0.2)
        return real_tag(*args, **kwargs)

    monkeypatch.setattr(tagger.store, "tag", slow_tag)
    browser = Browser(tagger)
    ids = tagger.queue[:3]
    for req, image_id in enumerate(ids):
        tagger._on_message(tagger, {"type": "tag", "image_id": image_id, "value": "present",
                                    "req": req}, [])
    tagger._on_message(tagger, {"type": "tag", "image_id": ids[0], "value": "present",
                                "req": 0}, [])  # the view sent it again
    tagger._on_message(tagger, {"type": "undo", "image_id": ids[2], "req": 3}, [])
    tagger._on_message(tagger, {"type": "need", "position": 3, "have": [], "seen": None}, [])
    assert browser.sent[-1][0]["type"] == "window"  # before any write is done
    assert tagger.store.annotations.empty
    release.set()
    tagger.flush()
    saved = [content["req"] for content, _ in browser.sent if content["type"] == "saved"]
    assert saved == [0, 1, 2, 0, 3]
    history = tagger.store.get_annotations(task="flood", history=True)
    assert history["image_id"].tolist().count(ids[0]) == 1  # written once
    assert sorted(tagger.store.annotations["image_id"]) == sorted(ids[:2])


def test_the_view_moves_itself_python_moves_it_with_a_goto(tagger):
    browser = Browser(tagger)
    browser.say(type="need", position=4, have=[], seen=None)
    assert tagger.position == 4 and all(c["type"] != "goto" for c, _ in browser.sent)
    tagger.position = 1
    assert browser.sent[-1][0] == {"type": "goto", "position": 1}
    reply = browser.say(type="first_unlabeled", moves=7)
    assert reply == {"type": "goto", "position": 0, "moves": 7}


def test_images_on_their_way_to_the_view_are_not_sent_twice(tagger):
    browser = Browser(tagger)
    first = browser.say(type="need", position=0, have=[], seen=None)
    # asked again before the first window arrived: nothing to send but the new one
    second = browser.say(type="need", position=1, have=[], seen=None)
    assert len(browser.sent[-1][1]) == len(browser.sent[-2][1])  # a view it has not heard
    third = browser.say(type="need", position=1, have=[], seen=first["window"])
    assert browser.sent[-1][1] == []
    assert second["window"] < third["window"]


def test_an_unknown_class_fails_loudly_and_stores_nothing(tagger):
    browser = Browser(tagger)
    reply = browser.say(type="tag", image_id=tagger.queue[0], value="maybe", req=3)
    assert reply["type"] == "failed" and "no class 'maybe'" in reply["error"]
    assert tagger.store.annotations.empty


def test_a_new_tagger_resumes_at_the_first_unlabeled_image(store, image_folder):
    ids = store.add_images(image_folder, dataset="event", progress=False)
    store.add_task("flood")
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.tag(ids[1], "present", task="flood", labeler="ann")
    assert ImageTagger(store, task="flood", labeler="ann").position == 2
    assert ImageTagger(store, task="flood", labeler="bob").position == 0


def test_two_labelers_taggers_on_one_store_do_not_interfere(tmp_path, image_folder):
    path = tmp_path / "shared.sqlite"
    LabelStore.open(path).add_images(image_folder, dataset="event", progress=False)
    ann = ImageTagger(LabelStore.open(path), task="flood", labeler="ann")
    bob = ImageTagger(LabelStore.open(path), task="flood", labeler="bob")
    a, b = Browser(ann), Browser(bob)
    a.say(type="tag", image_id=ann.queue[0], value="present", req=1)
    b.say(type="tag", image_id=bob.queue[0], value="not present", req=1)
    b.say(type="undo", req=2)
    current = LabelStore.open(path).annotations
    assert current[["labeler", "value"]].values.tolist() == [["ann", "present"]]


def test_review_mode_shows_everyones_labels_and_sends_back_with_a_comment(tagger):
    browser = Browser(tagger)
    first = tagger.queue[0]
    tagger.store.tag(first, "not present", task="flood", labeler="bob")
    browser.say(type="review_mode", on=True)
    window = browser.sent[-1][0]
    assert window["items"][0]["labels"] == {"bob": ["not present"]}
    browser.say(type="review", image_id=first, verdict="needs_improvement",
                comment="the plume is at the left edge", req=4)
    statuses = tagger.store.statuses("flood").set_index("labeler")
    assert statuses.loc["bob", ["status", "comment", "author"]].tolist() == [
        "needs_improvement", "the plume is at the left edge", "ann"]


def test_a_missing_file_is_a_placeholder_not_a_stop(store, tmp_path):
    import geopandas as gpd

    paths = write_images(tmp_path / "imgs", 2)
    catalogue = gpd.GeoDataFrame({"path": [str(paths[0]), str(tmp_path / "gone.jpg")]})
    store.add_images(catalogue, dataset="mixed")
    tagger = ImageTagger(store, task="flood", labeler="ann")
    window = Browser(tagger).say(type="need", position=0, have=[])
    assert "error" not in window["items"][0]
    assert window["items"][1]["error"] == "is missing"


def test_keys_are_digits_by_default_and_clashes_are_refused():
    assert class_keys(["present", "not present"]) == {"present": "1", "not present": "2"}
    with pytest.raises(ValueError, match="both"):
        key_map(["a", "b"], {"a": "z", "b": "2"})
    with pytest.raises(ValueError, match="explicit"):
        class_keys([str(k) for k in range(10)])


def test_the_window_shows_the_models_newest_class_and_a_key_takes_it(tagger):
    import pandas as pd

    store, first, second = tagger.store, *tagger.queue[:2]
    store.add_predictions(pd.DataFrame({"image_id": [first], "value": ["not present"],
                                        "score": [0.6]}), task="flood", model="old")
    store.add_predictions(pd.DataFrame({"image_id": [first, second],
                                        "value": ["present", "present"],
                                        "score": [0.8, 0.7]}), task="flood", model="new")
    browser = Browser(tagger)
    window = browser.say(type="need", position=0, have=[])
    shown = window["items"][0]["prediction"]
    assert {k: shown[k] for k in ("value", "model", "score", "rejected")} == \
        {"value": "present", "model": "new", "score": 0.8, "rejected": False}
    assert window["items"][2]["prediction"] is None  # no model has a class for it

    reply = browser.say(type="tag", image_id=first, value="present", req=1,
                        prediction_id=shown["id"], model="new")
    assert reply["items"][0]["label"] == ["present"]
    tag = store.get_annotations(task="flood", kinds=["tag"]).iloc[0]
    assert tag["props"] == {"prediction_id": shown["id"], "model": "new", "edited": False}

    second_id = window["items"][1]["prediction"]["id"]
    reply = browser.say(type="reject", image_id=second, prediction_id=second_id, req=2)
    assert reply["items"][0]["prediction"]["rejected"] is True
    assert reply["items"][0]["status"] == "unlabeled"  # still theirs to label
    browser.say(type="undo", image_id=second, req=3)
    assert store.get_annotations(task="flood", kinds=["rejection"]).empty



def test_a_model_that_stopped_is_said_in_the_view_and_tagging_goes_on(tagger):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run = tagger.store.add_model("flood", lambda ids: 1 / 0, name="broken",
                                     progress=False)
        assert run.wait(30)
    browser = Browser(tagger)
    browser.say(type="need", position=1, have=[])
    assert "model 'broken' raised ZeroDivisionError" in tagger.model_note
    reply = browser.say(type="tag", image_id=tagger.queue[1], value="present", req=1)
    assert reply["type"] == "saved" and tagger.store.annotations["value"].tolist() == ["present"]
