"""ImageMap: where every image lies, coloured by its labels, and a way to choose what to label.

Pure Python on ipyleaflet. What is sent to the browser is decided in
``footprints.py``: footprints of what is in view (grown by half a view each
side, so small pans send nothing) when there are few, counts per cell when
there are many. Counts need only the images' centres, so a large store's map
draws them while its footprints are read in a background thread. Footprints go
in pieces of ``CHUNK`` features, one GeoJSON layer each, so a label recolours
its footprint by re-sending one piece.
The store tells the map of every committed label, whoever wrote it.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from html import escape

import ipywidgets as w
import numpy as np
import pandas as pd
import shapely
import traitlets as t
from ipyleaflet import (DrawControl, GeoJSON, ImageOverlay, LayerGroup, LayersControl,
                        Map, Popup, ScaleControl, WidgetControl)
from matplotlib import colormaps
from matplotlib.colors import to_hex

from ..imagery.header import UnreadableImage
from ..imagery.overlay import web_mercator_png
from ..store import LabelStore
from ..store.ingest import path_of
from ..store.schema import STATUSES
from .basemap import DEFAULT, base_layers
from .footprints import (Box, Details, FootprintIndex, Palette, cell_features, contains,
                         footprint_feature, footprint_features, fit_view, from_unit, grow,
                         to_unit, view_box)
from .popup import POPUP_PX, image_popup
from .states import AGREEMENT, CONFIDENCE, NO_PREDICTION, read_states

COLOR_BY = ("status", "dataset", "class", "labeler", "prediction", "confidence", "agreement")
STATUS_COLORS = {"unlabeled": "#9e9e9e", "in_progress": "#f9a825", "labeled": "#2e7d32",
                 "skipped": "#ef6c00", "needs_improvement": "#c62828", "reviewed": "#1565c0"}
NO_LABEL = {"status": "unlabeled", "class": "no label", "labeler": "nobody", "dataset": "?",
            "prediction": NO_PREDICTION, "confidence": NO_PREDICTION,
            "agreement": NO_PREDICTION}
# a model's confidence from sure to unsure, and whether the labels agree with it
SCALE_COLORS = {**dict(zip(CONFIDENCE, ("#1a9850", "#91cf60", "#fee08b", "#d73027",
                                        "#bdbdbd"))),
                **dict(zip(AGREEMENT, ("#2e7d32", "#c62828", "#5e35b1")))}
NO_LABEL_COLOR = "#9e9e9e"
MAX_FOOTPRINTS = 3000  # more in view than this, and the map shows counts per cell
BACKGROUND_ABOVE = 20_000  # images; more, and their footprints are read in the background
_READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geolabel-map-reader")
CHUNK = 250  # footprints per GeoJSON layer: what a recolour re-sends
PAD = 0.5  # footprints are sent for the view grown by this much of its size each side
ASSUMED_SIZE = (900, 520)  # the map's size in pixels until the browser says
FOOTPRINT_STYLE = {"weight": 1, "opacity": 0.9, "fillOpacity": 0.45}
EMPTY = {"type": "FeatureCollection", "features": []}
# panes over the footprints (Leaflet's overlay pane, z 400): the image laid on the map,
# then the outline of the current image and the drawn area; clicks pass through both
IMAGE_PANE, TOP_PANE = "geolabel-image", "geolabel-top"
PANES = {IMAGE_PANE: {"zIndex": 420, "pointerEvents": "none"},
         TOP_PANE: {"zIndex": 450, "pointerEvents": "none"}}


class ImageMap(w.VBox):
    """Every image's footprint on a map, coloured by status, dataset, class or labeler.

    Hover a footprint for its name and label; click it for a popup with a thumbnail,
    its metadata and labels. Draw a rectangle or polygon (toolbar, left) to select
    the images it meets: ``selection`` is a trait other widgets observe. ``current``
    is the image being labeled: outlined and followed.

    Parameters
    ----------
    store
        The label store.
    task, labeler
        Whose labels colour the map (default: every task's, everyone's); with a
        task, only the images it covers are shown.
    color_by
        "status", "dataset", "class" or "labeler" of the labels; or a model's
        "prediction" (its class), its "confidence", or its "agreement" with the labels.
    basemap
        An ipyleaflet basemap (``ipyleaflet.basemaps...``), a ``TileLayer``, a tile URL
        template, or None for a plain background. Default: ``$GEOLABEL_BASEMAP`` (a
        URL template, or "none"), else OpenStreetMap. Without a reachable tile server
        the footprints still show, on the plain background.
    max_footprints
        Above this many images in view, counts per cell are shown instead.
    """

    selection = t.List(t.Unicode(), help="ids of the selected images, in store order")
    current = t.Unicode(None, allow_none=True, help="the image being labeled")
    color_by = t.Enum(COLOR_BY, default_value="status")

    def __init__(self, store: LabelStore, *, task: str | None = None,
                 labeler: str | None = None, color_by: str = "status", basemap=DEFAULT,
                 height: str = "520px", max_footprints: int = MAX_FOOTPRINTS):
        if color_by not in COLOR_BY:
            raise ValueError(f"color_by is one of {', '.join(COLOR_BY)}, not {color_by!r}")
        # read before any widget exists: a bad task or store leaves nothing half made
        index, states = _read_index(store, task), read_states(store, task, labeler)
        super().__init__()
        self.store, self.task, self.labeler = store, task, labeler
        self.max_footprints = max_footprints
        self.index, self._states = index, states
        self._click_callbacks = w.CallbackDispatcher()
        self._chunks: list[list[dict]] = []  # the features each footprint layer holds
        self._where: dict[str, tuple[int, int]] = {}  # image id -> (layer, feature)
        self._rendered: tuple[Box, float] | None = None
        self._popup: Popup | None = None
        self._overlay: ImageOverlay | None = None
        self.set_trait("color_by", color_by)
        self.palette = self._palette()

        center, zoom = fit_view(grow(self.index.extent(), 0.1), ASSUMED_SIZE)
        self.map = Map(center=center, zoom=zoom, layers=base_layers(basemap),
                       prefer_canvas=True, scroll_wheel_zoom=True, panes=PANES,
                       layout={"height": height, "width": "100%"})
        self.map.add_class("geolabel-map")
        self._build_layers()
        self._build_controls()
        self.children = [self.map, self._footer]
        self._render(view_box(center, zoom, ASSUMED_SIZE, PAD), zoom)
        self.map.observe(self._on_view, "bounds")
        self.observe(self._on_selection, "selection")
        self.observe(self._on_current, "current")
        self.observe(self._on_color_by, "color_by")
        store.subscribe(self._on_labels_changed)

    # -- what a user may call from Python too -----------------------------------------------
    def select_area(self, area) -> list[str]:
        """Select the images whose footprints meet ``area`` (shapely, lon/lat); returns them."""
        positions = self.index.meeting(area)
        self._area.data = {"type": "Feature", "geometry": shapely.geometry.mapping(area),
                           "properties": {}}
        self.selection = [str(i) for i in self.index.ids[positions]]
        return self.selection

    def clear_selection(self) -> None:
        self._area.data = EMPTY
        self.selection = []

    def on_image_click(self, callback, remove: bool = False) -> None:
        """Call ``callback(image_id)`` when a footprint is clicked."""
        self._click_callbacks.register_callback(callback, remove=remove)

    def open_popup(self, image_id: str, location=None) -> Popup:
        """The popup of one image: thumbnail, metadata, labels, and what to do with it."""
        k = int(self.index.position[image_id])
        if location is None:
            center = shapely.centroid(self.index.geometry[k])
            location = (center.y, center.x)
        popup = image_popup(self.store, self.task, image_id,
                            str(self.index.dataset[k]), location, image_id in self.selection,
                            select=lambda chosen: self._toggle(image_id, chosen),
                            show=lambda: self.show_image(image_id))
        self._close_popup()
        self._make_room(location)
        self.map.add(popup)
        self._popup = popup
        return popup

    def show_image(self, image_id: str, max_size: int = 768) -> ImageOverlay:
        """Lay the image on the map where its georeference puts it (warped to Web Mercator)."""
        row = self.store.image(image_id)
        if not (row["crs"] and row["transform"] and row["width"]):
            raise ValueError(f"{row['name']} is not georeferenced; it cannot be laid on the map")
        path = path_of(row["uri"])
        if path is None:
            raise UnreadableImage(row["uri"], "is remote; download it first")
        png, bounds = web_mercator_png(path, row["crs"], row["transform"], row["width"],
                                       row["height"], max_size)
        overlay = ImageOverlay(url="data:image/png;base64," + base64.b64encode(png).decode(),
                               bounds=[list(bounds[0]), list(bounds[1])],
                               name=f"image: {row['name']}", pane=IMAGE_PANE)
        if self._overlay is not None:
            self.map.remove(self._overlay)
            self._overlay.close()
        self.map.add(overlay)
        self._overlay = overlay
        return overlay

    def refresh(self) -> None:
        """Read the store again (images added since, labels written by other processes)."""
        self.index = _read_index(self.store, self.task)
        self._states = read_states(self.store, self.task, self.labeler)
        self.palette = self._palette()
        self._rerender()

    def close(self) -> None:
        if "map" in self.__dict__:  # not when its construction failed
            self.store.unsubscribe(self._on_labels_changed)
            self._close_popup()
            self.map.close()
        super().close()

    # -- building ----------------------------------------------------------------------------
    def _build_layers(self) -> None:
        self._pieces: list[GeoJSON] = []  # made as they are needed (see _piece)
        self._footprints = LayerGroup(name="footprints")
        self._cells = GeoJSON(data=EMPTY, name="image counts",
                              hover_style={"weight": 3, "fillOpacity": 0.85})
        self._cells.on_hover(self._on_cell_hover)
        self._cells.on_click(self._on_cell_click)
        # on a pane (a canvas) of their own: footprints re-sent later never cover them
        self._area = GeoJSON(data=EMPTY, name="selection area", pane=TOP_PANE,
                             style={"color": "#00838f", "weight": 2, "dashArray": "6 4",
                                    "fill": False})
        self._highlight = GeoJSON(data=EMPTY, name="current image", pane=TOP_PANE,
                                  style={"color": "#ff1744", "weight": 4, "fill": False},
                                  point_style={"radius": 10})
        self.map.add(self._cells)
        self.map.add(self._footprints)
        self.map.add(self._area)
        self.map.add(self._highlight)

    def _build_controls(self) -> None:
        self._draw = DrawControl(
            rectangle={"shapeOptions": {"color": "#00838f", "fillOpacity": 0.1}},
            polygon={"shapeOptions": {"color": "#00838f", "fillOpacity": 0.1}},
            polyline={}, circlemarker={}, circle={}, marker={}, edit=False, remove=False)
        self._draw.on_draw(self._on_draw)
        # one panel for the legend and what the mouse is over: fewer widgets, a faster start
        self._hovered = "<i>hover a footprint</i>"
        self._info = w.HTML(layout={"max_width": "320px"})
        self._show_info()
        for control in (self._draw, LayersControl(position="topright"),
                        WidgetControl(widget=self._info, position="topright"),
                        ScaleControl(position="bottomleft")):
            self.map.add(control)
        self._color_choice = w.Dropdown(options=COLOR_BY, value=self.color_by,
                                        description="colour by", layout={"width": "210px"})
        self._color_choice.observe(lambda change: setattr(self, "color_by", change["new"]),
                                   "value")
        clear = w.Button(description="clear selection", icon="times", layout={"width": "auto"})
        clear.on_click(lambda _: self.clear_selection())
        self._status = w.HTML()
        self._footer = w.HBox([self._color_choice, clear, self._status],
                              layout={"align_items": "center", "flex_flow": "row wrap"})

    # -- what is drawn -----------------------------------------------------------------------
    def _palette(self) -> Palette:
        column = self.color_by
        nothing = NO_LABEL[column]
        values, codes = self._values(column)
        present = set(values[np.bincount(codes, minlength=len(values)) > 0])
        if column == "status":
            known = STATUS_COLORS
            order = [s for s in STATUSES if s in present]
        elif column in ("class", "prediction"):
            known = self._class_colors()
            order = [c for c in known if c in present]
        elif column in ("confidence", "agreement"):
            known = SCALE_COLORS
            order = [c for c in (*CONFIDENCE, *AGREEMENT) if c in present]
        else:
            known = {}
            order = []
        order += sorted(present - set(order) - {nothing})
        if nothing in present and nothing not in order:
            order.append(nothing)
        cycle = [to_hex(c) for c in colormaps["tab10"].colors]
        colors = [known.get(v) or (NO_LABEL_COLOR if v == nothing else cycle[k % len(cycle)])
                  for k, v in enumerate(order)]
        where = {value: k for k, value in enumerate(order)}  # values absent get no code
        recode = np.array([where.get(value, -1) for value in values], dtype=np.int64)
        return Palette(order, colors, recode[codes])

    def _values(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """The distinct values of ``column`` and each image's code into them, found by
        seq: a million images' codes without a million-string lookup."""
        if column == "dataset":
            dataset = self.index.dataset
            return np.asarray(dataset.categories.astype(str), dtype=object), \
                dataset.codes.astype(np.int64)
        positions = self.index.positions_of(self._states["seq"])
        on_map = positions >= 0
        given = self._states[column].to_numpy()[on_map]
        given = pd.Categorical(np.where(pd.isna(given), NO_LABEL[column], given).astype(str))
        values = np.append(np.asarray(given.categories, dtype=object), NO_LABEL[column])
        codes = np.full(len(self.index), len(values) - 1, dtype=np.int64)
        codes[positions[on_map]] = given.codes
        return values, codes

    def _class_colors(self) -> dict[str, str]:
        tasks = [self.task] if self.task else list(self.store.tasks.index)
        colors: dict[str, str] = {}
        for task in tasks:
            for name, color in self.store.class_colors(task).items():
                colors.setdefault(name, color)
        return colors

    def _show_info(self) -> None:
        self._info.value = (self.palette.legend_html(self.color_by)
                            + f"<div style='font-size:12px;padding:2px 6px;border-top:1px "
                              f"solid #ccc;margin-top:3px'>{self._hovered}</div>")

    def _labels(self, ids) -> list[str]:
        """Hover text of these images: status · main class · by whom (one frame lookup)."""
        states = self._states.reindex(ids)
        text = states["status"].fillna("unlabeled")
        for column, prefix in (("class", ""), ("labeler", "by ")):
            given = states[column].notna()
            text[given] = text[given] + " · " + prefix + states[column][given].astype(str)
        return text.tolist()

    def _render(self, box: Box, zoom: float) -> None:
        """Send what is in ``box``: its footprints in pieces, or its counts per cell."""
        centred = self.index.centred_in(box)
        self._rendered = (box, zoom)
        if len(centred) <= self.max_footprints:
            positions = self.index.in_box(box)
            self._cells.data = EMPTY
            self._send_footprints(positions, zoom)
            shown = f"{len(positions):,} in view"
        else:
            self._send_footprints(centred[:0], zoom)
            self._cells.data = cell_features(self.index, centred, self.palette, zoom)
            shown = (f"{len(centred):,} in view, as counts per cell (zoom in for "
                     "footprints)")
        self._say(shown)

    def _send_footprints(self, positions: np.ndarray, zoom: float) -> None:
        features = []
        if len(positions):  # none needs no footprints read
            labels = self._labels(self.index.ids[positions])
            features = footprint_features(self.index, positions, self.palette, labels,
                                          set(self.selection), zoom,
                                          FOOTPRINT_STYLE)["features"]
        self._chunks = [features[k:k + CHUNK] for k in range(0, len(features), CHUNK)]
        self._where = {f["id"]: (k // CHUNK, k % CHUNK) for k, f in enumerate(features)}
        for k in range(max(len(self._chunks), len(self._pieces))):
            self._piece(k).data = ({"type": "FeatureCollection", "features": self._chunks[k]}
                                   if k < len(self._chunks) else EMPTY)

    def _piece(self, k: int) -> GeoJSON:
        """The k-th footprint layer, made on first use (a map of few images needs few)."""
        while len(self._pieces) <= k:
            piece = GeoJSON(data=EMPTY, hover_style={"weight": 3, "fillOpacity": 0.7},
                            point_style={"radius": 6})
            piece.on_hover(self._on_hover)
            piece.on_click(self._on_click)
            self._footprints.add(piece)
            self._pieces.append(piece)
        return self._pieces[k]

    def _rerender(self) -> None:
        if self._rendered is not None:
            self._render(*self._rendered)
        self._show_info()

    def _say(self, shown: str) -> None:
        selected = f" · <b>{len(self.selection):,} selected</b>" if self.selection else ""
        self._status.value = (f"{len(self.index):,} images · {shown}{selected}")

    # -- events ------------------------------------------------------------------------------
    def _on_view(self, _change=None) -> None:
        (south, west), (north, east) = self.map.bounds
        box = (max(west, -180.0), max(south, -85.0), min(east, 180.0), min(north, 85.0))
        if self._rendered is not None:
            rendered_box, rendered_zoom = self._rendered
            if rendered_zoom == self.map.zoom and contains(rendered_box, box):
                return
        self._render(grow(box, PAD), self.map.zoom)

    def _on_hover(self, properties=None, **_) -> None:
        if properties:
            self._hovered = (f"<b>{escape(properties['name'])}</b><br>"
                             f"{escape(properties['label'])}")
            self._show_info()

    def _on_cell_hover(self, properties=None, **_) -> None:
        if properties:
            self._hovered = (f"<b>{properties['count']:,} images</b><br>"
                             f"{escape(properties['breakdown'])}")
            self._show_info()

    def _on_click(self, properties=None, coordinates=None, **_) -> None:
        if not properties:
            return
        image_id = properties["image_id"]
        self.open_popup(image_id, coordinates)
        self._click_callbacks(image_id)

    def _on_cell_click(self, coordinates=None, **_) -> None:
        if coordinates:  # into the cell, three zoom levels closer
            self.map.center = list(coordinates)
            self.map.zoom = min(self.map.zoom + 3, 18)

    def _on_draw(self, _control, action: str, geo_json: dict) -> None:
        if action == "created":
            self._draw.clear()
            self.select_area(shapely.geometry.shape(geo_json["geometry"]))

    def _on_selection(self, _change) -> None:
        self._rerender()

    def _on_color_by(self, _change) -> None:
        self._color_choice.value = self.color_by
        self.palette = self._palette()
        self._rerender()

    def _on_current(self, change) -> None:
        image_id = change["new"]
        if image_id is None or image_id not in self.index.position.index:
            self._highlight.data = EMPTY
            return
        geometry = self.index.geometry[int(self.index.position[image_id])]
        self._highlight.data = {"type": "Feature", "properties": {},
                                "geometry": shapely.geometry.mapping(geometry)}
        self._follow(geometry)

    def _follow(self, geometry) -> None:
        """Bring the image into view, close enough to see its footprint."""
        west, south, east, north = shapely.bounds(geometry)
        if self.map.bounds:
            (s, w_), (n, e) = self.map.bounds
            inside = w_ <= west and east <= e and s <= south and north <= n
            big_enough = (east - west) / max(e - w_, 1e-12) > 0.01
            if inside and big_enough and not self._cells.data["features"]:
                return
        span = max(east - west, north - south, 1e-4) * 4  # the image and its neighbours
        mid_lon, mid_lat = (west + east) / 2, (south + north) / 2
        center, zoom = fit_view((mid_lon - span, mid_lat - span, mid_lon + span, mid_lat + span),
                                ASSUMED_SIZE)
        self.map.center, self.map.zoom = list(center), zoom

    def _on_labels_changed(self, changes) -> None:
        ids = list(dict.fromkeys(i for task, i in changes
                                 if self.task in (None, task) and i in self.index.position.index))
        if not ids:
            return
        fresh = read_states(self.store, self.task, self.labeler, image_ids=ids)
        self._states = pd.concat([self._states.drop(index=ids, errors="ignore"), fresh])
        if self.color_by != "dataset":  # a dataset does not change with a label
            values = fresh[self.color_by].reindex(ids).fillna(NO_LABEL[self.color_by])
            if not set(values).issubset(self.palette.categories):  # a new class or labeler
                self.palette = self._palette()
                self._rerender()
                return
            for image_id, value in values.items():
                position = int(self.index.position[image_id])
                self.palette.codes[position] = self.palette.categories.index(value)
            self._show_info()
        if self._cells.data["features"]:
            self._rerender()
            return
        for piece in sorted({self._recolour(i) for i in ids if i in self._where}):
            self._pieces[piece].data = {"type": "FeatureCollection",
                                        "features": list(self._chunks[piece])}

    def _recolour(self, image_id: str) -> int:
        piece, k = self._where[image_id]
        old = self._chunks[piece][k]
        self._chunks[piece][k] = footprint_feature(
            self.index, int(self.index.position[image_id]), old["geometry"], self.palette,
            self._labels([image_id])[0], image_id in self.selection, FOOTPRINT_STYLE)
        return piece

    # -- the popup ---------------------------------------------------------------------------
    def _toggle(self, image_id: str, selected: bool) -> None:
        chosen = set(self.selection) | {image_id} if selected else set(self.selection) - {image_id}
        self.selection = [str(i) for i in self.index.ids if i in chosen]

    def _make_room(self, location) -> None:
        """Pan so that a popup opening above ``location`` fits in the map. (Leaflet's own
        auto-pan measures the popup before its widgets have drawn, so it never pans.)"""
        if not self.map.bounds:
            return
        (south, west), (north, east) = self.map.bounds
        _, (y, top, bottom) = to_unit([location[1]] * 3, [location[0], north, south])
        room = POPUP_PX / _pixels(self.map.layout.height, ASSUMED_SIZE[1])
        below_top = (y - top) / (bottom - top)
        if below_top < room:
            x, center_y = to_unit(self.map.center[1], self.map.center[0])
            lon, lat = from_unit(x, center_y - (room - below_top + 0.05) * (bottom - top))
            self.map.center = [float(lat), float(lon)]

    def _close_popup(self) -> None:
        if self._popup is not None:
            if self._popup in self.map.layers:
                self.map.remove(self._popup)
            self._popup.child.close()
            self._popup.close()
            self._popup = None


def _read_index(store: LabelStore, task: str | None) -> FootprintIndex:
    """The centres now; the footprints too for a store of up to ``BACKGROUND_ABOVE``
    images, else from a background thread, so a million-image map draws in seconds."""
    centres = store.centres(task)
    seq = centres.index.to_numpy()
    if len(centres) <= BACKGROUND_ABOVE:
        return FootprintIndex(centres, Details.of(store.footprints(task), seq))
    return FootprintIndex(centres, _READER.submit(
        lambda: Details.of(store.footprints(task), seq)))


def _pixels(css: str | None, default: int) -> int:
    """A CSS length in pixels ("520px"), or ``default`` for any other unit."""
    text = (css or "").strip()
    return int(float(text[:-2])) if text.endswith("px") else default
