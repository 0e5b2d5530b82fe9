"""What the formats share: a file read into plain frames (``Parsed``), written into the
store in one transaction; and the store's current labels, with their images, for a writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..imagery.display import read_display_array
from ..store import LabelStore
from ..store.ingest import path_of
from ..store.schema import SHAPE_KINDS
from .safety import FormatError, file_name, folder_name

RASTER_KINDS = ("mask", "doodles")
LABEL_COLUMNS = ["image", "task", "labeler", "kind", "value", "geometry", "props"]  # + label_id
STATUS_COLUMNS = ["image", "task", "labeler", "status"]
# a model's predictions (store.add_predictions), kept apart from the labels
PREDICTION_COLUMNS = ["image", "task", "model", "kind", "value", "score", "geometry"]


@dataclass
class Parsed:
    """A file read and checked, not yet written.

    ``images``: one row per image, indexed by the format's own key, with ``uri`` and
    ``dataset`` and what else ``store.add_images`` takes (name, width, height, crs,
    transform, geometry, props). ``labels``: ``LABEL_COLUMNS``; a tag's value is one
    class, a shape's ``geometry`` is in full-resolution pixels, a raster's ``value`` is
    its array (``props["classes"]`` names its values). ``statuses``: ``STATUS_COLUMNS``.
    ``predictions``: ``PREDICTION_COLUMNS``, a model's, never labels.
    """
    images: pd.DataFrame
    tasks: dict[str, dict] = field(default_factory=dict)  # title -> add_task keywords
    labels: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LABEL_COLUMNS))
    statuses: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=STATUS_COLUMNS))
    datasets: dict[str, dict] = field(default_factory=dict)  # name -> add_dataset keywords
    groups: dict[str, list[str]] = field(default_factory=dict)  # name -> its datasets
    labelers: dict[str, dict] = field(default_factory=dict)  # id -> add_labeler keywords
    predictions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=PREDICTION_COLUMNS))


def write_records(store: LabelStore, parsed: Parsed, *, dataset: str | None = None,
                  progress: bool = True) -> list[str]:
    """Write everything ``parsed`` holds in one transaction; returns the image ids.

    ``dataset`` puts every image in that dataset. A label naming an image, task or class
    the file does not define stops the import, and the store is as it was.
    """
    images = parsed.images.copy()
    if dataset:
        images["dataset"] = dataset
    with store.transaction():
        for name in images["dataset"].unique():
            store.add_dataset(name, **parsed.datasets.get(name, {}))
        for name, members in parsed.groups.items():
            store.add_group(name, members)
        for title, spec in parsed.tasks.items():
            store.add_task(title, **spec)
        for labeler, details in parsed.labelers.items():
            store.add_labeler(labeler, **details)
        ids = pd.Series(index=images.index, dtype=object)
        for name, rows in images.groupby("dataset", sort=False):
            store.add_images(rows.drop(columns="dataset").reset_index(drop=True),
                             dataset=name, progress=False)
            if store.last_ingest.failures:
                raise FormatError(store.last_ingest.summary())
            ids[rows.index] = store.last_ingest.row_ids  # rows may share one image
        _write_labels(store, parsed.labels, ids, progress)
        for row in parsed.statuses.itertuples():
            store.set_status(_image_id(ids, row.image), row.status, task=row.task,
                             labeler=row.labeler)
        for (task, model), rows in parsed.predictions.groupby(["task", "model"], sort=False):
            store.add_predictions(rows.assign(image_id=[_image_id(ids, image) for image in
                                                        rows["image"]]),
                                  task=task, model=model)
    return list(dict.fromkeys(ids))


def _write_labels(store: LabelStore, labels: pd.DataFrame, ids: pd.Series,
                  progress: bool) -> None:
    tags = labels[labels["kind"] == "tag"]
    multilabel = {t for t in tags["task"].unique() if store.tasks.loc[t, "type"] == "multilabel"}
    for (image, task, labeler), rows in tags.groupby(["image", "task", "labeler"], sort=False):
        values = rows["value"].tolist()
        store.tag(_image_id(ids, image), values if task in multilabel else values[-1],
                  task=task, labeler=labeler)
    shapes = labels[labels["kind"].isin(SHAPE_KINDS)]
    for task, rows in shapes.groupby("task", sort=False):  # each labeler's: one action
        rows = rows.assign(image_id=[_image_id(ids, image) for image in rows["image"]],
                           props=[p if isinstance(p, dict) else None for p in rows["props"]])
        store.add_labels(rows.drop(columns=["image", "task"]), task=task, mode="replace")
    others = labels[~labels["kind"].isin(("tag", *SHAPE_KINDS))]
    for row in tqdm(others.itertuples(), total=len(others), desc="Importing labels",
                    disable=not progress or len(others) < 1000):
        image_id = _image_id(ids, row.image)
        props = row.props if isinstance(row.props, dict) else None
        if row.kind in RASTER_KINDS:
            extra = {k: v for k, v in (props or {}).items() if k != "classes"}
            store.add_mask(image_id, row.value, task=row.task, labeler=row.labeler,
                           classes=(props or {}).get("classes"), kind=row.kind,
                           props=extra or None)
        else:
            raise FormatError(f"label of kind {row.kind!r} on image {row.image!r}: "
                              "not a kind the store keeps")


def layered_mask(parts: list[tuple[np.ndarray, str]], classes: list[str]
                 ) -> tuple[np.ndarray, list[str]]:
    """An image's one-class parts (0/1 arrays, each with its class) as one class-index
    mask, later over earlier; ``unlabeled`` is a class only where some pixel has none."""
    height, width = parts[0][0].shape
    mask = np.full((height, width), -1, np.int32)
    for pixels, name in parts:
        mask[pixels.astype(bool)] = classes.index(name)
    names = list(classes)
    if (mask < 0).any():
        names = names if "unlabeled" in names else names + ["unlabeled"]
        mask[mask < 0] = names.index("unlabeled")
    return mask.astype(np.uint8 if len(names) <= 256 else np.int32), names


def _image_id(ids: pd.Series, image) -> str:
    if image not in ids.index:
        raise FormatError(f"a label refers to image {image!r}, which the file does not list")
    return ids[image]


def current_labels(store: LabelStore, task: str | None = None,
                   kinds=("tag", *SHAPE_KINDS)) -> pd.DataFrame:
    """The current labels of ``kinds`` (one task, or all), each with its image's columns
    (``image_name``, ``uri``, ``dataset``, ``width``, ``height``, ``crs``, ``transform``,
    ``footprint``), its task's type and its labeler's status on that image."""
    labels = store.get_annotations(task=task, kinds=list(kinds))
    images = store.images[["name", "dataset", "uri", "width", "height", "crs", "transform",
                           "geometry"]].rename(columns={"name": "image_name",
                                                        "geometry": "footprint"})
    labels = labels.join(images, on="image_id")
    labels["task_type"] = labels["task"].map(store.tasks["type"])
    statuses = store.statuses(task).drop_duplicates(["image_id", "task", "labeler"],
                                                    keep="last")
    status = statuses.set_index(["image_id", "task", "labeler"])["status"]
    keys = pd.MultiIndex.from_frame(labels[["image_id", "task", "labeler"]])
    labels["status"] = status.reindex(keys).to_numpy() if len(labels) else []
    return labels.reset_index(drop=True)


def images_with_status(store: LabelStore, task: str, statuses) -> list[str]:
    """Images some labeler of ``task`` left in one of ``statuses`` (their latest)."""
    latest = store.statuses(task).drop_duplicates(["image_id", "labeler"], keep="last")
    return list(dict.fromkeys(latest.loc[latest["status"].isin(statuses), "image_id"]))


def bare_statuses(store: LabelStore, labels: pd.DataFrame, task: str | None = None
                  ) -> pd.DataFrame:
    """Statuses of (image, task, labeler) with no label among ``labels`` (an image
    skipped, say), in ``current_labels``' columns with kind "status", so that a format
    of one row per label keeps them too."""
    statuses = store.statuses(task)
    have = pd.MultiIndex.from_frame(labels[["image_id", "task", "labeler"]])
    keys = pd.MultiIndex.from_frame(statuses[["image_id", "task", "labeler"]])
    bare = statuses[~keys.isin(have)]
    images = store.images[["name", "dataset", "uri", "width", "height", "crs", "transform",
                           "geometry"]].rename(columns={"name": "image_name",
                                                        "geometry": "footprint"})
    return bare.assign(kind="status", value=None, geometry=None, world_geometry=None,
                       props=None).join(images, on="image_id").assign(
        task_type=lambda f: f["task"].map(store.tasks["type"])).reset_index(drop=True)


def image_pixels(image: pd.Series) -> np.ndarray:
    """An image of ``store.images`` as RGB pixels at full size, for a writer."""
    source = path_of(image["uri"])
    if source is None or not source.is_file():
        raise FormatError(f"{image['name']}: its file {image['uri']} is not here to export")
    return read_display_array(source, max_size=max(image["width"], image["height"]))


def current_masks(store: LabelStore, task: str, progress: bool = True):
    """Each current mask of ``task``, one per image and labeler, with a progress bar:
    (its row, with the image's columns and ``doodles_id`` where there are doodles; the
    file stem ``{image}_{labeler}``; the mask; its class names)."""
    masks = store.get_annotations(task=task, kinds=["mask", "doodles"])
    keys = ["image_id", "labeler"]
    frame = masks[masks["kind"] == "mask"][keys + ["annotation_id"]].rename(
        columns={"annotation_id": "mask_id"}).merge(
        masks[masks["kind"] == "doodles"][keys + ["annotation_id"]].rename(
            columns={"annotation_id": "doodles_id"}), on=keys, how="left")
    frame = frame.join(store.images, on="image_id").sort_values(["name", "labeler"])
    for item in tqdm(frame.itertuples(), total=len(frame), desc="Writing",
                     disable=not progress):
        mask, classes = store.mask(item.mask_id)
        stem = Path(file_name(item.name)).stem  # a stored name is never a path
        yield item, f"{stem}_{folder_name(item.labeler)}", mask, classes
