"""Small types the store's modules share."""

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
