"""Segmentation Gym's input out: an ``images/`` and a ``labels/`` folder, which its
``make_dataset.py`` pairs by sorted position (FORMATS_REAL.md 1.5)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..store import LabelStore
from .atomic import whole_or_nothing
from .records import current_masks, image_pixels
from .registry import Format


@whole_or_nothing
def write_seggym(store: LabelStore, dest: str | os.PathLike, *, task: str,
                 progress: bool = True) -> pd.DataFrame:
    """Each current mask of ``task`` as ``labels/S.png`` (greyscale class index
    0..C-1 in the task's class order, so it looks black) beside its image as
    ``images/S.png``, S = ``{image}_{labeler}``: one stem in both folders, so sorted
    positions pair. ``classes.txt`` names the indices; NCLASSES is its length.
    Lossless PNGs, where Doodler's own script writes lossy JPEGs."""
    dest = Path(dest)
    order = {name: k for k, name in enumerate(store.tasks.loc[task, "classes"])}
    rows = []
    for item, stem, mask, classes in current_masks(store, task, progress):
        label = np.asarray([order[c] for c in classes], np.uint8)[mask]
        for folder, pixels in (("images", image_pixels(store.images.loc[item.image_id])),
                               ("labels", label)):
            (dest / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(dest / folder / f"{stem}.png")
        rows.append({"image_id": item.image_id, "labeler": item.labeler,
                     "image": f"images/{stem}.png", "label": f"labels/{stem}.png"})
    (dest / "classes.txt").write_text("\n".join(order))
    return pd.DataFrame(rows)


FORMAT = Format("seggym", write=write_seggym)
