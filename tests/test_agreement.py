"""Agreement measures checked against independent computations and worked examples."""

import krippendorff
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from conftest import write_images
from geolabel_widgets import plots
from geolabel_widgets.store import agreement

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", its worked example:
# four coders, twelve units, missing ratings; nominal alpha 0.743
RELIABILITY = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan]])


def _long(table: np.ndarray) -> pd.DataFrame:
    coders, units = np.nonzero(~np.isnan(table))
    return pd.DataFrame({"unit": units, "value": table[coders, units]})


def test_alpha_is_krippendorffs_worked_example_and_the_reference_library():
    assert agreement.krippendorff_alpha(_long(RELIABILITY)) == pytest.approx(0.743, abs=5e-4)
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 300).astype(float)
    noisy = np.where(rng.random((6, 300)) < 0.3, rng.integers(0, 4, (6, 300)), truth)
    noisy[rng.random((6, 300)) < 0.2] = np.nan  # labelers who did not see the image
    assert agreement.krippendorff_alpha(_long(noisy)) == pytest.approx(
        krippendorff.alpha(reliability_data=noisy, level_of_measurement="nominal"))
    assert np.isnan(agreement.krippendorff_alpha(_long(np.ones((2, 5)))))  # one value only


def test_shapes_are_matched_one_to_one_at_the_iou_threshold():
    a = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(50, 50, 60, 60)]
    b = [box(1, 0, 11, 10), box(20, 0, 30, 10), box(0, 0, 10, 10)]  # two near a[0]
    iou = np.array([[shapely.intersection(p, q).area / shapely.union(p, q).area for q in b]
                    for p in a])
    found = agreement.matched(iou, 0.5)
    assert sorted(found) == pytest.approx([1.0, 1.0])  # a[0]-b[2], a[1]-b[1]; b[0] left
    shapes = pd.DataFrame({"image_id": ["x"] * 6, "labeler": ["ann"] * 3 + ["bob"] * 3,
                           "value": ["hut"] * 6, "geometry": a + b})
    table = agreement.shape_agreement(shapes).iloc[0]
    assert (table["matches"], table["precision"], table["recall"]) == (2, 2 / 3, 2 / 3)
    assert table["f1"] == pytest.approx(2 / 3) and table["mean_iou"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        agreement.shape_agreement(shapes, threshold=1.5)


def test_mask_iou_and_dice_per_class():
    one = np.array([["water", "water"], ["sand", "sand"]], dtype=object)
    other = np.array([["water", "sand"], ["sand", "sand"]], dtype=object)
    table = agreement.mask_agreement(one, other).set_index("class")
    assert table.loc["water", "iou"] == 0.5 and table.loc["water", "dice"] == pytest.approx(2 / 3)
    assert table.loc["sand", "iou"] == pytest.approx(2 / 3)
    assert table.loc["sand", "dice"] == pytest.approx(0.8)


def test_the_store_frame_holds_every_kind_with_coast_trains_own_measure(store, tmp_path):
    ids = store.add_images(write_images(tmp_path / "im", 4), dataset="d", progress=False)
    store.add_task("hut?", classes=["yes", "no"])
    for labeler, answers in {"ann": "yyny", "bob": "yynn", "cy": "yny"}.items():
        for image_id, answer in zip(ids, answers):
            store.tag(image_id, "yes" if answer == "y" else "no", task="hut?",
                      labeler=labeler)
    store.add_task("huts", type="detection", classes=["hut"])
    for labeler, offset in (("ann", 0), ("bob", 1)):
        store.annotate(ids[0], box(offset, 0, 10 + offset, 10), "hut", task="huts",
                       labeler=labeler, kind="box")
    store.annotate(ids[0], box(30, 30, 40, 40), "hut", task="huts", labeler="ann", kind="box")
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    mask = np.zeros((48, 64), np.uint8)
    mask[:, 32:] = 1
    shifted = np.roll(mask, 16, axis=1)
    store.add_mask(ids[1], mask, task="cover", labeler="ann", classes=["water", "sand"])
    store.add_mask(ids[1], shifted, task="cover", labeler="bob", classes=["water", "sand"])
    frame = plots.agreement_frame(store)
    alpha = frame[frame["measure"] == "alpha"].iloc[0]
    table = np.array([[1, 1, 0, 1], [1, 1, 0, 0], [1, 0, 1, np.nan]])
    assert alpha["value"] == pytest.approx(krippendorff.alpha(
        reliability_data=table, level_of_measurement="nominal"))
    shapes = frame[frame["task"] == "huts"].set_index("measure")["value"]
    assert shapes["precision"] == 1.0 and shapes["recall"] == 0.5  # ann drew one more
    assert shapes["mean_iou"] == pytest.approx(90 / 110)
    masks = frame[frame["task"] == "cover"]
    iou = masks[masks["measure"] == "iou"].set_index("class")["value"]
    water = (48 * 32 - 48 * 16) / (48 * 32 + 48 * 16)  # the shift moves 16 columns
    assert iou["water"] == pytest.approx(water)
    coasttrain = masks[masks["measure"] == "coasttrain_iou"]["value"].iloc[0]
    assert coasttrain == pytest.approx(iou.mean())


def test_upright_boxes_and_other_shapes_overlap_as_shapely_says():
    from geolabel_widgets import rotated_box

    shapes = np.array([box(0, 0, 10, 10), box(5, 5, 20, 12), rotated_box(8, 8, 10, 6, 30),
                       shapely.Polygon([(0, 0), (12, 0), (0, 12)])], dtype=object)
    i, j = np.triu_indices(4, 1)
    found = agreement._overlaps(shapes, shapely.area(shapes), i, j)
    assert found == pytest.approx(shapely.area(shapely.intersection(shapes[i], shapes[j])))


def test_the_sweep_finds_the_matches_a_plain_iou_matrix_per_image_finds():
    from itertools import combinations

    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(7)
    n = 600  # 3 labelers, crowded images so that tangles occur
    x, y = rng.uniform(0, 60, n), rng.uniform(0, 60, n)
    shapes = pd.DataFrame({"image_id": rng.integers(0, 20, n), "labeler": rng.integers(0, 3, n),
                           "value": rng.choice(["hut", "boat"], n),
                           "geometry": shapely.box(x, y, x + 12, y + 9)})
    expected = {}
    for _, image in shapes.groupby(["image_id", "value"]):
        drawn = {k: g["geometry"].to_numpy() for k, g in image.groupby("labeler")}
        for one, other in combinations(sorted(drawn), 2):
            a, b = drawn[one][:, None], drawn[other][None, :]
            inter = shapely.area(shapely.intersection(a, b))
            iou = inter / (shapely.area(a) + shapely.area(b) - inter)
            iou[iou < 0.5] = 0
            rows, cols = linear_sum_assignment(iou, maximize=True)
            expected[one, other] = expected.get((one, other), 0) + int(
                (iou[rows, cols] > 0).sum())
    table = agreement.shape_agreement(shapes).set_index(["labeler_a", "labeler_b"])
    assert table["matches"].to_dict() == expected
