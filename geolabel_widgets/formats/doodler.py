"""Doodler's own result folders in, and what Doodler's scripts make of them out.

In, a results folder (FORMATS_REAL.md 1.1): one ``{image}_{labeler}.npz`` per image and
save, no CSV. Each NPZ holds the image, ``label`` (one-hot, H x W x classes), ``doodles`` and
``settings``; every re-save kept the previous one under keys with one more leading
``0``. The earlier trials become history, the final one the current mask. One image
labeled in two sessions with two class sets is one image with a labeling per class
set: a task per class set.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from ..store import LabelStore, StoreError
from ..store.remap import read_remap_file
from .atomic import whole_or_nothing
from .coasttrain_npz import (doodler_settings, integer_raster, label_indices, read_tiff,
                             trial_prefixes, write_tiff)
from .records import current_masks, image_pixels
from .registry import Format
from .safety import FormatError, load_npz

ANONYMOUS = {"Enter-user-ID": "anon"}  # Doodler's never-changed default id
SKIPPED = ("labelgen", "4zoo")  # files Doodler's own scripts leave out


def read_doodler(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
                 images_to: str | os.PathLike | None = None, progress: bool = True
                 ) -> list[str]:
    """Import a Doodler results folder, or a folder of them (sessions in name order, so
    that a later session supersedes an earlier one's labeling of the same class set).

    Each image is written from the NPZ's ``orig_image`` as a TIFF into ``images_to``
    (default ``<source>/images_from_npz``). The labeler is the last ``_`` token of
    the file name (Doodler's default ``Enter-user-ID`` is ``anon``). Task per class set:
    "Doodler: water, land". One transaction. Returns the image ids.
    """
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a folder of Doodler results")
    files = sorted(p for p in source.rglob("*.npz")
                   if not any(s in p.name for s in SKIPPED) and "images_from_npz" not in p.parts)
    if not files:
        raise FormatError(f"{source}: no Doodler result NPZ files in it or below it")
    images_to = Path(images_to or source / "images_from_npz")
    dataset = dataset or source.absolute().name
    with store.transaction():
        store.add_dataset(dataset, source="doodler",
                          description=f"Doodler results read from {source.name}")
        images = pd.DataFrame([_image_row(path, images_to) for path in files])
        store.add_images(images, dataset=dataset, progress=False)
        if store.last_ingest.failures:
            raise FormatError(store.last_ingest.summary())
        ids = store.last_ingest.row_ids  # one per file: sessions may share an image
        for path, image_id in tqdm(zip(files, ids), total=len(files),
                                   desc="Reading Doodler results", disable=not progress):
            _write_labelings(store, path, image_id)
    return list(dict.fromkeys(ids))


def _image_row(path: Path, images_to: Path) -> dict:
    image = _write_image(load_npz(path), path, images_to / f"{_stem_and_user(path)[0]}.tif")
    return {"uri": str(image), "name": image.name}


def _stem_and_user(path: Path) -> tuple[str, str]:
    stem, _, user = path.stem.rpartition("_")
    if not stem:
        raise FormatError(f"{path}: not named {{image}}_{{labeler}}.npz as Doodler names it")
    return stem, user


def _write_labelings(store: LabelStore, path: Path, image_id: str) -> None:
    """The NPZ's saves, oldest first, as doodles and masks of its class set's task."""
    user = _stem_and_user(path)[1]
    labeler = store.add_labeler(ANONYMOUS.get(user, user))
    arrays = load_npz(path)
    classes = _classes(arrays, path)
    task = store.add_task(f"Doodler: {', '.join(classes)}", type="semantic_segmentation",
                          classes=classes, description="Masks made with Doodler")
    for prefix in trial_prefixes(arrays, "label"):
        props = {"doodler_settings": doodler_settings(arrays.get(prefix + "settings")),
                 "npz_key": prefix + "label", "doodler_file": path.name}
        rasters = [("mask", label_indices(arrays[prefix + "label"], len(classes),
                                          f"{path}: {prefix}label"))]
        if prefix + "doodles" in arrays:
            rasters.insert(0, ("doodles", integer_raster(arrays[prefix + "doodles"],
                                                         f"{path}: {prefix}doodles")))
        for kind, raster in rasters:
            try:
                store.add_mask(image_id, raster, task=task, labeler=labeler, classes=classes,
                               kind=kind, props=props)
            except StoreError as err:
                raise FormatError(f"{path}: {prefix}{kind}: {err}") from None


def _classes(arrays: dict, path: Path) -> list[str]:
    classes = arrays.get("classes")
    if classes is None:  # Doodler's scripts then ask for a classes.txt beside it
        txt = path.with_name("classes.txt")
        if not txt.is_file():
            raise FormatError(f"{path}: no 'classes' entry and no classes.txt beside it")
        return [line.strip() for line in txt.read_text().splitlines() if line.strip()]
    if classes.dtype.kind not in "US" or classes.ndim != 1 or not len(classes):
        raise FormatError(f"{path}: 'classes' is not a list of names")
    return [str(c).strip() for c in classes]


def _write_image(arrays: dict, path: Path, target: Path) -> Path:
    """The NPZ's pixels as a TIFF, written once; a file of that name holding other
    pixels (another image with the same stem) is kept, and this one gets a suffix."""
    pixels = arrays.get("orig_image", arrays.get("image"))
    if pixels is None or pixels.ndim not in (2, 3) or pixels.dtype.kind not in "uif":
        raise FormatError(f"{path}: no image array (orig_image or image)")
    for k in range(1, 1000):
        if not target.is_file():
            write_tiff(target, pixels)
            return target
        if np.array_equal(read_tiff(target), pixels):
            return target
        target = target.with_name(f"{target.stem.split('~')[0]}~{k}.tif")
    raise FormatError(f"{path}: a thousand other images already share its name")


# -- out: what Doodler's own scripts make of its results ----------------------------------
G10 = ["#3366CC", "#DC3912", "#FF9900", "#109618", "#990099", "#0099C6", "#DD4477",
       "#66AA00", "#B82E2E", "#316395"]  # plotly's palette, Doodler's class colours


@whole_or_nothing
def write_doodler(store: LabelStore, dest: str | os.PathLike, *, task: str,
                  remap: str | os.PathLike | None = None, progress: bool = True
                  ) -> pd.DataFrame:
    """Write what Doodler's ``gen_images_and_labels`` makes of a task's current masks
    (FORMATS_REAL.md 1.2), one set per image and labeler, named ``{image}_{labeler}``:
    ``images/S.jpg``, ``labels/S_label.jpg`` (greyscale class index), ``overlays/``
    and ``doodles/`` (the masks and doodles over the image in Doodler's colours).
    ``remap``: a remap JSON; also write ``gen_remapped_images_and_labels``' variant,
    super-class integers 1..S in ``images_remap/``, ``labels_remap/``,
    ``overlays_remap/``. Returns a table of what was written."""
    dest = Path(dest)
    supers = _super_classes(remap) if remap is not None else None
    rows = []
    for item, stem, mask, classes in current_masks(store, task, progress):
        pixels = image_pixels(store.images.loc[item.image_id])
        written = {"images": _jpeg(dest / "images" / f"{stem}.jpg", pixels),
                   "labels": _jpeg(dest / "labels" / f"{stem}_label.jpg", mask)}
        written["overlays"] = _overlay(dest / "overlays" / f"{stem}_overlay.png", pixels, mask,
                                       len(classes))
        if pd.notna(item.doodles_id):
            doodles, _ = store.mask(int(item.doodles_id))
            written["doodles"] = _overlay(dest / "doodles" / f"{stem}_doodles.png", pixels,
                                          np.ma.masked_equal(doodles.astype(int) - 1, -1),
                                          len(classes))
        if supers is not None:
            remapped = _remapped(mask, classes, supers, item.name)
            _jpeg(dest / "images_remap" / f"{stem}.jpg", pixels)
            written["labels_remap"] = _jpeg(dest / "labels_remap" / f"{stem}_remap_label.jpg",
                                            remapped)
            written["overlays_remap"] = _overlay(
                dest / "overlays_remap" / f"{stem}_remap_overlay.png", pixels, remapped,
                len(supers["super_classes"]) + 1)
        rows.append({"image_id": item.image_id, "labeler": item.labeler, "classes": classes,
                     **{k: str(v.relative_to(dest)) for k, v in written.items()}})
    return pd.DataFrame(rows)


def _super_classes(remap) -> dict:
    found = read_remap_file(remap)
    if not found["super_classes"]:
        raise FormatError(f"{remap}: a remap file for Doodler's outputs lists 'super_classes'")
    return found


def _remapped(mask: np.ndarray, classes: list[str], remap: dict, image: str) -> np.ndarray:
    """Class index -> super-class integer (1-based, in ``super_classes`` order), the class
    named by the remap file's own ``classes`` where it has them, as Doodler does."""
    names = [c.strip("'\" ") for c in remap["classes"] or classes]
    if int(mask.max(initial=0)) >= len(names):
        raise FormatError(f"{image}: class index {int(mask.max())} has no name in the remap "
                          f"file's {len(names)} classes")
    order = {name: k for k, name in enumerate(remap["super_classes"], start=1)}
    lookup = []
    for name in names:
        super_class = remap["aliases"].get(name)
        if super_class not in order:
            raise FormatError(f"{image}: class {name!r} maps to no super-class of the remap "
                              f"file ({super_class!r})")
        lookup.append(order[super_class])
    return np.asarray(lookup, np.uint8)[mask]


def _jpeg(path: Path, pixels: np.ndarray) -> Path:
    """As Doodler saves: quality 100, no chroma subsampling (and still lossy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=100, subsampling=0)
    return path


def _overlay(path: Path, pixels: np.ndarray, classes_raster, count: int) -> Path:
    """The image with the raster at half opacity in the first ``count + 1`` palette
    colours, no axes, 200 dpi: Doodler's overlay figure (not pixel-aligned)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    figure = Figure()
    axes = figure.add_subplot()
    axes.imshow(pixels)
    palette = (G10 * (count // len(G10) + 1))[:count + 1]
    axes.imshow(classes_raster, alpha=0.5, cmap=ListedColormap(palette), vmin=0, vmax=count)
    axes.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=200, bbox_inches="tight")
    return path


FORMAT = Format("doodler", read=read_doodler, write=write_doodler,
                export_options=frozenset({"remap"}))
