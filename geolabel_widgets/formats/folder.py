"""A plain folder of images in, and images sorted into one folder per class out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..store import LabelStore
from ..store.ingest import path_of
from .atomic import whole_or_nothing
from .registry import Format
from .safety import csv_safe, folder_name


def read_folder(store: LabelStore, source: str | os.PathLike, *, dataset: str | None = None,
                recursive: bool = True, scheduler: str | None = None) -> list[str]:
    """Add every image below ``source`` (or the one image file it is) to ``dataset``
    (default: the folder's name, or the file's folder's); headers read on Dask when
    ``scheduler`` says so (``store.add_images``)."""
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"no folder or image file at {source}")
    default = source.absolute().name if source.is_dir() else source.absolute().parent.name
    return store.add_images(source, dataset=dataset or default, recursive=recursive,
                            scheduler=scheduler)


@whole_or_nothing
def write_folder(store: LabelStore, dest: str | os.PathLike, *, task: str,
                 progress: bool = True) -> pd.DataFrame:
    """Copy each image of the task into ``dest/<dataset>/<class>/`` by its latest tag,
    under ``dest/<split>/`` first when the task has splits (``store.split``).

    Untagged images go to ``unlabeled/``; ``dest/labels.csv`` lists every current
    tag (all labelers), so disagreements are kept, with a ``split`` column. Returns
    that table.
    """
    dest = Path(dest)
    images = store.images
    splits = store.splits(task)
    images["split"] = splits.reindex(images.index)
    tags = store.get_annotations(task=task, kinds=["tag"])
    latest = tags.sort_values("created_at").groupby("image_id")["value"].last()
    dest.mkdir(parents=True, exist_ok=True)
    for image_id, image in tqdm(images.iterrows(), total=len(images), desc="Exporting",
                                disable=not progress):
        source = path_of(image["uri"])
        if source is None or image["file_missing"] or not source.exists():
            continue
        cls = latest.get(image_id, "unlabeled")
        target = dest / folder_name(image["dataset"]) / folder_name(cls) / source.name
        if len(splits):
            target = dest / folder_name(image["split"] or "unassigned") / target.relative_to(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    table = tags.merge(images[["name", "dataset", "uri", "split"]], left_on="image_id",
                       right_index=True)[["image_id", "name", "dataset", "uri", "split",
                                          "labeler", "value", "created_at"]]
    csv_safe(table).to_csv(dest / "labels.csv", index=False)
    return table


FORMAT = Format("folder", read=read_folder, write=write_folder,
                import_options=frozenset({"scheduler"}))
