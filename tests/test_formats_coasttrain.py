"""Coast Train records with NPZ files: masks, doodles, settings and earlier trials."""

import numpy as np
import pandas as pd
import pytest

from formats_helpers import snapshot
from geolabel_widgets import LabelStore
from geolabel_widgets.demo import coastal_scene, simulate_doodles
from geolabel_widgets.formats import FormatError, read_coasttrain, write_coasttrain

CLASSES = ["water", "surf", "sand", "vegetation", "buildings"]


@pytest.fixture
def segmented(tmp_path):
    """Two scenes with masks (one redone, so with an earlier trial) and doodles."""
    from PIL import Image

    folder = tmp_path / "scenes"
    folder.mkdir()
    rng = np.random.default_rng(2)
    truths = []
    for k in range(2):
        rgb, truth = coastal_scene(rng, 96)
        Image.fromarray(rgb).save(folder / f"scene_{k}.png")
        truths.append(truth)
    store = LabelStore.open(tmp_path / "a.sqlite")
    ids = store.add_images(folder, dataset="NAIP demo", progress=False)
    store.add_task("cover", type="semantic_segmentation", classes=CLASSES)
    settings = {"pen_width": 3, "CRF_theta": 1, "CRF_mu": 1}
    for image_id, truth, labeler in zip(ids, truths, ["ID2", "bob"]):
        doodles = simulate_doodles(truth, rng, width=2)
        store.add_mask(image_id, np.zeros_like(truth), task="cover", labeler=labeler,
                       props={"doodler_settings": settings})  # a first try
        store.add_mask(image_id, doodles, task="cover", labeler=labeler, kind="doodles",
                       props={"doodler_settings": settings})
        store.add_mask(image_id, truth, task="cover", labeler=labeler,
                       props={"doodler_settings": settings})
    # a second labeler on the first scene: two CSV rows, one image, and file names that
    # must not take ID2 for ann
    store.add_mask(ids[0], np.where(truths[0] == 0, 0, 2), task="cover", labeler="ann")
    yield store, ids, truths
    store.close()


def _masks(store):
    """Every mask row, history too: (image, labeler, kind, pixels) in order."""
    rows = store.get_annotations(task=store.tasks.index[0], kinds=["mask", "doodles"],
                                 history=True).sort_values("annotation_id")
    names = store.images["name"]
    out = {}
    for row in rows.itertuples():
        array, classes = store.mask(row.annotation_id)
        out.setdefault((names[row.image_id], row.labeler, row.kind), []).append(
            (array.tobytes(), tuple(classes)))
    return out


def test_a_record_with_npz_round_trips_masks_doodles_trials_and_settings(segmented, tmp_path):
    store, ids, truths = segmented
    table = write_coasttrain(store, tmp_path / "NAIP_5_001.zip", task="cover", progress=False)
    assert table["classes_present_array"].str.contains("'water'").all()
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_coasttrain(again, tmp_path / "NAIP_5_001.zip", task="cover", progress=False)
        assert _masks(again) == _masks(store)
        npz = np.load(next((tmp_path / "NAIP_5_001" / "npz").glob("scene_0_ID2.npz")))
        assert {"image", "orig_image", "label", "color_label", "doodles", "color_doodles",
                "settings", "classes", "0label"} <= set(npz.files)
        mask = again.get_annotations(kinds=["mask"]).iloc[0]
        assert mask["props"]["doodler_settings"]["pen_width"] == 3
        assert snapshot(again)["labels"] == snapshot(store)["labels"]
        assert sorted(again.labelers.index) == ["ID2", "ann", "bob"]
        assert len(list((tmp_path / "NAIP_5_001" / "npz").glob("*.npz"))) == 3
        assert len(again.images) == 2


def test_an_npz_that_needs_pickle_or_holds_a_bad_label_stops_the_import(segmented, tmp_path):
    store, *_ = segmented
    write_coasttrain(store, tmp_path / "record", task="cover", progress=False)
    npz = tmp_path / "record" / "npz" / "scene_0_ID2.npz"
    arrays = dict(np.load(npz))
    arrays["label"] = np.full_like(arrays["label"], 9)  # only 5 classes
    np.savez(npz, **arrays, evil=np.array([{"a": 1}], dtype=object))
    with LabelStore.open(tmp_path / "b.sqlite") as target:
        with pytest.warns(UserWarning, match="'evil' needs pickle"):
            with pytest.raises(FormatError, match="'label'.*value 9"):
                read_coasttrain(target, tmp_path / "record", progress=False)
        assert len(target.images) == 0 and len(target.get_annotations(history=True)) == 0


def test_a_record_without_image_files_takes_them_from_the_npz(segmented, tmp_path):
    store, *_ = segmented
    write_coasttrain(store, tmp_path / "record", task="cover", progress=False)
    for image in (tmp_path / "record" / "images").iterdir():
        image.unlink()
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_coasttrain(again, tmp_path / "record", progress=False)
        images = again.images
        assert not images["file_missing"].any() and (images["width"] == 96).all()
        assert all("images_from_npz" in uri for uri in images["uri"])


def test_the_csv_alone_is_still_a_catalogue(segmented, tmp_path):
    store, *_ = segmented
    table = write_coasttrain(store, tmp_path / "record", task="cover", progress=False)
    csv = tmp_path / "alone" / "NAIP_meta.csv"
    csv.parent.mkdir()
    table.to_csv(csv, index=False)
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_coasttrain(again, csv)
        assert again.tasks.loc["NAIP classes", "type"] == "multilabel"
        assert len(again.images) == 2 and again.images["file_missing"].all()
        tags = again.annotations.groupby(["labeler"])["image_id"].agg(set)
        assert tags["ID2"] == tags["ann"] != tags["bob"]  # each row's tags on its own image
    assert isinstance(pd.read_csv(csv), pd.DataFrame)


def test_a_one_hot_label_in_a_record_npz_is_its_argmax(segmented, tmp_path):
    """The release's ``label`` may be one-hot (H, W, classes), as Doodler writes it."""
    store, ids, truths = segmented
    write_coasttrain(store, tmp_path / "record", task="cover", progress=False)
    npz, = (tmp_path / "record" / "npz").glob("scene_1_*.npz")  # bob's
    arrays = dict(np.load(npz))
    arrays["label"] = np.eye(len(CLASSES), dtype=np.uint8)[arrays["label"]]
    np.savez(npz, **arrays)
    with LabelStore.open(tmp_path / "b.sqlite") as target:
        read_coasttrain(target, tmp_path / "record", progress=False)
        masks = target.get_annotations(kinds=["mask"], labeler="bob")
        mask, _ = target.mask(masks["annotation_id"].iloc[0])
        assert np.array_equal(mask, truths[1])


def test_record_b_counts_its_integers_and_warns_once(shared_data, tmp_path):
    """Record B's classes_present_array names all 7 classes on every row; the integers
    say what is there (22 of its 44 rows hold fewer)."""
    from coasttrain_truth import METADATA, read_csvs_independently

    with LabelStore.open(tmp_path / "b.sqlite") as store:
        with pytest.warns(UserWarning) as caught:
            read_coasttrain(store, METADATA / "B_quads_gulf_meta_served.csv", progress=False)
        messages = [str(w.message) for w in caught if "disagrees" in str(w.message)]
        assert messages == ["B_quads_gulf_meta_served.csv: classes_present_array disagrees "
                            "with classes_present_integer in 22 of 44 rows; the integers are "
                            "used (the authors' own figures count them)"]
        tags = store.get_annotations(kinds=["tag"])
        counts = tags.explode("value")["value"].value_counts().to_dict()
        assert counts == dict(read_csvs_independently()["B_quads_gulf"]["classes"])
        assert counts["water"] == 44 and counts["developed"] < 44
