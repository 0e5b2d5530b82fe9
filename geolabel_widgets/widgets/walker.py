"""Walking a queue of images: what the tagger and the canvas share.

A widget using this sets ``store``, ``task``, ``labeler``, ``_queue`` (image ids,
from ``_first_queue``), ``_images`` (their rows of ``store.images``) and
``position``, and says how it moves within its queue (``_move_to``) and starts a
new one (``_restart``). On a team's task (one assigned to labelers) the queue is
the images claimed from the store, a batch at a time, so that two labelers are
never shown the same image when the task asks for one label per image.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..imagery.header import UnreadableImage
from ..store import StoreError
from ..store.ingest import path_of

# How long a widget's save waits for a database server that went away before it
# says so (keeping the label), and how often it then sends the label again.
SAVE_PATIENCE = 2.0
RETRY_EVERY = 5.0
CLAIM_BATCH = 20  # images a team member's widget claims at a time
CLAIM_AGAIN_AFTER = 30.0  # seconds after a claim that found nothing left


class QueueWalker:
    _server_away_until = 0.0  # monotonic time; saves till then fail at once
    _claim_batch = 0  # 0: the queue is the store's queue, not claimed images
    _claimed_out_until = 0.0  # monotonic time; a claim found nothing, ask again after

    def _first_queue(self, task: str, labeler: str, claim: int | None, **filters
                     ) -> list[str]:
        """Claimed images (``claim`` at a time; by default on a team's task), else the
        store's queue with these filters."""
        if claim is None:
            claim = CLAIM_BATCH if task in set(self.store.assignments["task"]) else 0
        self._claim_batch = claim
        if not claim:
            return self.store.queue(task, labeler, **filters)
        given = sorted(k for k, v in filters.items() if v is not None and
                       (k, v) not in (("order", "stable"), ("status", "unlabeled")))
        if given:
            raise ValueError(f"images of task {task!r} are claimed from the team's queue "
                             f"in its order; {', '.join(given)} cannot choose them (claim=0 "
                             "opens the whole queue instead)")
        return self.store.claim(task, labeler, claim)

    def _claim_more(self) -> bool:
        """Claim the next batch onto the end of the queue (renewing what is held)."""
        if not self._claim_batch or time.monotonic() < self._claimed_out_until:
            return False  # (each claim takes the write lock: not on every key near the end)
        have = set(self._queue)
        new = [image_id for image_id in
               self.store.claim(self.task, self.labeler, len(have) + self._claim_batch)
               if image_id not in have]
        if new:
            self._queue.extend(new)
            self._images = pd.concat([self._images, self.store.images_of(new)])
        else:
            self._claimed_out_until = time.monotonic() + CLAIM_AGAIN_AFTER
        return bool(new)

    def _release_claims(self) -> None:
        """Give back what this widget claimed and did not label, for the others."""
        if self._claim_batch:
            try:
                self.store.release(self.task, self.labeler)
            except StoreError:  # a server away: the leases expire by themselves
                pass

    @property
    def queue(self) -> list[str]:
        return list(self._queue)

    @property
    def current(self) -> str | None:
        return self._queue[self.position] if 0 <= self.position < len(self._queue) else None

    def first_unlabeled(self) -> int:
        """The first position this labeler has not labeled (the queue's length if none)."""
        unlabeled = set(self.store.queue(self.task, self.labeler, image_ids=self._queue))
        return next((k for k, image_id in enumerate(self._queue) if image_id in unlabeled),
                    len(self._queue))

    def set_queue(self, image_ids, position: int | None = None) -> None:
        """Work through these images instead (from the first this labeler has not labeled)."""
        self._queue = list(dict.fromkeys(image_ids))
        self._images = self.store.images_of(self._queue)
        self._restart(self.first_unlabeled() if position is None else position)

    def open_image(self, image_id: str) -> None:
        """Show this image; one not in the queue is put in it after the current one."""
        if image_id in self._queue:
            self._move_to(self._queue.index(image_id))
            return
        at = min(self.position + 1, len(self._queue))
        self.set_queue([*self._queue[:at], image_id, *self._queue[at:]], position=at)

    def _saving(self):
        """Store calls that give up on an absent server soon (at once if it was away
        moments ago), so that the widget says so and keeps the label."""
        away = time.monotonic() < self._server_away_until
        return self.store.waiting_at_most(0.0 if away else SAVE_PATIENCE)

    def _server_away(self) -> None:
        self._server_away_until = time.monotonic() + RETRY_EVERY / 2

    def image_path(self, image_id: str) -> Path:
        """The local file of an image; a remote one is an UnreadableImage."""
        uri = self._images.at[image_id, "uri"]
        path = path_of(uri)
        if path is None:
            raise UnreadableImage(uri, "is remote; download it first")
        return path
