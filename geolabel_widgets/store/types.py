"""Small types and helpers the store's modules share."""

from __future__ import annotations

from dataclasses import dataclass


class StoreError(ValueError):
    """A request the store cannot carry out, in words a user can act on."""


@dataclass(frozen=True)
class TaskInfo:
    task_id: int
    title: str
    type: str
    classes: tuple[str, ...]
    labels_per_image: int = 1
    gold_share: float = 0.05  # of each labeler's queue
    min_agreement: float | None = None  # below it an image waits for adjudication


def label_key(kind: str, task: TaskInfo, image_id, labeler=None) -> str:
    """The label id of the one current row of a kind a labeler has on an image (a tag,
    status, comment, mask ...; ``labeler`` None for a task's own row, as a split):
    writing it again supersedes that row."""
    return f"{kind}/{task.task_id}/{image_id}" + ("" if labeler is None else f"/{labeler}")


def chunks(items: list, size: int):
    """``items`` in pieces of ``size``: an IN list SQLite takes whole."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
