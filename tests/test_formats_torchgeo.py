"""The torchgeo export: masks as COGs on their image's grid, shapes with integer class ids."""

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from formats_helpers import SHAPES, labeled_store
from geolabel_widgets.formats import write_torchgeo

COVER = "cover"


def test_masks_lie_on_their_images_grid_with_the_tasks_colours(tmp_path):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.add_task(COVER, type="semantic_segmentation", classes=["water", "sand", "marsh"],
                   colors={"water": "#0000ff", "sand": "#ffff00"})
    mask = np.zeros((80, 120), np.uint8)
    mask[:, 60:] = 1  # the mask's own class order: sand, water
    store.add_mask(ids[1], mask, task=COVER, labeler="ann", classes=["sand", "water"])
    written = write_torchgeo(store, tmp_path / "tg", task=COVER)
    assert written == {"masks": 1, "shapes": 0, "labeled_areas": 1}
    [tif] = (tmp_path / "tg" / "masks").glob("*.tif")
    with rasterio.open(tif) as src, rasterio.open(store.image(ids[1])["uri"]) as image:
        assert src.crs == image.crs and src.transform == image.transform
        assert src.shape == image.shape and src.nodata == 255
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        pixels = src.read(1)
        assert (pixels[:, :60] == 1).all() and (pixels[:, 60:] == 0).all()  # task order
        assert src.colormap(1)[0][:3] == (0, 0, 255) and src.colormap(1)[1][:3] == (255, 255, 0)
    classes = json.loads((tmp_path / "tg" / "classes.json").read_text())
    assert [c["name"] for c in classes["classes"]] == ["water", "sand", "marsh"]
    store.close()


def test_shapes_carry_an_integer_class_id_and_the_labeled_area_is_the_finished_images(
        tmp_path):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    with pytest.warns(UserWarning, match="1 image.* no place on the Earth left out"):
        write_torchgeo(store, tmp_path / "tg", task=SHAPES)  # the photo's shapes
    shapes = gpd.read_parquet(tmp_path / "tg" / "labels.parquet")
    assert shapes.crs.to_epsg() == 4326 and set(shapes["image_id"]) == {ids[0]}
    classes = store.classes(SHAPES)
    assert (shapes["class_id"] == [classes.index(c) for c in shapes["class"]]).all()
    assert shapes["class_id"].dtype.kind == "i"
    area = gpd.read_parquet(tmp_path / "tg" / "labeled_area.parquet")
    assert area["image_id"].tolist() == [ids[0]]  # reviewed; the others are not finished
    assert area.geometry.iloc[0].equals(store.images.loc[ids[0]].geometry)
    store.close()
