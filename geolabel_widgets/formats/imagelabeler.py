"""NASA IMPACT's Image Labeler: its labeled datasets, one folder per Earth-science event
with its images in ``yes/`` and ``no/`` (present, not present; FORMATS_REAL.md 4), and
its "download all", a shapefile folder per event shape (``imagelabeler_shapes``).

We also write ``unlabeled/`` and an ``images.csv`` per event (``filename, status,
labeler, tagged_at, lon_min, lat_min, lon_max, lat_max, event``) so that our downloads
come back whole, and read the ``present/``, ``not_present/`` layout FORMATS.md once
adopted. An event is a dataset, a dataset group of its own and a tag task (present /
not present) over that group, all named after the event.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from shapely.geometry import box
from tqdm.auto import tqdm

from ..store import LabelStore
from ..store.ingest import path_of
from .atomic import unpacked, whole_or_nothing
from .imagelabeler_shapes import (EVENTS_TASK, footprint_from_name, parse_event,
                                  shapefile_events, write_events)
from .records import LABEL_COLUMNS, Parsed, current_labels, write_records
from .registry import Format
from .safety import (MAX_CSV_BYTES, FormatError, check_size, csv_safe, csv_text, file_name,
                     folder_name, inside, is_number)

FOLDERS = {"present": "yes", "not present": "no", "unlabeled": "unlabeled"}  # written
READ_FOLDERS = {"yes": "present", "present": "present", "no": "not present",
                "not_present": "not present", "unlabeled": "unlabeled"}
COLUMNS = ["filename", "status", "labeler", "tagged_at", "lon_min", "lat_min", "lon_max",
           "lat_max"]
BOUNDS = COLUMNS[4:]
CLASSES = ["present", "not present"]


def read_imagelabeler(store: LabelStore, source: str | os.PathLike, *,
                      dataset: str | None = None, labeler: str = "imagelabeler",
                      extract_to: str | os.PathLike | None = None,
                      progress: bool = True) -> list[str]:
    """Import a download (a ``.zip`` or a folder), every event in it. ``dataset``
    renames the event when there is one."""
    source = Path(source)
    if source.is_file():
        with unpacked(source, extract_to or source.with_suffix("")) as folder:
            return read_imagelabeler(store, folder, dataset=dataset, labeler=labeler,
                                     progress=progress)
    parsed = parse_imagelabeler(source, labeler=labeler, rename=dataset)
    return write_records(store, parsed, progress=progress)


def parse_imagelabeler(folder: Path, *, labeler: str, rename: str | None = None) -> Parsed:
    if not folder.is_dir():
        raise FileNotFoundError(f"no Image Labeler download at {folder}")
    events = [folder] if _is_event(folder) else sorted(
        p for p in folder.iterdir() if p.is_dir() and _is_event(p))
    shapes = [] if events else shapefile_events(folder)
    if not events and not shapes:
        raise FormatError(f"{folder}: no event folder (yes/ and no/, present/, "
                          "not_present/, unlabeled/ or images.csv) and no event shapefiles: "
                          "not an Image Labeler dataset or download (a plain folder of "
                          "images imports as 'folder')")
    if rename and len(events) > 1:
        raise FormatError(f"{folder}: {len(events)} events; --dataset names only one")
    images, labels, tasks, groups = [], [], {}, {}
    for event in events:
        table = _table(event, labeler)
        named = table["event"].dropna() if "event" in table.columns else []
        name = rename or (str(named.iloc[0]) if len(named) else event.name)
        for row in table.itertuples():
            key = f"{name}/{row.folder}/{row.filename}"
            image = {"key": key, "uri": str(event / row.folder / row.filename),
                     "name": Path(row.filename).name, "dataset": name, "geometry": None,
                     "acquired_at": row.acquired_at}
            if all(is_number(getattr(row, c)) for c in BOUNDS):
                image["geometry"] = box(row.lon_min, row.lat_min, row.lon_max, row.lat_max)
            elif row.footprint is not None:
                image["geometry"] = row.footprint
            images.append(image)
            if row.status != "unlabeled":
                labels.append((key, name, row.labeler, "tag", row.status, None, None))
        tasks[name] = {"type": "tag", "classes": CLASSES, "group": name}
        groups[name] = [name]
    phenomena = []
    for shp in shapes:
        image, rows = parse_event(shp, labeler)
        images.append({**image, "dataset": rename or folder.name})
        labels += rows
        phenomena += [r[4] for r in rows]
    if shapes:
        tasks[EVENTS_TASK] = {"type": "instance_segmentation",
                              "classes": list(dict.fromkeys(phenomena))}
    datasets = {image["dataset"] for image in images}
    return Parsed(images=pd.DataFrame(images).set_index("key"), tasks=tasks, groups=groups,
                  labels=pd.DataFrame(labels, columns=LABEL_COLUMNS),
                  datasets={n: {"source": "imagelabeler"} for n in datasets})


def _is_event(folder: Path) -> bool:
    return (folder / "images.csv").is_file() or any((folder / f).is_dir()
                                                   for f in READ_FOLDERS)


def _table(event: Path, labeler: str) -> pd.DataFrame:
    """The event's images (``images.csv``, checked, or what its folders hold), each with
    the folder it is in and the footprint and time its name gives."""
    csv = event / "images.csv"
    if not csv.is_file():
        rows = [(p.name, status, labeler if status != "unlabeled" else None)
                for sub, status in READ_FOLDERS.items() if (event / sub).is_dir()
                for p in sorted((event / sub).iterdir()) if p.is_file()]
        table = pd.DataFrame(rows, columns=COLUMNS[:3]).reindex(columns=COLUMNS)
    else:
        table = _csv(csv)
    table["folder"] = [_folder_of(event, row.status, row.filename, csv)
                       for row in table.itertuples()]
    named = [footprint_from_name(name) for name in table["filename"]]
    table["footprint"] = [f for f, _ in named]
    table["acquired_at"] = [t for _, t in named]
    table["labeler"] = table["labeler"].where(table["labeler"].notna(), labeler)
    for column in BOUNDS:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    return table


def _csv(csv: Path) -> pd.DataFrame:
    check_size(csv, MAX_CSV_BYTES, "images.csv")
    try:
        table = pd.read_csv(csv, dtype={"filename": str, "status": str, "labeler": str})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise FormatError(f"{csv}: not a readable CSV ({err})") from None
    missing = [c for c in COLUMNS[:2] if c not in table.columns]
    if missing:
        raise FormatError(f"{csv}: missing column(s) {', '.join(missing)}")
    table = table.reindex(columns=[*COLUMNS, *(["event"] if "event" in table.columns else [])])
    for column in ("filename", "labeler", "event"):
        if column in table.columns:
            table[column] = csv_text(table[column])
    for line, row in zip(range(2, len(table) + 2), table.itertuples()):
        if row.status not in FOLDERS:
            raise FormatError(f"{csv} line {line}: status {row.status!r} is not one of "
                              f"{', '.join(FOLDERS)}")
        if not isinstance(row.filename, str) or Path(row.filename).name != row.filename:
            raise FormatError(f"{csv} line {line}: filename {row.filename!r} is not a plain "
                              "file name")
    return table


def _folder_of(event: Path, status: str, filename: str, csv: Path) -> str:
    for sub, meaning in READ_FOLDERS.items():
        if meaning == status and (event / sub / filename).is_file():
            return sub
    raise FormatError(f"{csv}: {filename} ({status}) is in none of its folders")


@whole_or_nothing
def write_imagelabeler(store: LabelStore, dest: str | os.PathLike, *,
                       task: str | list[str] | None = None,
                       statuses=("present", "not present", "unlabeled"),
                       image_ids=None, progress: bool = True) -> Path:
    """Write a download: every tag task (bulk), one or several (``task``), only some
    ``statuses``, or a chosen list of ``image_ids``; a folder, or a zip when ``dest``
    ends in ``.zip``. An image's status is its latest tag, by anyone. The event shapes
    of "Image Labeler events" go out as shapefile folders in ``downloaded_layers/``."""
    dest = Path(dest)
    tasks = [task] if isinstance(task, str) else list(task or store.tasks.index[
        (store.tasks["type"] == "tag") | (store.tasks.index == EVENTS_TASK)])
    unknown = set(statuses) - set(FOLDERS)
    if unknown:
        raise FormatError(f"statuses are {', '.join(FOLDERS)}; not {sorted(unknown)}")
    if dest.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / dest.stem
            _write_events(store, folder, tasks, statuses, image_ids, progress)
            shutil.make_archive(str(dest.with_suffix("")), "zip", folder)
        return dest
    _write_events(store, dest, tasks, statuses, image_ids, progress)
    return dest


def _write_events(store, folder: Path, tasks, statuses, image_ids, progress) -> None:
    images = store.images
    if EVENTS_TASK in store.tasks.index and EVENTS_TASK in tasks:
        write_events(current_labels(store, EVENTS_TASK, kinds=("polygon",)),
                     folder / "downloaded_layers")
    for task in tasks:
        if store.tasks.loc[task, "type"] != "tag":
            continue
        ids = store.queue(task, None, status=None, image_ids=image_ids)
        tags = store.get_annotations(task=task, kinds=["tag"]).sort_values("created_at")
        latest = tags.groupby("image_id").last()
        event = folder / folder_name(task)
        rows, used = [], set()
        for image_id in tqdm(ids, desc=f"Writing {task}", disable=not progress):
            tag = latest.loc[image_id] if image_id in latest.index else None
            status = "unlabeled" if tag is None else tag["value"]
            if status not in statuses:
                continue
            image = images.loc[image_id]
            source = path_of(image["uri"])
            if source is None or not source.exists():
                raise FormatError(f"{image['name']}: its file {image['uri']} is not here "
                                  "to export")
            name = file_name(image["name"])  # a stored name is never a path
            if name in used:
                name = f"{image_id[:12]}_{name}"  # two images of one name in one event
            used.add(name)
            target = inside(event, FOLDERS[status], name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            bounds = image["geometry"].bounds if image["geometry"] is not None else [None] * 4
            rows.append([name, status, None if tag is None else tag["labeler"],
                         None if tag is None else tag["created_at"].isoformat(), *bounds,
                         task])
        event.mkdir(parents=True, exist_ok=True)
        table = pd.DataFrame(rows, columns=[*COLUMNS, "event"])
        csv_safe(table).to_csv(event / "images.csv", index=False)


FORMAT = Format("imagelabeler", read=read_imagelabeler, write=write_imagelabeler,
                parse=parse_imagelabeler, exports="any tasks")
