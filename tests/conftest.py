import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geolabel_widgets import LabelStore

SHARED_DATA = Path(os.environ.get("GEOLABEL_SHARED_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))


def pytest_addoption(parser):
    parser.addoption("--soak", action="store_true",
                     help="run the long versions of the concurrency, kill and fuzz tests")


def pytest_configure(config):
    """Hypothesis's cases per fuzzed reader: 50 (derandomized, so the same every run),
    ten times as many with --soak."""
    from hypothesis import settings

    settings.register_profile("run", max_examples=50)
    settings.register_profile("soak", max_examples=500)
    settings.load_profile("soak" if config.getoption("--soak") else "run")


def pytest_collection_modifyitems(config, items):
    """The slow tests first, so that with workers (-n) none starts last and runs alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def soak(request) -> bool:
    """Whether to run a long version (scripts/test.sh --soak), not one sized to show the
    property."""
    return request.config.getoption("--soak")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (a user's clone has none)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory) -> Path:
    """The test run's demo store ($GEOLABEL_DEMO_STORE, which scripts/test.sh sets, so
    the notebooks, the browser tests and these share one build), built once by
    whichever worker asks first. Tests read it; one that writes labels takes a copy."""
    from geolabel_widgets import demo

    path = Path(os.environ.get("GEOLABEL_DEMO_STORE")
                or tmp_path_factory.getbasetemp().parent / "demo" / "demo.sqlite")
    demo.demo_store(path, progress=False).close()
    return path


def copy_demo(demo_path: Path, folder: Path) -> Path:
    """A store of its own with the demo's rows and masks (its images stay shared)."""
    copy = folder / "demo.sqlite"
    shutil.copyfile(demo_path, copy)
    shutil.copytree(demo_path.with_name(demo_path.stem + "_masks"),
                    copy.with_name(copy.stem + "_masks"))
    return copy


@pytest.fixture
def demo_copy(demo_path, tmp_path) -> Path:
    return copy_demo(demo_path, tmp_path)


@pytest.fixture(scope="session")
def dask_cluster() -> str:
    """A LocalCluster of two single-threaded worker processes; its scheduler's address,
    as a user would give a real cluster's."""
    from geolabel_widgets.batch import local_cluster

    with local_cluster(2) as cluster:
        yield cluster.scheduler_address


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc):
    """Tests marked ``both_backends`` run on SQLite and on PostgreSQL; the rest on
    SQLite."""
    both = metafunc.definition.get_closest_marker("both_backends") is not None
    if both and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def new_target(backend, tmp_path, request):
    """Where a new store goes: a file in tmp_path, or a new database on the test server."""
    def make(name: str = "labels"):
        if backend == "sqlite":
            return tmp_path / f"{name}.sqlite"
        return request.getfixturevalue("postgres").new_database()
    return make


@pytest.fixture
def store(new_target, backend, tmp_path) -> LabelStore:
    """A new store; masks in a folder beside a SQLite file, in the database on a server."""
    masks = tmp_path / "masks" if backend == "sqlite" else None
    with LabelStore.open(new_target(), mask_dir=masks) as opened:
        yield opened


def write_images(folder: Path, count: int, size=(64, 48), seed=0) -> list[Path]:
    """Small distinct JPEG and PNG files, in a subfolder too."""
    rng = np.random.default_rng(seed)
    paths = []
    for k in range(count):
        sub = folder / ("sub" if k % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        path = sub / f"img_{k:03d}.{'png' if k % 2 else 'jpg'}"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "images"
    write_images(folder, 6)
    return folder


@pytest.fixture
def event(store, image_folder):
    """A store with six images of one event and a present / not present task: (store, ids)."""
    ids = store.add_images(image_folder, dataset="event", progress=False)
    store.add_task("flood")
    return store, ids


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the test run (started here, stopped at the end)."""
    from postgres import PostgresServer

    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres) -> str:
    """An empty database of its own on that server."""
    return postgres.new_database()


def files_under(folder: Path) -> set[Path]:
    """Every file in a folder, at any depth."""
    return {p for p in folder.rglob("*") if p.is_file()}
