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
        {"image_id": first, "label": ["present"], "labels": {}, "status": "labeled"}]}
    assert tagger.store.annotations["value"].tolist() == ["present"]
    assert tagger.labeled == 1


def test_undo_goes_back_to_the_image_it_changed(tagger):
    browser = Browser(tagger)
    for image_id in tagger.queue[:3]:
        browser.say(type="tag", image_id=image_id, value="present", req=1)
    browser.say(type="undo", req=2)
    assert browser.sent[-1][0] == {"type": "goto", "position": 2}
    assert tagger.labeled == 2


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
