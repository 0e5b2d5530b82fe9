"""LabelingApp: the map beside the tagger or the canvas, linked both ways.

The labeler's current image is outlined and followed on the map; a selection
drawn on the map becomes the labeler's queue (clearing it brings the first
queue back); a click on a footprint opens that image; a label recolours its
footprint (the store tells the map). Nothing here but the wiring.
"""

from __future__ import annotations

import ipywidgets as w

from ..store import LabelStore
from .canvas import CanvasLabeler
from .map import DEFAULT, ImageMap
from .tagger import ImageTagger

MODES = {"tag": ImageTagger, "draw": CanvasLabeler}


class LabelingApp(w.HBox):
    """Label images with a map of where they lie.

    Parameters
    ----------
    store, task, labeler
        Where labels go, for which task, by whom.
    mode
        "tag" (``ImageTagger``) or "draw" (``CanvasLabeler``).
    color_by, basemap
        As ``ImageMap``; the map shows this labeler's work on the task.
    **options
        For the tagger or canvas (dataset, status, classes, display_size ...).
    """

    def __init__(self, store: LabelStore, *, task: str, labeler: str, mode: str = "tag",
                 color_by: str = "status", basemap=DEFAULT, map_height: str = "560px",
                 **options):
        if mode not in MODES:
            raise ValueError(f"mode is one of {sorted(MODES)}, not {mode!r}")
        self.store, self.task, self.labeler = store, task, labeler
        self.labeler_widget = MODES[mode](store, task=task, labeler=labeler, **options)
        try:
            self.map = ImageMap(store, task=task, labeler=labeler, color_by=color_by,
                                basemap=basemap, height=map_height)
        except Exception:
            self.labeler_widget.close()  # its prefetch thread and views go with it
            raise
        self.map.layout = w.Layout(flex="1 1 400px", min_width="360px")
        self.labeler_widget.layout.flex = "1 1 400px" if mode == "tag" else "0 0 auto"
        self._first_queue = self.labeler_widget.queue
        super().__init__([self.map, self.labeler_widget],
                         layout={"flex_flow": "row wrap", "align_items": "flex-start"})
        self.add_class("geolabel-app")
        self.labeler_widget.observe(self._follow, "position")
        self.map.observe(self._queue_selection, "selection")
        self.map.on_image_click(self.labeler_widget.open_image)
        self._follow()

    @property
    def queue(self) -> list[str]:
        return self.labeler_widget.queue

    def _follow(self, _change=None) -> None:
        self.map.current = self.labeler_widget.current

    def _queue_selection(self, change) -> None:
        # only images of the task's datasets, as any queue of it
        chosen = self.store.queue(self.task, self.labeler, status=None, image_ids=change["new"])
        self.labeler_widget.set_queue(chosen if change["new"] else self._first_queue)
        self._follow()

    def close(self) -> None:
        if "map" in self.__dict__:  # not when its construction failed
            self.labeler_widget.close()
            self.map.close()
        super().close()
