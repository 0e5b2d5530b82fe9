"""Image Labeler downloads: bulk, per event by status, chosen images; and back in."""

import pandas as pd
import pytest
from PIL import Image

from conftest import write_images
from formats_helpers import TAGS, labeled_store, snapshot
from geolabel_widgets import LabelStore
from geolabel_widgets.formats import FormatError, read_imagelabeler, write_imagelabeler


@pytest.fixture
def events(tmp_path):
    """The labeled store plus a second event of four photos, two tagged."""
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.add_dataset("smoke")
    store.add_group("smoke", ["smoke"])
    store.add_task("smoke", classes=["present", "not present"], group="smoke")
    smoke = store.add_images(write_images(tmp_path / "smoke", 4, size=(40, 30), seed=5),
                             dataset="smoke", progress=False)
    store.tag(smoke[0], "present", task="smoke", labeler="cy")
    store.tag(smoke[1], "not present", task="smoke", labeler="cy")
    store.tag(smoke[1], "present", task="smoke", labeler="dee")  # the latest wins
    yield store, ids, smoke
    store.close()


def test_a_bulk_download_sorts_every_event_by_status_and_reads_back(events, tmp_path):
    store, ids, smoke = events
    write_imagelabeler(store, tmp_path / "bulk.zip", task=[TAGS, "smoke"], progress=False)
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_imagelabeler(again, tmp_path / "bulk.zip", progress=False)
        folder = tmp_path / "bulk"
        table = pd.read_csv(folder / "smoke" / "images.csv")
        assert sorted(table["status"]) == ["present", "present", "unlabeled", "unlabeled"]
        assert len(list((folder / "smoke" / "unlabeled").iterdir())) == 2
        assert sorted(again.tasks.index) == sorted([TAGS, "smoke"])
        assert sorted(again.datasets.index) == sorted([TAGS, "smoke"])
        assert again.queue("smoke", "x", status=None) == again.queue("smoke", "y", status=None)
        assert len(again.queue("smoke", "x", status=None)) == 4  # the event's own images
        got = again.get_annotations(task="smoke", kinds=["tag"])
        assert sorted(zip(got["labeler"], got["value"])) == [("cy", "present"),
                                                            ("dee", "present")]
        flood = snapshot(again, task=TAGS)["labels"]
        # one image was tagged by ann and ben: a download keeps the latest tag only
        assert flood == [r for r in snapshot(store, task=TAGS)["labels"]
                         if (r[0], r[2]) != ("scene_1.tif", "ann")]


def test_one_event_some_statuses_or_chosen_images(events, tmp_path):
    store, ids, smoke = events
    write_imagelabeler(store, tmp_path / "present", task="smoke", statuses=["present"],
                       progress=False)
    assert sorted(p.name for p in (tmp_path / "present" / "smoke").iterdir()) == [
        "images.csv", "yes"]  # the data-share layout: yes/ and no/
    write_imagelabeler(store, tmp_path / "chosen", task="smoke", image_ids=smoke[2:],
                       progress=False)
    table = pd.read_csv(tmp_path / "chosen" / "smoke" / "images.csv")
    assert table["status"].tolist() == ["unlabeled", "unlabeled"]
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_imagelabeler(again, tmp_path / "present", progress=False)
        assert len(again.images) == 2 and len(again.annotations) == 2


def test_a_download_without_images_csv_reads_from_its_folders(tmp_path):
    for status, count in (("present", 2), ("not_present", 1), ("unlabeled", 3)):
        for k in range(count):  # the same names in several folders, as downloads have
            (tmp_path / "dl" / "Hurricane Ida" / status).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (20, 10), (k * 40, count * 30, 0)).save(
                tmp_path / "dl" / "Hurricane Ida" / status / f"{k}.png")
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        read_imagelabeler(store, tmp_path / "dl", progress=False)
        assert len(store.images) == 6
        assert sorted(store.annotations["value"]) == ["not present", "present", "present"]


def test_a_csv_naming_a_file_that_is_not_there_stops_the_import(events, tmp_path):
    store, *_ = events
    write_imagelabeler(store, tmp_path / "dl", task="smoke", progress=False)
    csv = tmp_path / "dl" / "smoke" / "images.csv"
    table = pd.read_csv(csv)
    table.loc[2, "filename"] = "../../etc/passwd"
    table.to_csv(csv, index=False)
    with LabelStore.open(tmp_path / "b.sqlite") as target:
        with pytest.raises(FormatError, match="line 4: filename '../../etc/passwd'"):
            read_imagelabeler(target, tmp_path / "dl", progress=False)
        assert len(target.images) == 0
