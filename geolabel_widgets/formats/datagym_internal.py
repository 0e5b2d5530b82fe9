"""DataGym's internal model (a project's ``LabelTasks.json``, a task as its front end
holds it) as the export's objects, the way DataGym's exporter makes them
(FORMATS_REAL.md 2): entry values become geometries and classifications, children
nest, invalid entries are left out. Coordinates stay floats, where the exporter would
truncate them."""

from __future__ import annotations

from .safety import FormatError

GEOMETRY_TYPES = ("POINT", "LINE", "POLYGON", "RECTANGLE", "IMAGE_SEGMENTATION")
ENUM_ORDER = ("POINT", "LINE", "POLYGON", "IMAGE_SEGMENTATION", "RECTANGLE", "SELECT",
              "CHECKLIST", "FREETEXT")


def is_internal_task(item) -> bool:
    return isinstance(item, dict) and isinstance(item.get("labelIteration"), dict)


def label_classes(tasks: list[dict]) -> list[dict]:
    """Every entry of the tasks' label configurations, nested ones too, in the enum
    order the exporter sorts them in."""
    entries = {}

    def walk(items):
        for entry in items or []:
            if isinstance(entry, dict) and isinstance(entry.get("entryKey"), str):
                entries.setdefault(entry["entryKey"], str(entry.get("type", "")).upper())
                walk(entry.get("children"))

    for task in tasks:
        config = task.get("labelConfig")
        walk(config.get("entries") if isinstance(config, dict) else None)
    order = sorted(entries.items(), key=lambda kv: ENUM_ORDER.index(kv[1])
                   if kv[1] in ENUM_ORDER else len(ENUM_ORDER))
    return [{"class_name": key, "geometry_type": kind.lower()}
            if kind in GEOMETRY_TYPES and kind != "IMAGE_SEGMENTATION"
            else {"class_name": key, "classification_type": kind.lower()}
            for key, kind in order]


def export_task(task: dict, where: str) -> dict:
    """One internal task as an export task object (with the media's URL on the side)."""
    media = task.get("media") if isinstance(task.get("media"), dict) else {}
    name = media.get("mediaName")
    if not isinstance(name, str):
        raise FormatError(f"{where}: its media has no mediaName")
    values = task["labelIteration"].get("entryValues") or []
    if not isinstance(values, list):
        raise FormatError(f"{where}: labelIteration.entryValues is not a list")
    labels, classifications = _entries(values, where)
    return {"internal_media_ID": str(media.get("id") or name), "external_media_ID": name,
            "labeler": None, "status": str(task.get("labelTaskState", "")).lower(),
            "global_classifications": classifications, "labels": labels,
            "media_url": media.get("url") if isinstance(media.get("url"), str) else None}


def _entries(values: list, where: str) -> tuple[dict, dict]:
    """(geometries by class key, classifications by key) of valid entry values."""
    geometries: dict = {}
    classifications: dict = {}
    for entry in values:
        if not isinstance(entry, dict) or not entry.get("valid", True):
            continue
        kind = str(entry.get("entryTypeLcEntry", "")).upper()
        key = entry.get("entryKeyLcEntry")
        if not isinstance(key, str):
            raise FormatError(f"{where}: an entry value has no entryKeyLcEntry")
        if kind in GEOMETRY_TYPES:
            item = {kind.lower(): _coordinates(kind, entry, where)}
            nested, own = _entries(entry.get("children") or [], where)
            if own:
                item["classifications"] = own
            if nested:
                item["nested_geometries"] = nested
            geometries.setdefault(key, []).append(item)
        else:
            value = _classification(kind, entry)
            nested, children = _entries(entry.get("children") or [], where)
            if children:
                value.append(children)
            if value:
                classifications[key] = value
    return geometries, classifications


def _classification(kind: str, entry: dict) -> list:
    if kind == "SELECT":
        chosen = entry.get("selectKey")
        return [chosen] if isinstance(chosen, str) else []
    if kind == "CHECKLIST":
        checked = entry.get("checkedValues")
        return [c for c in checked if isinstance(c, str)] if isinstance(checked, list) else []
    if kind == "FREETEXT":
        text = entry.get("text")
        return [text] if isinstance(text, str) else []
    return []


def _coordinates(kind: str, entry: dict, where: str) -> list:
    def xy(point):
        if not isinstance(point, dict):
            raise FormatError(f"{where}: a point of {entry.get('entryKeyLcEntry')!r} is not "
                              "an object with x and y")
        return {"x": point.get("x"), "y": point.get("y")}

    if kind == "RECTANGLE":
        corner = xy(entry.get("point"))
        return [{**corner, "w": entry.get("width"), "h": entry.get("height")}]
    if kind == "POINT":
        return [xy(entry.get("point"))]
    if kind == "IMAGE_SEGMENTATION":
        rings = entry.get("pointsCollection") or []
        return [[xy(p) for p in ring] for ring in rings if isinstance(ring, list)]
    return [xy(p) for p in entry.get("points") or []]
