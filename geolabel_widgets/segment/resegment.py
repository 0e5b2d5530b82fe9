"""Every mask of a task made again from its doodles, with new settings, as the Coast
Train release says its labels can be: the work on Dask, the writes in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..batch import LOCAL, run_batch
from ..imagery.display import read_display_array
from ..store import LabelStore, StoreError
from ..store.ingest import path_of
from .doodles import WORK_SIZE, doodles_to_mask


@dataclass(frozen=True)
class Job:
    """One image's doodles and where its pixels are: all a worker needs."""
    image_id: str
    labeler: str
    path: str
    doodles: np.ndarray
    classes: tuple[str, ...]
    work_size: int
    seed: int


def resegment(store: LabelStore, *, task: str, labeler: str | None = None,
              work_size: int = WORK_SIZE, seed: int = 0, scheduler: str | None = LOCAL,
              workers: int | None = None, progress: bool = True) -> list[int]:
    """Predict again the mask of every image of ``task`` that has doodles (of
    ``labeler``, or of every labeler) and write each as that labeler's current mask;
    the old one stays in the history, the settings go in the new row's ``props``.

    ``scheduler``: ``"local"`` (a LocalCluster), a scheduler address, or ``None``
    for this process; the masks are the same wherever they are computed. Returns the
    new mask rows' ids, in the order of the image names.
    """
    jobs = _jobs(store, task, labeler, work_size, seed)
    masks = run_batch(segment, jobs, scheduler=scheduler, workers=workers,
                      desc="Segmenting", progress=progress)
    settings = {"resegmented": {"work_size": work_size, "seed": seed}}
    with store.transaction():
        return [store.add_mask(job.image_id, mask, task=task, labeler=job.labeler,
                               classes=list(job.classes), props=settings)
                for job, mask in zip(jobs, masks)]


def segment(job: Job) -> np.ndarray:
    """A worker's part: the image read at full size, then its doodles predicted."""
    image = read_display_array(job.path, max_size=max(job.doodles.shape))
    if image.shape[:2] != job.doodles.shape:
        raise StoreError(f"{job.path}: the image is {image.shape[1]} x {image.shape[0]} px "
                         f"but its doodles are {job.doodles.shape[1]} x "
                         f"{job.doodles.shape[0]}")
    return doodles_to_mask(image, job.doodles, n_classes=len(job.classes),
                           work_size=job.work_size, seed=job.seed)


def _jobs(store: LabelStore, task: str, labeler: str | None, work_size: int,
          seed: int) -> list[Job]:
    doodles = store.get_annotations(task=task, labeler=labeler, kinds=["doodles"])
    if doodles.empty:
        whose = f" by {labeler}" if labeler else ""
        raise StoreError(f"task {task!r} has no doodles{whose} to segment again")
    doodles = doodles.join(store.images[["name", "uri"]], on="image_id")
    jobs = []
    for row in doodles.sort_values(["name", "labeler"]).itertuples():
        path = path_of(row.uri)
        if path is None or not path.is_file():
            raise StoreError(f"{row.name}: its file {row.uri} is not here to segment")
        raster, classes = store.mask(row.annotation_id)
        jobs.append(Job(row.image_id, row.labeler, str(path), raster, tuple(classes),
                        work_size, seed))
    return jobs
