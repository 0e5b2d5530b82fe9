"""Bringing data in: the ten real Coast Train records' labels, and chips cut from a
scene, into the store, each beside what a user would write without it, in one run.

- Labels: ``read_coasttrain`` on every metadata CSV (a tag row per class present, a
  doodle row and a status per image, the counts behind the figures kept as it goes)
  against pandas reading the same CSVs into one long table of (image, class) rows,
  which is what a notebook would make, with nothing kept for later.
- Chips: ``store.add_chips`` of a 1280 x 1280 GeoTIFF into 32 px chips (1,600 files,
  hashed, each with its footprint) against a rasterio loop writing the same windows.

Prints JSON with the times and the ratio store / plain way.

    python benchmarks/ingest.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import ast
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from geolabel_widgets import LabelStore
from geolabel_widgets.formats import read_coasttrain


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def coasttrain_into_store(csvs: list[Path], folder: Path) -> None:
    with LabelStore.open(folder / "coasttrain.sqlite") as store:
        for csv in csvs:
            read_coasttrain(store, csv, progress=False)


def coasttrain_with_pandas(csvs: list[Path]) -> pd.DataFrame:
    parts = []
    for csv in csvs:
        table = pd.read_csv(csv)
        column = next(c for c in ("classes_present_array", "classes_present")
                      if c in table.columns)
        classes = table[column].map(lambda cell: list(ast.literal_eval(f"[{cell}]"))
                                    if isinstance(cell, str) else [])
        parts.append(pd.DataFrame({"image": table["image_filename"], "class": classes,
                                   "record": csv.stem}).explode("class"))
    return pd.concat(parts)


def write_scene(path: Path) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=1280, height=1280, count=1,
                       dtype="uint8", crs="EPSG:32618",
                       transform=from_origin(500_000, 4_000_000, 10, 10)) as dst:
        dst.write(np.random.default_rng(0).integers(1, 255, (1, 1280, 1280), dtype=np.uint8))


def chips_into_store(scene: Path, folder: Path) -> None:
    with LabelStore.open(folder / "chips.sqlite") as store:
        store.add_chips(scene, size=32, folder=folder / "store_chips", progress=False)


def chips_with_rasterio(scene: Path, folder: Path) -> None:
    out = folder / "plain_chips"
    out.mkdir()
    with rasterio.open(scene) as src:
        profile = {**src.profile, "compress": "deflate", "width": 32, "height": 32}
        for row in range(0, src.height, 32):
            for col in range(0, src.width, 32):
                window = Window(col, row, 32, 32)
                with rasterio.open(out / f"r{row}_c{col}.tif", "w",
                                   **{**profile, "transform": src.window_transform(window)}
                                   ) as dst:
                    dst.write(src.read(window=window))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csvs = sorted((args.data / "coasttrain" / "metadata").glob("*.csv"))
        if csvs:
            store_s = timed(coasttrain_into_store, csvs, tmp)
            pandas_s = timed(coasttrain_with_pandas, csvs)
            results["coasttrain_labels"] = {
                "records": len(csvs), "tag_rows": len(coasttrain_with_pandas(csvs)),
                "store_s": round(store_s, 2), "pandas_s": round(pandas_s, 3),
                "ratio_store_to_pandas": round(store_s / pandas_s, 1)}
        scene = tmp / "scene.tif"
        write_scene(scene)
        store_s = timed(chips_into_store, scene, tmp)
        plain_s = timed(chips_with_rasterio, scene, tmp)
        results["chips"] = {"chips": 1600, "store_s": round(store_s, 2),
                            "rasterio_loop_s": round(plain_s, 2),
                            "ratio_store_to_rasterio": round(store_s / plain_s, 2)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
