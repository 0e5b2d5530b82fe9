"""The Coast Train distribution figures, from any store, one function per figure.

Each function takes the store (or the frame from ``plots.frames`` to plot
edited data) and returns a matplotlib Figure. ``FIGURES`` maps the Coast Train
file names to them; ``save_figures`` writes them all.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..store import LabelStore
from . import frames

BAR = dict(color="tab:blue", edgecolor="white", width=1.0)
MARKERS = ("o", "*", "D", "x", "s", "^", "v", "P", "h", "<")


def images_per_class(store: LabelStore | None = None, view: str | None = None, *,
                     frame: pd.DataFrame | None = None) -> Figure:
    """Images containing each class, one panel per dataset (and task)."""
    frame = frames.class_frame(store, view) if frame is None else frame
    label = "Super-class" if view else "Class Label"
    return _panels(frame, "class", "images", xlabel=label, ylabel="Number of Labeled Images")


def images_per_class_overall(store: LabelStore | None = None, view: str | None = None, *,
                             frame: pd.DataFrame | None = None) -> Figure:
    """Images containing each (super-)class, summed over datasets."""
    frame = frames.class_frame(store, view) if frame is None else frame
    totals = frame.groupby("class", sort=False)["images"].sum()
    return _bars(totals, xlabel="Super-class" if view else "Class Label",
                 ylabel="Number of Labeled Images", rotate=True)


def images_per_labeler(store: LabelStore | None = None, *,
                       frame: pd.DataFrame | None = None) -> Figure:
    """Images each labeler labeled, one panel per dataset (and task)."""
    frame = frames.labeler_frame(store) if frame is None else frame
    labelers = sorted(frame["labeler"].unique(), key=_natural)
    full = _complete(frame, "labeler", labelers, "images")
    return _panels(full, "labeler", "images", xlabel="Labeler ID",
                   ylabel="Number of Labeled Images", rotate=False)


def images_per_labeler_overall(store: LabelStore | None = None, *,
                               frame: pd.DataFrame | None = None) -> Figure:
    return _labeler_totals(store, frame, "images", "Number of Labeled Images")


def megapixels_per_labeler(store: LabelStore | None = None, *,
                           frame: pd.DataFrame | None = None) -> Figure:
    return _labeler_totals(store, frame, "megapixels", "Millions of pixels labeled")


def _labeler_totals(store, frame, column: str, ylabel: str) -> Figure:
    """One bar per labeler, summed over datasets."""
    frame = frames.labeler_frame(store) if frame is None else frame
    totals = frame.groupby("labeler")[column].sum()
    return _bars(totals.reindex(sorted(totals.index, key=_natural)), xlabel="Labeler ID",
                 ylabel=ylabel)


def megapixels_vs_doodled(store: LabelStore | None = None, *,
                          frame: pd.DataFrame | None = None) -> Figure:
    """Millions of pixels labeled against the percentage a person doodled, per dataset."""
    frame = frames.dataset_frame(store) if frame is None else frame
    frame = frame.dropna(subset=["percent_doodled"])
    fig = Figure(figsize=(5.5, 5.5), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(frame["megapixels"], frame["percent_doodled"], color="black")
    for row in frame.itertuples():
        ax.annotate(_panel_title(row.dataset, row.task, frame), (row.megapixels,
                    row.percent_doodled), xytext=(4, 4), textcoords="offset points")
    if len(frame) and frame["megapixels"].min() > 0:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels crowd a short decade
    ax.set_xlabel("Millions of pixels labeled")
    ax.set_ylabel("Percentage of pixels annotated by a human")
    return fig


def images_by_lat_and_lon(store: LabelStore | None = None, *,
                          frame: pd.DataFrame | None = None, bins: int = 20) -> Figure:
    frame = frames.location_frame(store) if frame is None else frame
    fig = Figure(figsize=(12, 6), layout="constrained")
    lat_ax, lon_ax = fig.subplots(1, 2)
    lat_ax.hist(frame["lat"], bins=bins, weights=frame["images"], orientation="horizontal",
                edgecolor="white")
    lat_ax.set(xlabel="Number of images", ylabel="Latitude")
    lat_ax.set_title("A)", loc="left")
    lon_ax.hist(frame["lon"], bins=bins, weights=frame["images"], edgecolor="white")
    lon_ax.set(xlabel="Longitude", ylabel="Number of images")
    lon_ax.set_title("B)", loc="left")
    return fig


def density_map(store: LabelStore | None = None, *, frame: pd.DataFrame | None = None,
                gridsize: int = 60) -> Figure:
    """A hexbin map of image density over a land and sea background (works offline)."""
    from matplotlib.colors import LogNorm

    frame = frames.location_frame(store) if frame is None else frame
    fig, ax = _map_axes(frame)
    if len(frame):
        cells = ax.hexbin(frame["lon"], frame["lat"], C=frame["images"],
                          reduce_C_function=np.sum, gridsize=gridsize, cmap="Blues",
                          norm=LogNorm(), mincnt=1, transform=_plate_carree(), zorder=2)
        fig.colorbar(cells, ax=ax, shrink=0.6, label="Number of Images")
    return fig


def location_map(store: LabelStore | None = None, *, satellite: bool | None = None,
                 frame: pd.DataFrame | None = None) -> Figure:
    """Image locations, a marker per dataset; ``satellite`` picks satellite or aerial ones."""
    frame = frames.location_frame(store) if frame is None else frame
    if satellite is not None:
        frame = frame[frame["satellite"] == satellite]
    fig, ax = _map_axes(frame)
    for k, (dataset, rows) in enumerate(frame.groupby("dataset")):
        ax.scatter(rows["lon"], rows["lat"], marker=MARKERS[k % len(MARKERS)], s=90,
                   label=dataset, transform=_plate_carree(), zorder=3)
    if len(frame):  # beside the map: inside, it hides whatever lies in its corner
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def class_proportions(store: LabelStore | None = None, view: str | None = None, *,
                      frame: pd.DataFrame | None = None) -> Figure:
    """The share of mask pixels in each class, one panel per dataset (and task)."""
    frame = frames.class_pixel_frame(store, view) if frame is None else frame
    return _panels(frame.assign(percent=100 * frame["proportion"]), "class", "percent",
                   xlabel="Class Label", ylabel="Percentage of labeled pixels")


SHOWN_AGREEMENT = ("alpha", "kappa", "f1", "iou", "coasttrain_iou")


def labeler_agreement(store: LabelStore | None = None, *,
                      frame: pd.DataFrame | None = None) -> Figure:
    """Agreement where labelers labeled the same images: alpha (all) and kappa (pairs) of
    tags, F1 of matched shapes, IoU of masks per class and over images (Coast Train's)."""
    frame = frames.agreement_frame(store) if frame is None else frame
    frame = frame[frame["measure"].isin(SHOWN_AGREEMENT)]
    frame = frame.assign(what=[
        ("all" if a is None else f"{a}-{b}") + (f" {c}" if isinstance(c, str) else "") +
        f" {m}" for a, b, c, m in zip(frame["labeler_a"], frame["labeler_b"], frame["class"],
                                      frame["measure"])])
    fig = _panels(frame, "what", "value", xlabel="Labelers (measure)", ylabel="Agreement")
    for ax in fig.axes:  # kappa can be below zero
        ax.set_ylim(min([0.0] + [p.get_height() for p in ax.patches]), 1)
    return fig


def labeler_accuracy_on_gold(store: LabelStore | None = None, *,
                             frame: pd.DataFrame | None = None) -> Figure:
    """Each labeler's accuracy on the gold images of each task (tags answered right,
    F1 of shapes, mean IoU of masks)."""
    frame = frames.gold_frame(store) if frame is None else frame
    frame = frame.assign(dataset="gold images", what=frame["labeler"] + " " + frame["kind"])
    fig = _panels(frame, "what", "accuracy", xlabel="Labeler (label kind)",
                  ylabel="Accuracy on gold")
    for ax in fig.axes:
        ax.set_ylim(0, 1)
    return fig


def images_per_split(store: LabelStore | None = None, task: str | None = None, *,
                     frame: pd.DataFrame | None = None) -> Figure:
    """Images (and images containing each class) in train, val and test."""
    frame = frames.split_frame(store, task) if frame is None else frame
    table = frame.pivot_table(index="class", columns="split", values="images", fill_value=0)
    table = table[[c for c in ("train", "val", "test") if c in table.columns]]
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.add_subplot()
    table.plot.bar(ax=ax, rot=45)
    ax.set(xlabel="Class Label", ylabel="Number of images", title=task or "")
    return fig


FIGURES = {
    "Num_images_per_datarecord_containing_class": images_per_class,
    "Num_images_per_datarecord_containing_superclass": images_per_class,
    "NumLabel_all_datarecords_per_superlabel": images_per_class_overall,
    "Label_per_datarecord_per_ID": images_per_labeler,
    "Label_all_datarecords_per_ID": images_per_labeler_overall,
    "Label_all_million_pixels_datarecords_per_ID": megapixels_per_labeler,
    "Million_pixels_vs_percentage_doodled": megapixels_vs_doodled,
    "All_imagery_by_lat_and_lon": images_by_lat_and_lon,
    "Heatmap_all_imagery": density_map,
    "Map_orthomosaic_imagery": location_map,
    "Map_satellite_imagery": location_map,
    "Class_pixel_proportions_per_datarecord": class_proportions,
    "Labeler_agreement_per_datarecord": labeler_agreement,
    "Labeler_accuracy_on_gold": labeler_accuracy_on_gold,
}
SUPERCLASS_FIGURES = ("Num_images_per_datarecord_containing_superclass",
                      "NumLabel_all_datarecords_per_superlabel")


def save_figures(store: LabelStore, folder: str | Path, view: str | None = None,
                 dpi: int = 150) -> list[Path]:
    """Write every figure as PNG under its Coast Train name; returns the paths.

    The super-class figures need ``view`` (a class view from ``store.remap``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, function in FIGURES.items():
        if name in SUPERCLASS_FIGURES:
            if view is None:
                continue
            fig = function(store, view)
        elif name.startswith("Map_"):
            fig = function(store, satellite=name == "Map_satellite_imagery")
        else:
            fig = function(store)
        fig.savefig(folder / f"{name}.png", dpi=dpi, bbox_inches="tight")
        written.append(folder / f"{name}.png")
    return written


# -- layout helpers ------------------------------------------------------------------------
def _panels(frame: pd.DataFrame, x: str, y: str, *, xlabel: str, ylabel: str,
            rotate: bool = True) -> Figure:
    groups = list(frame.groupby(["dataset", "task"], sort=True))
    columns = 2 if len(groups) > 1 else 1
    rows = max(1, math.ceil(len(groups) / columns))
    fig = Figure(figsize=(8 * columns, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for k, (ax, ((dataset, task), panel)) in enumerate(zip(axes, groups)):
        ax.bar(panel[x].astype(str), panel[y], **BAR)
        ax.set_title(f"{_letter(k)}) {_panel_title(dataset, task, frame)}", loc="left")
        ax.set(xlabel=xlabel, ylabel=ylabel)
        if rotate:
            ax.tick_params(axis="x", labelrotation=45)
            for tick in ax.get_xticklabels():
                tick.set_horizontalalignment("right")
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    if not groups:
        axes[0].set_visible(True)
        axes[0].text(0.5, 0.5, "no labels yet", ha="center", va="center",
                     transform=axes[0].transAxes)
    return fig


def _bars(values: pd.Series, *, xlabel: str, ylabel: str, rotate: bool = False) -> Figure:
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.bar([str(v) for v in values.index], values.to_numpy(), color="tab:blue")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if rotate:
        ax.tick_params(axis="x", labelrotation=45)
    return fig


def _complete(frame: pd.DataFrame, column: str, values: list, y: str) -> pd.DataFrame:
    """Every value on every panel's axis, zero where absent, as the reference does."""
    index = pd.MultiIndex.from_product([frame[["dataset", "task"]].drop_duplicates()
                                        .apply(tuple, axis=1), values])
    counts = frame.set_index(["dataset", "task", column])[y]
    rows = [(d, t, v, counts.get((d, t, v), 0)) for (d, t), v in index]
    return pd.DataFrame(rows, columns=["dataset", "task", column, y])


def _panel_title(dataset: str, task: str, frame: pd.DataFrame) -> str:
    """The dataset's name, with the task's when a dataset has several."""
    tasks = frame.loc[frame["dataset"] == dataset, "task"].nunique()
    return dataset if tasks <= 1 else f"{dataset}: {task}"


def _letter(k: int) -> str:
    return chr(ord("A") + k) if k < 26 else str(k + 1)


def _natural(text: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text))]


def _plate_carree():
    import cartopy.crs as ccrs

    return ccrs.PlateCarree()


def _map_axes(frame: pd.DataFrame):
    """A map around the data on cartopy's bundled Natural Earth image: no download.

    Coastlines are drawn too when Natural Earth's shapefiles are already on disk.
    """
    import cartopy

    fig = Figure(figsize=(14, 6.5), layout="constrained")
    ax = fig.add_subplot(projection=_plate_carree())
    if len(frame):
        lon0, lon1 = frame["lon"].min(), frame["lon"].max()
        lat0, lat1 = frame["lat"].min(), frame["lat"].max()
        pad = max(1.0, 0.08 * max(lon1 - lon0, lat1 - lat0))
        ax.set_extent([max(-180, lon0 - pad), min(180, lon1 + pad),
                       max(-90, lat0 - pad), min(90, lat1 + pad)], crs=_plate_carree())
    else:
        ax.set_global()
    ax.stock_img()
    shapefiles = Path(cartopy.config["data_dir"]) / "shapefiles" / "natural_earth" / "physical"
    if (shapefiles / "ne_50m_coastline.shp").exists():
        ax.coastlines(resolution="50m", linewidth=0.8)
    gridlines = ax.gridlines(draw_labels=True, color="gray", alpha=0.5)
    gridlines.top_labels = gridlines.right_labels = False
    return fig, ax
