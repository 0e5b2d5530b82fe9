"""Image features a learner fits on: colour and texture statistics of each image (with
scikit-image), or an embedding from any model, computed once and kept in the store."""

from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..imagery.display import read_display_array
from ..imagery.header import UnreadableImage
from ..store.ingest import path_of

FEATURES = "colour-texture-1"  # the built-in set's name in the store
FEATURE_SIZE = 256  # images are read at most this large on their long side


def image_features(rgb: np.ndarray) -> np.ndarray:
    """Colour and texture statistics of an RGB uint8 image, as one float32 vector: per
    band percentiles, mean and spread; hue, saturation and value; a greenness and a
    blue-red index; local binary patterns, edges and grey-level co-occurrence."""
    from skimage.color import rgb2gray, rgb2hsv
    from skimage.feature import graycomatrix, graycoprops, local_binary_pattern
    from skimage.filters import sobel

    pixels = rgb.reshape(-1, 3).astype(np.float32) / 255
    r, g, b = pixels.T
    hsv = rgb2hsv(rgb).reshape(-1, 3)
    hue = 2 * np.pi * hsv[:, 0]
    parts = [np.percentile(pixels, [10, 50, 90], axis=0).ravel(), pixels.mean(0),
             pixels.std(0), [np.cos(hue).mean(), np.sin(hue).mean()],
             hsv[:, 1:].mean(0), hsv[:, 1:].std(0),
             [(2 * g - r - b).mean(), ((b - r) / (b + r + 1e-6)).mean()]]
    grey = rgb2gray(rgb)
    lbp = local_binary_pattern((grey * 255).astype(np.uint8), P=8, R=1, method="uniform")
    parts.append(np.bincount(lbp.astype(int).ravel(), minlength=10)[:10] / lbp.size)
    edges = sobel(grey)
    parts.append([edges.mean(), edges.std()])
    levels = (grey * 31).astype(np.uint8)
    glcm = graycomatrix(levels, distances=[1, 3], angles=[0, np.pi / 4, np.pi / 2,
                                                          3 * np.pi / 4], levels=32,
                        symmetric=True, normed=True)
    parts.append([graycoprops(glcm, prop).mean() for prop in
                  ("contrast", "homogeneity", "energy", "correlation")])
    vector = np.concatenate([np.ravel(part) for part in parts]).astype(np.float32)
    return np.nan_to_num(vector)  # a flat grey image has no correlation


def add_image_features(store, image_ids: Sequence[str] | None = None, *,
                       name: str = FEATURES, embed: Callable[[np.ndarray], np.ndarray] |
                       None = None, scheduler: str | None = None, workers: int | None = None,
                       progress: bool = True) -> int:
    """Compute and store the features of the images (default: every image) that have
    none of ``name`` yet; returns how many were added.

    ``embed`` turns an RGB uint8 array into a vector (any model's embedding; give it
    its own ``name``); by default the colour and texture statistics above. On Dask
    with ``scheduler`` ("local" or an address; the workers must see the files).
    Images that cannot be read are left without features (a learner skips them).
    """
    from ..batch import run_batch

    images = store.images if image_ids is None else store.images_of(list(image_ids))
    have = set(store.features(name, image_ids=list(images.index)).index)
    todo = [(image_id, str(uri)) for image_id, uri in images["uri"].items()
            if image_id not in have]
    vectors = run_batch(partial(_features_of, embed=embed), todo, scheduler=scheduler,
                        workers=workers, desc="Image features", progress=progress)
    found = {image_id: vector for (image_id, _), vector in zip(todo, vectors)
             if vector is not None}
    if not found:
        return 0
    return store.add_features(name, pd.DataFrame(np.vstack(list(found.values())),
                                                 index=list(found)))


def _features_of(item: tuple[str, str], embed=None) -> np.ndarray | None:
    _, uri = item
    path = path_of(uri)
    if path is None:
        return None
    try:
        rgb = read_display_array(path, FEATURE_SIZE)
    except UnreadableImage:
        return None
    return np.asarray(embed(rgb) if embed is not None else image_features(rgb),
                      dtype=np.float32).ravel()
