"""The popup of one image on the map: its thumbnail, metadata and labels, a button
to select it and one to lay the image itself on the map."""

from __future__ import annotations

from html import escape
from typing import Callable

import ipywidgets as w
import pandas as pd
from ipyleaflet import Popup

from ..imagery.display import encode_jpeg, read_display_array
from ..imagery.header import UnreadableImage
from ..store import LabelStore
from ..store.ingest import path_of

THUMBNAIL_PX = 200
POPUP_PX = 380  # a popup's height with its thumbnail, details and buttons


def image_popup(store: LabelStore, task: str | None, image_id: str, dataset: str, location,
                selected: bool, select: Callable[[bool], None], show: Callable[[], None]
                ) -> Popup:
    """``select(chosen)`` when its button is toggled, ``show()`` to lay the image on the
    map (a ValueError or UnreadableImage it raises is said in the popup)."""
    choose = w.ToggleButton(value=selected, layout={"width": "auto"})

    def toggled(_change=None):
        choose.description, choose.icon = (("selected", "check") if choose.value
                                           else ("select", "plus"))
        select(choose.value)

    toggled()
    choose.observe(toggled, "value")
    details = w.HTML(_details(store, task, image_id, dataset))

    def shown(_button):
        try:
            show()
        except (ValueError, UnreadableImage) as err:
            details.value += f"<p>⚠ {escape(str(err))}</p>"

    on_map = w.Button(description="show on map", icon="image", layout={"width": "auto"})
    on_map.on_click(shown)
    child = w.VBox([_thumbnail(store, image_id), details, w.HBox([choose, on_map])],
                   layout={"width": "280px"})
    child.add_class("geolabel-popup")
    return Popup(location=list(location), child=child, min_width=280, max_width=300,
                 auto_pan=False, name="image details")


def _thumbnail(store: LabelStore, image_id: str) -> w.Widget:
    path = path_of(store.image(image_id)["uri"])
    try:
        if path is None:
            raise UnreadableImage(image_id, "is remote")
        return w.Image(value=encode_jpeg(read_display_array(path, THUMBNAIL_PX)),
                       format="jpeg", layout={"max_width": f"{THUMBNAIL_PX}px",
                                              "max_height": f"{THUMBNAIL_PX}px"})
    except UnreadableImage as err:
        return w.HTML(f"<i>no thumbnail: {escape(err.reason)}</i>")

def _details(store: LabelStore, task: str | None, image_id: str, dataset: str) -> str:
    row = store.image(image_id)
    lines = [f"<b>{escape(row['name'])}</b>", escape(dataset)]
    if row["width"]:
        lines.append(f"{row['width']} × {row['height']} px, {row['bands']} band(s)")
    if row["acquired_at"]:
        lines.append(pd.Timestamp(row["acquired_at"], unit="s").strftime("%Y-%m-%d"))
    if row["lat"] is not None:
        lines.append(f"{row['lat']:.5f}°, {row['lon']:.5f}°")
    statuses = store.get_annotations(image_ids=[image_id], task=task,
                                          kinds=["status"])
    status = {(r.task, r.labeler): r.value for r in statuses.itertuples()}
    labels = store.get_annotations(image_ids=[image_id], task=task)
    rows = []
    for (task, labeler), group in labels.groupby(["task", "labeler"]):
        kinds = group.groupby("kind")["value"].agg(
            lambda v: sorted({x for x in v if isinstance(x, str)}))
        said = "; ".join(f"{len(group[group['kind'] == kind])} {kind}"
                         + (f" ({', '.join(values)})" if values else "")
                         for kind, values in kinds.items())
        state = status.pop((task, labeler), "")
        rows.append(f"{escape(task)} · {escape(labeler)}: {escape(said)}"
                    + (f" · <i>{escape(state)}</i>" if state else ""))
    rows += [f"{escape(task)} · {escape(labeler)}: <i>{escape(state)}</i>"
             for (task, labeler), state in status.items()]
    lines.append("<b>labels</b><br>" + ("<br>".join(rows) if rows else "none yet"))
    return "<div style='line-height:1.35'>" + "<br>".join(lines) + "</div>"
