"""The widgets on a PostgreSQL store whose server goes away mid-labeling: a clear
error, the label kept in the widget, and saved (once) when the server is back."""

import threading
import time

import numpy as np
import pytest
from PIL import Image

from conftest import write_images
from geolabel_widgets import CanvasLabeler, ImageTagger, LabelStore, StoreUnavailable
from geolabel_widgets.demo import coastal_scene
from widget_drivers import Browser, Hand


@pytest.fixture
def server_store(postgres, tmp_path):
    with LabelStore.open(postgres.new_database(), mask_dir=tmp_path / "masks") as store:
        yield store
    if not _answers(postgres):
        postgres.start()  # a failed test leaves the server up for the next


def _answers(postgres) -> bool:
    try:
        with LabelStore.open(postgres.url()):
            return True
    except Exception:
        return False


def test_a_tag_made_while_the_server_is_down_is_kept_and_saved_once(postgres, server_store,
                                                                     tmp_path):
    write_images(tmp_path / "images", 4)
    server_store.add_images(tmp_path / "images", dataset="event", progress=False)
    tagger = ImageTagger(server_store, task="flood", labeler="ann")
    browser = Browser(tagger)
    first, second = tagger.queue[:2]
    assert browser.say(type="tag", image_id=first, value="present", req=1)["type"] == "saved"

    postgres.stop("fast")
    started = time.monotonic()
    reply = browser.say(type="tag", image_id=second, value="not present", req=2, sentAt=1)
    assert reply["type"] == "unsaved" and reply["req"] == 2  # the view keeps it pending
    assert "cannot reach the database" in reply["error"]
    assert time.monotonic() - started < 10  # said within seconds, not a hung kernel
    again = browser.say(type="tag", image_id=second, value="not present", req=2, sentAt=2)
    assert again["type"] == "unsaved"  # the view's resend while the server is away

    postgres.start()
    saved = browser.say(type="tag", image_id=second, value="not present", req=2, sentAt=3)
    assert saved["type"] == "saved" and saved["items"][0]["label"] == ["not present"]
    # a copy of it still on its way is answered, not written twice
    assert browser.say(type="tag", image_id=second, value="not present", req=2,
                       sentAt=4)["type"] == "saved"
    history = server_store.get_annotations(kinds=["tag"], history=True)
    assert sorted(history["value"]) == ["not present", "present"]
    assert tagger.labeled == 2
    tagger.close()


def test_a_polygon_drawn_while_the_server_is_down_stays_drawn_and_is_saved(
        postgres, server_store, tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    Image.fromarray(coastal_scene(np.random.default_rng(1), 200)[0]).save(folder / "s.png")
    server_store.add_images(folder, dataset="scenes", progress=False)
    canvas = CanvasLabeler(server_store, task="cover", labeler="ann", display_size=400,
                           classes=["water", "sand"])
    hand = Hand(canvas)
    hand.key("p")

    postgres.stop("fast")
    for point in [(20, 20), (200, 20), (200, 200), (20, 200)]:
        hand.click(*point)
    hand.key("Enter")
    assert "cannot reach the database" in canvas.message.value
    assert "1 shape(s) kept here" in canvas.message.value
    assert [s.kind for s in canvas.shapes] == ["polygon"]  # still drawn

    postgres.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and canvas.unsaved:  # the widget's own retry
        time.sleep(0.2)
    assert "The database is back: 1 kept shape(s) saved." == canvas.message.value
    rows = server_store.get_annotations(task="cover", kinds=["polygon"], history=True)
    assert len(rows) == 1 and rows.iloc[0]["geometry"].area == 90 * 90
    assert [s.label_id for s in canvas.shapes] == rows["label_id"].tolist()
    canvas.close()


def test_a_store_call_says_when_the_server_stays_away(postgres, server_store):
    server_store.add_task("flood")
    postgres.stop("fast")
    try:
        started = time.monotonic()
        with server_store.waiting_at_most(1.5), pytest.raises(StoreUnavailable) as raised:
            server_store.add_labeler("bob")
        waited = time.monotonic() - started
    finally:
        postgres.start()
    assert "cannot reach the database" in str(raised.value)
    assert "Nothing of this call was written" in str(raised.value)
    assert 0.5 < waited < 2.5  # it tried again, for at most about 1.5 s
    server_store.add_labeler("bob")  # and the same store works once it is back
    assert "bob" in server_store.labelers.index


def _small_scene(path) -> None:
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8",
                       crs="EPSG:32610", transform=from_origin(500000, 4100000, 10, 10)) as dst:
        dst.write(np.full((1, 64, 64), 7, np.uint8))


CALLS = {  # every public store call that was once made only once, outage or not
    "add_group": lambda store, _: store.add_group("coast", ["event"]),
    "groups": lambda store, _: store.groups,
    "assignments": lambda store, _: store.assignments,
    "remap": lambda store, _: store.remap("merged", {"present": "yes"}),
    "view_aliases": lambda store, _: store.view_aliases("merged"),
    "image": lambda store, ids: store.image(ids[0]),
    "sources": lambda store, _: store.sources,
    "stats": lambda store, _: store.stats(),
    "split": lambda store, _: store.split("flood", seed=1),
    "splits": lambda store, _: store.splits("flood"),
    "add_images": lambda store, _: store.add_images(
        __import__("pandas").DataFrame({"path": ["/archive/late.tif"]}), dataset="late"),
    "add_chips": lambda store, folder: store.add_chips(folder / "scene.tif", size=32,
                                                       folder=folder / "chips", progress=False),
}


def test_every_store_call_rides_out_a_restart(postgres, server_store, tmp_path):
    write_images(tmp_path / "images", 3)
    ids = server_store.add_images(tmp_path / "images", dataset="event", progress=False)
    server_store.add_task("flood")
    server_store.assign("flood", "ann")
    server_store.remap("merged", {"present": "yes"})
    _small_scene(tmp_path / "scene.tif")
    for name, call in CALLS.items():
        postgres.stop("fast")
        back = threading.Timer(0.5, postgres.start)
        back.start()
        try:
            result = call(server_store, tmp_path if name == "add_chips" else ids)
        finally:
            back.join()
        assert result is not None, name
    assert server_store.groups == {"coast": ["event"]}
    assert server_store.splits("flood").size == 3
    assert len(server_store.images) == 3 + 1 + 4  # the late image and four chips, once each
