"""The demo dataset: SYNTHETIC coastal scenes along real coastlines.

Every scene is drawn by this module from a fixed seed (water, surf, sand,
vegetation, buildings, with texture), so the demo works offline and is the
same on every machine. The datasets, their descriptions and the notebooks
say "synthetic" wherever they appear: none of this is real imagery.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from rasterio.enums import ColorInterp
from affine import Affine
from PIL import Image
from pyproj import CRS, Transformer
from scipy.ndimage import binary_erosion, gaussian_filter, zoom
from shapely.geometry import LineString
from tqdm.auto import tqdm

from .store import LabelStore

try:
    import fcntl
except ImportError:  # Windows: one build at a time is the user's to keep
    fcntl = None

SEED = 20221124
SIZE = 256
SEGMENTATION_TASK = "Coastal land cover (synthetic demo)"
EVENT_TASK = "Sediment plume present? (synthetic demo)"
# The zones a scene is drawn from, in order from sea to land.
ZONES = ("water", "surf", "sand", "vegetation", "buildings")
ZONE_COLORS = {"water": "#1f5fa8", "surf": "#e8f4f8", "sand": "#d8c08c",
               "vegetation": "#3b7d3a", "buildings": "#8a8a8a"}


@dataclass(frozen=True)
class DemoDataset:
    name: str
    sensor: str
    site: str
    coast: tuple[tuple[float, float], ...]  # lon, lat along a real coastline
    pixel_m: float
    count: int
    file_format: str  # jpg, png or tif (4-band uint16 GeoTIFF)
    classes: dict[str, str]  # zone -> the dataset's own class name
    labelers: tuple[str, ...]


DATASETS = (
    DemoDataset("NAIP Cape Canaveral FL (synthetic)", "NAIP (simulated)", "Cape Canaveral, FL",
                ((-80.70, 28.85), (-80.59, 28.62), (-80.54, 28.45), (-80.61, 28.30),
                 (-80.56, 28.07)), 1.0, 70, "jpg",
                {"water": "water", "surf": "whitewater", "sand": "sediment",
                 "vegetation": "vegetated_surface", "buildings": "development"},
                ("ID1", "ID2", "ID3")),
    DemoDataset("Sentinel-2 Outer Banks NC (synthetic)", "Sentinel-2 (simulated)",
                "Outer Banks, NC",
                ((-75.67, 36.05), (-75.53, 35.85), (-75.46, 35.60), (-75.52, 35.25)), 10.0, 60,
                "tif",
                {"water": "water", "surf": "whitewater", "sand": "sediment",
                 "vegetation": "vegetation", "buildings": "development"},
                ("ID2", "ID4")),
    DemoDataset("Orthomosaic Sandwich MA (synthetic)", "UAS orthomosaic (simulated)",
                "Sandwich, MA", ((-70.56, 41.765), (-70.50, 41.772), (-70.44, 41.755)), 0.1, 60,
                "jpg",
                {"water": "water", "surf": "water", "sand": "sand", "vegetation": "vegetated",
                 "buildings": "buildings"},
                ("ID1", "ID5")),
    DemoDataset("Landsat-8 Washington coast (synthetic)", "Landsat-8 (simulated)",
                "Grays Harbor to Long Beach, WA",
                ((-124.16, 47.05), (-124.11, 46.85), (-124.07, 46.60), (-124.06, 46.35)),
                30.0, 50, "png",
                {"water": "water", "surf": "whitewater", "sand": "sediment",
                 "vegetation": "vegetation", "buildings": "development"},
                ("ID3", "ID4")),
)
EVENT = DemoDataset("Sediment plumes, Louisiana (synthetic event)", "MODIS-like (simulated)",
                    "Mississippi River Delta, LA",
                    ((-90.40, 29.10), (-89.90, 29.05), (-89.40, 29.15), (-89.05, 29.60)),
                    250.0, 60, "jpg", {}, ("ann", "ben"))


def default_store_path() -> Path:
    default = Path.home() / ".cache" / "geolabel_widgets" / "demo" / "demo.sqlite"
    return Path(os.environ.get("GEOLABEL_DEMO_STORE", default))


def demo_store(path: str | os.PathLike | None = None, progress: bool = True) -> LabelStore:
    """Open the demo store (``$GEOLABEL_DEMO_STORE`` by default), building it once if needed."""
    path = Path(path or default_store_path()).absolute()
    _build_once(path, progress)
    return LabelStore.open(path)


def demo_images(dataset: str = "Sentinel-2 Outer Banks NC (synthetic)") -> Path:
    """The folder of one demo dataset's image files, drawn with the demo store if need be.

    The default dataset is the georeferenced one: 4-band GeoTIFFs with their CRS.
    """
    names = [d.name for d in (*DATASETS, EVENT)]
    if dataset not in names:
        raise ValueError(f"no demo dataset {dataset!r}; there are {names}")
    path = default_store_path().absolute()
    _build_once(path, progress=True)
    return path.with_name(path.stem + "_images") / _slug(dataset)


def _build_once(path: Path, progress: bool) -> None:
    """Build the demo store unless it is there; kernels (or test workers) that ask at
    once wait for the first one's build instead of drawing over it."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            build_demo(path, progress=progress)


def build_demo(path: str | os.PathLike, progress: bool = True) -> Path:
    """Draw the demo images beside ``path`` and write the demo store there.

    The store appears under its final name only once complete, so an
    interrupted build is simply redone.
    """
    path = Path(path).absolute()
    folder = path.parent
    partial = path.with_name(path.name + ".part")
    for leftover in folder.glob(partial.name + "*"):
        leftover.unlink()
    store = LabelStore.open(partial, mask_dir=path.with_name(path.stem + "_masks"))
    store.add_task(SEGMENTATION_TASK, type="semantic_segmentation",
                   classes=list(dict.fromkeys(c for d in DATASETS for c in d.classes.values())),
                   description="Label every pixel of the synthetic coastal scenes.")
    store.add_dataset(EVENT.name, site=EVENT.site, sensor=EVENT.sensor, synthetic=True)
    store.add_group("Sediment plume events (synthetic)", [EVENT.name])
    store.add_task(EVENT_TASK, type="tag", classes=["present", "not present"],
                   group="Sediment plume events (synthetic)",
                   description="Does the synthetic scene show a sediment plume?")
    rng = np.random.default_rng(SEED)
    scenes = [(d, k) for d in (*DATASETS, EVENT) for k in range(d.count)]
    by_dataset: dict[str, list] = {}
    for dataset, k in tqdm(scenes, desc="Drawing synthetic scenes", disable=not progress):
        by_dataset.setdefault(dataset.name, []).append(
            _write_scene(folder / f"{path.stem}_images", dataset, k, rng))
    for dataset in (*DATASETS, EVENT):
        store.add_dataset(dataset.name, site=dataset.site, sensor=dataset.sensor,
                          source="geolabel_widgets.demo", synthetic=True,
                          description=f"SYNTHETIC demo scenes drawn along the real coast near "
                                      f"{dataset.site}; not real imagery.")
        records = pd.DataFrame(by_dataset[dataset.name])
        store.add_images(records.drop(columns=["truth", "plume"]), dataset=dataset.name,
                         progress=False)
        records["image_id"] = store.last_ingest.row_ids
        _label(store, dataset, records, rng)
    store.close()
    os.replace(partial, path)
    return path


def add_doodled_scenes(store: LabelStore, folder: str | os.PathLike, count: int, *,
                       size: int = SIZE, task: str = "doodled scenes (synthetic)",
                       labeler: str = "doodler", seed: int = SEED) -> dict[str, np.ndarray]:
    """``count`` synthetic scenes as PNG files in ``folder``, each with simulated
    doodles stored as ``labeler``'s in ``task`` (made if need be, classes ZONES).
    Returns every image id's true zones, for scoring what the doodles predict."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if task not in store.tasks.index:
        store.add_task(task, type="semantic_segmentation", classes=list(ZONES))
    rng = np.random.default_rng(seed)
    drawn = []
    for k in range(count):
        image, truth = coastal_scene(rng, size)
        path = folder / f"scene_{k:04d}.png"
        Image.fromarray(image).save(path)
        drawn.append((path, truth, simulate_doodles(truth, rng)))
    ids = store.add_images([str(path) for path, _, _ in drawn], dataset=folder.name,
                           progress=False)
    with store.transaction():
        for image_id, (_, _, doodles) in zip(ids, drawn):
            store.add_mask(image_id, doodles, task=task, labeler=labeler, kind="doodles")
    return {image_id: truth for image_id, (_, truth, _) in zip(ids, drawn)}


def _write_scene(images: Path, dataset: DemoDataset, k: int, rng) -> dict:
    scene_rng = np.random.default_rng(rng.integers(2**63))
    plume = dataset is EVENT and scene_rng.random() < 0.45
    rgb, truth = coastal_scene(scene_rng, SIZE, plume=plume)
    lon, lat = _along(dataset.coast, (k + 0.5) / dataset.count)
    crs = _utm(lon, lat)
    x, y = _project(crs, lon, lat)
    half = SIZE * dataset.pixel_m / 2
    transform = Affine(dataset.pixel_m, 0, x - half, 0, -dataset.pixel_m, y + half)
    folder = images / _slug(dataset.name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"scene_{k:03d}.{dataset.file_format}"
    if dataset.file_format == "tif":
        _write_geotiff(path, rgb, crs, transform, scene_rng)
    else:
        Image.fromarray(rgb).save(path, quality=90)  # quality is ignored for PNG
    return dict(path=str(path), crs=crs.to_wkt(), transform=list(transform)[:6],
                acquired_at=pd.Timestamp("2021-06-01", tz="UTC") + pd.Timedelta(days=int(k * 3)),
                truth=truth, plume=plume)


def _write_geotiff(path: Path, rgb: np.ndarray, crs: CRS, transform: Affine, rng) -> None:
    """Four 16-bit bands (blue, green, red, near-infrared) scaled like reflectance."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    nir = np.clip(0.3 * r + 1.2 * g - 0.5 * b + rng.normal(0, 4, r.shape), 0, 255)
    bands = np.stack([b, g, r, nir]) * 12 + 300
    with rasterio.open(path, "w", driver="GTiff", width=rgb.shape[1], height=rgb.shape[0],
                       count=4, dtype="uint16", crs=crs, transform=transform,
                       compress="deflate", tiled=True, blockxsize=128, blockysize=128) as dst:
        dst.write(bands.astype(np.uint16))
        dst.colorinterp = [ColorInterp.blue, ColorInterp.green, ColorInterp.red,
                           ColorInterp.undefined]


def coastal_scene(rng: np.random.Generator, size: int = SIZE, plume: bool | float = False
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic scene and its true zone per pixel (indices into ZONES); ``plume``
    lays a sediment plume on the water (a number: how strongly, 0 to 1; True: 0.7)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    across = np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)
    along = -np.sin(angle) * (xx - 0.5) + np.cos(angle) * (yy - 0.5)
    wiggle = (0.06 * np.sin(along * rng.uniform(4, 10) + rng.uniform(0, 6))
              + _noise(rng, size, 12) * 0.08)
    d = across - rng.uniform(-0.55, 0.3) + wiggle  # signed distance from the shoreline
    surf_w, sand_w = rng.uniform(0.02, 0.05), rng.uniform(0.08, 0.2)
    truth = np.select([d < 0, d < surf_w, d < surf_w + sand_w], [0, 1, 2], default=3)
    density = 0.55 if rng.random() < 0.6 else 2.0  # many scenes have no buildings
    blocks = (_noise(rng, size, 10) > density) & (d > surf_w + sand_w + 0.08)
    blocks &= (((xx * size) // 9 + (yy * size) // 9) % 3 != 0)  # streets between buildings
    truth = np.where(blocks, 4, truth).astype(np.uint8)

    texture = _noise(rng, size, 3)
    base = np.array([_hex(ZONE_COLORS[z]) for z in ZONES], dtype=np.float32)
    rgb = base[truth]
    depth = np.clip(-d * 3, 0, 1)[..., None]
    rgb = np.where((truth == 0)[..., None], rgb * (1 - 0.45 * depth), rgb)
    waves = 0.5 + 0.5 * np.sin(across * size * 0.9 + texture * 3)
    rgb[truth == 0] += (waves[truth == 0, None] * 18)
    rgb[truth == 1] -= (_noise(rng, size, 2)[truth == 1, None] * 40)
    rgb[truth == 3] *= (0.75 + 0.5 * _noise(rng, size, 6)[truth == 3, None])
    rgb += rng.normal(0, 6, rgb.shape) + texture[..., None] * 10
    if plume:
        cloud = np.clip(_noise(rng, size, 20) * 1.6 - 0.4, 0, 1) * (truth == 0)
        strength = 0.7 if plume is True else float(plume)
        rgb = (rgb * (1 - cloud[..., None] * strength)
               + np.array([150, 110, 60]) * cloud[..., None] * strength)
    return np.clip(rgb, 0, 255).astype(np.uint8), truth


def simulate_doodles(truth: np.ndarray, rng: np.random.Generator, strokes: int = 3,
                     width: int = 3) -> np.ndarray:
    """Sparse brush strokes inside each true region, as a person doodles them.

    Coast Train convention: 0 is "not doodled", k is class k-1.
    """
    doodles = np.zeros_like(truth, dtype=np.uint8)
    for cls in np.unique(truth):
        inside = binary_erosion(truth == cls, iterations=width + 2)
        ys, xs = np.nonzero(inside)
        if len(ys) == 0:
            continue
        for _ in range(strokes):
            i = rng.integers(len(ys))
            y, x = float(ys[i]), float(xs[i])
            heading = rng.uniform(0, 2 * np.pi)
            for _ in range(40):
                heading += rng.normal(0, 0.3)
                y2, x2 = y + 2 * np.sin(heading), x + 2 * np.cos(heading)
                if not (0 <= y2 < truth.shape[0] and 0 <= x2 < truth.shape[1]) \
                        or not inside[int(y2), int(x2)]:
                    break
                y, x = y2, x2
                doodles[max(0, int(y) - width // 2):int(y) + width // 2 + 1,
                        max(0, int(x) - width // 2):int(x) + width // 2 + 1] = cls + 1
    return doodles


def _label(store: LabelStore, dataset: DemoDataset, records: pd.DataFrame, rng) -> None:
    """Earlier labelers' work: masks and doodles, or present / not present tags."""
    for k, record in enumerate(records.itertuples()):
        labeler = dataset.labelers[k % len(dataset.labelers)]
        if dataset is EVENT:
            if k < 40:
                answer = "present" if record.plume else "not present"
                store.tag(record.image_id, answer, task=EVENT_TASK, labeler=labeler)
                if k % 4 == 0:  # a second opinion, which sometimes disagrees
                    other = dataset.labelers[(k + 1) % len(dataset.labelers)]
                    flip = rng.random() < 0.2
                    second = {"present": "not present", "not present": "present"}[answer] \
                        if flip else answer
                    store.tag(record.image_id, second, task=EVENT_TASK, labeler=other)
            continue
        if k >= int(len(records) * 0.7):
            continue  # the rest is left for the demo's user to label
        # Each dataset has its own class set, as each Coast Train record does.
        classes = list(dict.fromkeys(dataset.classes.values()))
        to_dataset = np.array([classes.index(dataset.classes[z]) for z in ZONES], np.uint8)
        mask = to_dataset[record.truth]
        doodles = simulate_doodles(mask, rng)
        store.add_mask(record.image_id, doodles, task=SEGMENTATION_TASK, labeler=labeler,
                       kind="doodles", classes=classes)
        store.add_mask(record.image_id, mask, task=SEGMENTATION_TASK, labeler=labeler,
                       classes=classes)


def _noise(rng, size: int, sigma: float) -> np.ndarray:
    """Smooth noise in 0..1; broad fields are made small and scaled up (same look, faster)."""
    step = 4 if sigma >= 8 else 1
    field = gaussian_filter(rng.normal(size=(size // step, size // step)), sigma / step,
                            mode="wrap")
    if step > 1:
        field = zoom(field, step, order=1)
    field -= field.min()
    return (field / (field.max() or 1)).astype(np.float32)


def _along(coast, fraction: float) -> tuple[float, float]:
    point = LineString(coast).interpolate(fraction, normalized=True)
    return point.x, point.y


def _utm(lon: float, lat: float) -> CRS:
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _project(crs: CRS, lon: float, lat: float) -> tuple[float, float]:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)


def _hex(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()
