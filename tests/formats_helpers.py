"""A small store with every kind of label, and what a round trip must keep of it."""

from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, Polygon, box

from conftest import write_images
from geolabel_widgets import LabelStore

SHAPES = "land cover"
TAGS = "flooding"
MULTI = "what is there"


def write_geotiffs(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for k in range(count):
        path = folder / f"scene_{k}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=120, height=80, count=3,
                           dtype="uint8", crs="EPSG:32617",
                           transform=from_origin(500000 + 2000 * k, 3000000, 2, 2)) as dst:
            dst.write(rng.integers(0, 255, (3, 80, 120), dtype=np.uint8))
        paths.append(path)
    return paths


def labeled_store(path: Path, folder: Path) -> tuple[LabelStore, list[str]]:
    """Two georeferenced scenes and two plain photos, labeled by two people."""
    store = LabelStore.open(path)
    ids = store.add_images(write_geotiffs(folder / "geo", 2), dataset="scenes", progress=False)
    ids += store.add_images(write_images(folder / "photos", 2, size=(90, 60)),
                            dataset="photos", progress=False)
    store.add_group("scenes and photos", ["scenes", "photos"])
    store.add_task(TAGS, classes=["present", "not present"], group="scenes and photos")
    store.add_task(MULTI, type="multilabel", classes=["sand", "water", "road"])
    store.add_task(SHAPES, type="instance_segmentation", classes=["water", "sand", "road"])
    store.tag(ids[0], "present", task=TAGS, labeler="ann")
    store.tag(ids[1], "not present", task=TAGS, labeler="ann")
    store.tag(ids[1], "present", task=TAGS, labeler="ben")
    store.tag(ids[2], ["sand", "water"], task=MULTI, labeler="ann")
    holed = Polygon([(10, 10), (60, 10), (60, 50), (10, 50)],
                    [[(20, 20), (30, 20), (30, 30), (20, 30)]])
    for image_id in (ids[0], ids[2]):
        store.annotate(image_id, box(5.5, 6.25, 40, 30), "water", task=SHAPES, labeler="ann",
                       kind="box")
        store.annotate(image_id, holed, "sand", task=SHAPES, labeler="ann")
        store.annotate(image_id, Point(70, 40), "sand", task=SHAPES, labeler="ben")
        store.annotate(image_id, LineString([(0, 70), (50, 75), (80, 79)]), "road",
                       task=SHAPES, labeler="ben")
    store.set_status(ids[0], "reviewed", task=SHAPES, labeler="ann")
    store.skip(ids[3], task=TAGS, labeler="ann")
    return store, ids


def snapshot(store: LabelStore, digits: int = 6, kinds=None, task=None) -> dict:
    """Current labels (by image name), geometries rounded to ``digits``, classes,
    labelers and statuses (of ``kinds`` and ``task``, or all): what a round trip must
    keep."""
    names = store.images["name"]
    labels = store.annotations
    if kinds is not None:
        labels = labels[labels["kind"].isin(kinds)]
    if task is not None:
        labels = labels[labels["task"] == task]
    rows = sorted(
        (names[r.image_id], r.task, r.labeler, r.kind, str(r.value),
         None if r.geometry is None else
         shapely.to_wkt(shapely.normalize(shapely.set_precision(r.geometry, 10**-digits)),
                        rounding_precision=digits))
        for r in labels.itertuples())
    statuses = sorted((names[r.image_id], r.task, r.labeler, r.status)
                      for r in store.statuses().itertuples())
    tasks = {t: (store.tasks.loc[t, "type"], sorted(store.classes(t)))
             for t in sorted(set(labels["task"]))}
    return {"labels": rows, "statuses": statuses, "tasks": tasks,
            "labelers": sorted(set(labels["labeler"]))}
