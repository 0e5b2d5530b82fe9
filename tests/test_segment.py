"""Doodles to a dense label: accuracy on scenes with a known truth, and on real imagery."""

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import LineString

from geolabel_widgets.demo import coastal_scene, simulate_doodles
from geolabel_widgets.segment import DoodleError, doodle_raster, doodles_to_mask


def iou(label, truth, cls):
    return np.logical_and(label == cls, truth == cls).sum() / np.logical_or(
        label == cls, truth == cls).sum()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_scene_is_recovered_from_sparse_doodles(seed):
    rng = np.random.default_rng(seed)
    image, truth = coastal_scene(rng, 512)
    doodles = simulate_doodles(truth, rng, width=4)
    assert (doodles > 0).mean() < 0.05  # sparse, as a person doodles
    label = doodles_to_mask(image, doodles)
    assert label.shape == truth.shape and label.dtype == np.uint8
    doodled = np.unique(doodles[doodles > 0]) - 1
    assert set(np.unique(label)) <= set(doodled)  # nobody doodled it: never predicted
    assert np.all(label[doodles > 0] == doodles[doodles > 0] - 1)
    inside = np.isin(truth, doodled)
    assert np.mean([iou(label[inside], truth[inside], c) for c in doodled]) > 0.8


def test_real_orthomosaic_nodata_edge_is_found(shared_data):
    """orthomosaic2.jpg (a real CMYK JPEG) has a black no-data wedge: its own truth."""
    image = np.asarray(Image.open(shared_data / "imagery" / "orthomosaic2.jpg").convert("RGB"))
    truth = (image.max(axis=-1) < 12).astype(np.uint8)  # 1: no data
    strokes = [(LineString([(850, 450), (900, 900)]), 2, 6),  # in the black wedge
               (LineString([(100, 200), (160, 500)]), 1, 6),  # marsh
               (LineString([(480, 400), (460, 600)]), 1, 6)]
    doodles = doodle_raster(strokes, truth.shape)
    label = doodles_to_mask(image, doodles)
    assert iou(label, truth, 1) > 0.95
    assert iou(label, truth, 0) > 0.95


def test_one_class_fills_the_image_and_grayscale_works():
    doodles = np.zeros((40, 50), np.uint8)
    doodles[5:8, 5:30] = 3
    assert np.all(doodles_to_mask(np.zeros((40, 50)), doodles) == 2)
    gray = np.tile(np.linspace(0, 1, 50), (40, 1))
    doodles[30:33, 40:48] = 1
    label = doodles_to_mask(gray, doodles)
    assert label[20, 2] == 2 and label[20, 47] == 0


def test_bad_doodles_are_refused_with_a_reason():
    image = np.zeros((20, 20, 3))
    with pytest.raises(DoodleError, match="differ in size"):
        doodles_to_mask(image, np.zeros((10, 20), np.uint8))
    with pytest.raises(DoodleError, match="nothing is doodled"):
        doodles_to_mask(image, np.zeros((20, 20), np.uint8))
    with pytest.raises(DoodleError, match="integers"):
        doodles_to_mask(image, np.ones((20, 20)))
    doodles = np.zeros((20, 20), np.uint8)
    doodles[0, 0], doodles[5, 5] = 1, 4
    with pytest.raises(DoodleError, match="only 3 classes"):
        doodles_to_mask(image, doodles, n_classes=3)


def test_strokes_paint_in_order_with_their_width():
    strokes = [(LineString([(2, 10), (38, 10)]), 1, 5),
               (LineString([(20, 0), (20, 19)]), 2, 3),
               (LineString([(30, 10), (36, 10)]), 0, 3)]  # value 0 erases
    doodles = doodle_raster(strokes, (20, 40))
    assert doodles[10, 5] == 1 and doodles[10, 20] == 2 and doodles[10, 33] == 0
    assert doodles[8, 5] == 1 and doodles[4, 5] == 0  # 5 px wide: rows 8..12
    assert np.all(doodle_raster([], (4, 4)) == 0)
