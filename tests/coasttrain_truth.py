"""An independent reading of the real Coast Train metadata CSVs (csv module, no pandas),
to check what the store and its figures say about them."""

import ast
import csv
import re
from collections import Counter

from conftest import SHARED_DATA

METADATA = SHARED_DATA / "coasttrain" / "metadata"


def read_csvs_independently() -> dict:
    """Per record: images per class, per labeler, pixels per labeler, doodled pixels."""
    out = {}
    for path in sorted(METADATA.glob("*.csv")):
        record = re.sub(r"_meta(data)?(_all)?(_served)?$", "", path.stem)
        classes, labelers, pixels = Counter(), Counter(), Counter()
        doodled = total = 0.0
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                # the integers index classes_array; record B's array lists every class
                names = ast.literal_eval("[" + row["classes_array"] + "]")
                present = row["classes_present_integer"].replace(",", " ").split()
                for name in {names[int(k)].strip() for k in present}:
                    classes[name] += 1
                who = "ID" + re.search(r"_ID(\d+)", row["image_filename"]).group(1)
                size = int(row["ImageHeightPx"]) * int(row["ImageWidthPx"])
                labelers[who] += 1
                pixels[who] += size
                density = row["doodle_spatial_density"]
                if density.replace(".", "", 1).replace("e-", "", 1).isdigit():  # some are 'null'
                    doodled += float(density) * size
                    total += size
        out[record] = dict(classes=classes, labelers=labelers, pixels=pixels,
                           percent=100 * doodled / total)
    return out
