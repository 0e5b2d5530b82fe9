"""ImageTagger: keyboard-fast tagging of one image after another.

The key press is handled in the browser (``tagger.js``), which already holds
the next images, so the next image shows within a frame; the tag goes to the
kernel, naming the image that was on screen, and the view shows it as pending
until the store has it. Writes are applied in the order they were made, once
each, on a thread of their own, so a slow store never holds up the next
images. Everything else (the queue, the images, the labels) is decided here,
from the store.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import uuid
import warnings
from collections import OrderedDict, deque
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import anywidget
import pandas as pd
import traitlets as t

from ..imagery.display import display_jpeg
from ..imagery.header import UnreadableImage
from ..store import LabelStore, StoreError, StoreUnavailable
from .keyboard import help_line, key_map
from .walker import QueueWalker

BEHIND, AHEAD = 2, 8  # images kept in the browser around the current one
SAVED_REQS_KEPT = 1000  # requests remembered as saved, so one sent twice is written once
WINDOWS_KEPT = 64  # windows of images remembered as on their way to the views
# messages applied in order on the writer thread; the rest answer at once
IN_ORDER = ("tag", "skip", "review", "reject", "undo", "redo", "first_unlabeled")


class ImageTagger(QueueWalker, anywidget.AnyWidget):
    """Tag images from ``store.queue`` with the keyboard (1-9 for the classes).

    Parameters
    ----------
    store, task, labeler
        Where labels go, for which task, by whom. A missing task is created with
        ``classes`` (default: present / not present).
    classes
        The classes, in key order; default: the task's.
    dataset, status, bbox, image_ids, value, order, seed
        Which images, in which order: as ``LabelStore.queue`` (status None: all).
    claim
        Images claimed from the store this many at a time (``LabelStore.claim``),
        more as the labeler nears the end; by default 20 on a team's task (one
        assigned to labelers) and off otherwise. Claimed images come in the task's
        order, so the filters above do not apply.
    multilabel
        Keys toggle classes on the image instead of choosing one and moving on.
    class_keys, keys
        Other keys for classes (class -> key) or actions (action -> key).
    bands
        1-based bands shown as red, green, blue for multi-band rasters.
    """

    _esm = Path(__file__).with_name("tagger.js")
    _css = Path(__file__).with_name("tagger.css")

    task = t.Unicode().tag(sync=True)
    labeler = t.Unicode().tag(sync=True)
    store_key = t.Unicode().tag(sync=True)  # names the browser's memory of pending tags
    widget_key = t.Unicode().tag(sync=True)  # this tagger: its views share its writes
    classes = t.List(t.Unicode()).tag(sync=True)
    key_map = t.Dict().tag(sync=True)
    help = t.Unicode().tag(sync=True)
    multilabel = t.Bool(False).tag(sync=True)
    total = t.Int(0).tag(sync=True)
    position = t.Int(0).tag(sync=True)  # where a new view starts; a view moves itself
    labeled = t.Int(0).tag(sync=True)
    review_mode = t.Bool(False).tag(sync=True)
    model_note = t.Unicode("").tag(sync=True)  # why a model beside the labeler stopped
    display_size = t.Int(768).tag(sync=True)
    # views record key -> shown and key -> saved times (benchmarks/tagger.py reads them)
    timing = t.Bool(False).tag(sync=True)

    def __init__(self, store: LabelStore, *, task: str, labeler: str,
                 classes: Sequence[str] | None = None, dataset=None, multilabel: bool = False,
                 status=None, bbox=None, image_ids=None, value=None, order="stable",
                 seed=None, class_keys=None, keys=None, bands=None, display_size: int = 768,
                 claim: int | None = None):
        if task not in store.tasks.index:
            store.add_task(task, type="multilabel" if multilabel else "tag",
                           classes=list(classes or ("present", "not present")))
        classes = list(classes or store.classes(task))
        self.store = store
        self._bands = bands
        self._queue = self._first_queue(task, labeler, claim, status=status, dataset=dataset,
                                        bbox=bbox, image_ids=image_ids, value=value,
                                        order=order, seed=seed)
        self._images = store.images_of(self._queue)
        self._prefetch = ThreadPoolExecutor(max_workers=1,  # leaves a core to the kernel
                                            thread_name_prefix="geolabel-prefetch")
        self._encoded: dict[str, Future] = {}
        self._descriptions: dict[str, dict] = {}
        self._saved_reqs: OrderedDict[str, list[str]] = OrderedDict()  # request -> images
        self._windows: deque[tuple[int, set[str]]] = deque(maxlen=WINDOWS_KEPT)
        self._view_moving = False  # a position the view reports, not one to send it to
        self._writes: queue.Queue = queue.Queue()
        self._writer = threading.Thread(target=self._write_in_order, daemon=True,
                                        name="geolabel-tagger-writes")
        mapping = key_map(classes, class_keys, keys)
        super().__init__(task=task, labeler=labeler, classes=classes, key_map=mapping,
                         help=help_line(mapping), multilabel=multilabel,
                         total=len(self._queue), display_size=display_size,
                         store_key=hashlib.sha1(store.location.encode()).hexdigest()[:12],
                         widget_key=uuid.uuid4().hex)
        unlabeled = set(store.queue(task, labeler, image_ids=self._queue))
        self._done = set(self._queue) - unlabeled
        self.labeled = len(self._done)
        with self._following_view():  # no view yet: a new one starts here
            self.position = self.first_unlabeled()
        self._prefetch_from(self.position)
        self._writer.start()
        self.on_msg(self._on_message)

    # -- what a user may call from Python too --------------------------------------------
    def flush(self) -> None:
        """Wait until every key pressed so far is in the store (or refused)."""
        if self._writer.is_alive():
            self._writes.join()

    def close(self) -> None:
        if hasattr(self, "_prefetch"):  # built (close runs after a failed __init__ too)
            self._prefetch.shutdown(wait=False, cancel_futures=True)
            self._writes.put(None)  # what is queued is still written, then the thread ends
            self._release_claims()
        super().close()

    def _move_to(self, position: int) -> None:
        self.position = position  # the view is sent there

    @t.observe("position")
    def _position_set(self, change: dict) -> None:
        if not self._view_moving:  # set from Python (or the map): move the views
            self.send({"type": "goto", "position": change["new"]})

    @contextmanager
    def _following_view(self):
        self._view_moving = True
        try:
            yield
        finally:
            self._view_moving = False

    def _restart(self, position: int) -> None:
        unlabeled = set(self.store.queue(self.task, self.labeler, image_ids=self._queue))
        self._done = set(self._queue) - unlabeled
        self._descriptions.clear()
        # the view forgets what its positions held before it hears the new position
        self.send({"type": "queue", "position": position})
        with self.hold_sync(), self._following_view():
            self.total, self.labeled, self.position = len(self._queue), len(self._done), position

    # -- messages from the browser ---------------------------------------------------------
    def _on_message(self, _widget, content: dict, _buffers) -> None:
        if content.get("type") in IN_ORDER:
            self._writes.put(content)
        else:
            self._handle(content)

    def _write_in_order(self) -> None:
        while (content := self._writes.get()) is not None:
            try:
                self._handle(content)
            except Exception as err:  # a bug must not stop the writes after it
                warnings.warn(f"ImageTagger could not apply {content.get('type')}: {err!r}",
                              RuntimeWarning)
                self.send({"type": "failed", "req": content.get("req"), "error": repr(err)})
            finally:
                self._writes.task_done()
        self._writes.task_done()

    def _handle(self, content: dict) -> None:
        handler = getattr(self, f"_do_{content.get('type')}", None)
        if handler is None:
            return
        try:
            with self._saving():
                done = self._saved_reqs.get(_request_key(content))
                if done is not None:  # sent again before the view heard it was saved
                    self._saved(content, done)
                else:
                    handler(content)
        except StoreUnavailable as err:  # the view keeps the tag and sends it again
            self._server_away()
            self.send({"type": "unsaved", "req": content.get("req"), "error": str(err)})
        except (StoreError, ValueError) as err:
            self.send({"type": "failed", "req": content.get("req"), "error": str(err)})

    def _do_need(self, content: dict) -> None:
        wanted = int(content["position"])
        if wanted + AHEAD >= len(self._queue) and self._claim_more():
            self.total = len(self._queue)  # before the view gets there
        with self._following_view():
            self.position = max(0, min(wanted, len(self._queue)))
        have = set(content.get("have", []))
        seen = content.get("seen")
        if seen is not None:  # and what is on its way to the view already
            have.update(*(ids for number, ids in self._windows if number > seen))
        self._send_window(self.position, have)

    def _do_tag(self, content: dict) -> None:
        image_id = content["image_id"]
        props = None
        if content.get("prediction_id") is not None:  # the model's class, taken by a key
            props = {"prediction_id": int(content["prediction_id"]),
                     "model": content.get("model"), "edited": False}
        self.store.tag(image_id, content["value"], task=self.task, labeler=self.labeler,
                       props=props)
        self._saved(content, [image_id])

    def _do_reject(self, content: dict) -> None:
        self.store.reject_prediction(content["prediction_id"], labeler=self.labeler)
        self._saved(content, [content["image_id"]])

    def _do_skip(self, content: dict) -> None:
        self.store.skip(content["image_id"], task=self.task, labeler=self.labeler)
        self._saved(content, [content["image_id"]])

    def _do_review(self, content: dict) -> None:
        self.store.review(content["image_id"], content["verdict"], task=self.task,
                          reviewer=self.labeler, comment=content.get("comment") or None)
        self._saved(content, [content["image_id"]])

    def _do_undo(self, content: dict) -> None:
        changed = self.store.undo(task=self.task, labeler=self.labeler,
                                  image_id=content.get("image_id"))
        self._saved(content, changed)

    def _do_redo(self, content: dict) -> None:
        changed = self.store.redo(task=self.task, labeler=self.labeler,
                                  image_id=content.get("image_id"))
        self._saved(content, changed)

    def _do_first_unlabeled(self, content: dict) -> None:
        # after the writes before it; the view goes there unless it moved meanwhile
        self.send({"type": "goto", "position": self.first_unlabeled(),
                   "moves": content.get("moves")})

    def _do_review_mode(self, content: dict) -> None:
        self.review_mode = bool(content["on"])
        self._send_window(self.position, set())

    def _saved(self, content: dict, image_ids: list[str]) -> None:
        if content.get("req") is not None:
            self._saved_reqs[_request_key(content)] = image_ids
            while len(self._saved_reqs) > SAVED_REQS_KEPT:
                self._saved_reqs.popitem(last=False)
        labels = self._labels(image_ids)
        for image_id in image_ids:
            status = labels.get(image_id, _no_labels())["status"]
            (self._done.discard if status == "unlabeled" else self._done.add)(image_id)
        self.labeled = len(self._done)
        self.send({"type": "saved", "req": content.get("req"),
                   "items": [{"image_id": i, **labels.get(i, _no_labels())} for i in image_ids],
                   "positions": [self._queue.index(i) for i in image_ids if i in self._queue]})

    # -- the images and labels the browser shows -------------------------------------------
    def _note_models(self) -> None:
        """Say in the view why a model of this task (``store.model_runs``) stopped."""
        notes = [run.note for run in self.store.model_runs
                 if getattr(run, "note", None) and getattr(run, "task", None) == self.task]
        self.model_note = notes[-1] if notes else ""

    def _send_window(self, position: int, have: set[str]) -> None:
        self._note_models()
        lo, hi = max(0, position - BEHIND), min(len(self._queue), position + AHEAD + 1)
        ids = self._queue[lo:hi]
        labels = self._labels(ids)
        items, buffers = [], []
        for offset, image_id in enumerate(ids):
            item = {"position": lo + offset, **self._describe(image_id),
                    **labels.get(image_id, _no_labels())}
            if image_id not in have:
                try:
                    jpeg, (width, height) = self._jpeg(image_id).result()
                    item.update(buffer=len(buffers), shown_width=width, shown_height=height)
                    buffers.append(jpeg)
                except UnreadableImage as err:
                    item["error"] = err.reason
            items.append(item)
        number = self._windows[-1][0] + 1 if self._windows else 0
        self._windows.append((number, {item["image_id"] for item in items if "buffer" in item}))
        self.send({"type": "window", "window": number, "position": position, "items": items},
                  buffers=buffers)
        self._prefetch_from(hi)

    def _prefetch_from(self, start: int) -> None:
        for image_id in self._queue[start:start + AHEAD]:
            self._jpeg(image_id)
        if len(self._encoded) > 8 * AHEAD:  # keep memory flat on long sessions
            keep = set(self._queue[max(0, self.position - BEHIND):start + AHEAD])
            self._encoded = {k: v for k, v in self._encoded.items() if k in keep}

    def _jpeg(self, image_id: str) -> Future:
        future = self._encoded.get(image_id)
        if future is None:
            try:
                future = self._prefetch.submit(display_jpeg, self.image_path(image_id),
                                               self.display_size, self._bands)
            except UnreadableImage as err:
                future = Future()
                future.set_exception(err)
            self._encoded[image_id] = future
        return future

    def _describe(self, image_id: str) -> dict:
        described = self._descriptions.get(image_id)
        if described is None:
            described = self._descriptions[image_id] = self._description(image_id)
        return described

    def _description(self, image_id: str) -> dict:
        image = self._images.loc[image_id]
        info = [image["dataset"]]
        if pd.notna(image["width"]):
            info.append(f"{int(image['width'])} × {int(image['height'])} px, "
                        f"{int(image['bands'])} band{'s' if image['bands'] != 1 else ''} "
                        f"{image['dtype']}")
        if pd.notna(image["acquired_at"]):
            info.append(image["acquired_at"].strftime("%Y-%m-%d"))
        if pd.notna(image["lat"]):
            info.append(f"{image['lat']:.4f}°, {image['lon']:.4f}°")
        return {"image_id": image_id, "name": image["name"], "info": " · ".join(info)}

    def _labels(self, image_ids: list[str]) -> dict[str, dict]:
        """Each image's tag by this labeler, everyone's in review mode, the status, and
        the model's class (the newest prediction) with whether this labeler rejected it."""
        result = {image_id: _no_labels() for image_id in image_ids}
        rejected = set()
        for prediction_id, image_id, model, value, score in \
                self.store.current_predictions(self.task, image_ids):
            result[image_id]["prediction"] = {  # newest last: it wins
                "id": prediction_id, "value": value, "model": model, "score": score}
        for image_id, labeler, kind, value in self.store.current_values(
                self.task, image_ids, kinds=("tag", "status", "rejection")):
            entry = result[image_id]
            if kind == "rejection" and labeler == self.labeler:
                rejected.add((image_id, value))
            elif kind == "status" and labeler == self.labeler:
                entry["status"] = value
            elif kind == "tag":
                if labeler == self.labeler:
                    entry["label"] = sorted([*entry["label"], value])
                if self.review_mode:
                    entry["labels"][labeler] = sorted([*entry["labels"].get(labeler, []), value])
        for image_id, entry in result.items():
            if entry["prediction"] is not None:
                entry["prediction"]["rejected"] = (image_id,
                                                   entry["prediction"]["value"]) in rejected
        return result


def _request_key(content: dict) -> str:
    """A request as the view sends it, and sends it again (with a new ``sentAt``)."""
    return json.dumps({k: v for k, v in content.items() if k != "sentAt"}, sort_keys=True)


def _no_labels() -> dict:
    return {"label": [], "labels": {}, "status": "unlabeled", "prediction": None}
