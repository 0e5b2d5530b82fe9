"""Fuzzing every reader with mutated versions of valid files (hypothesis).

A reader may refuse a file, with its own clear error (``StoreError``, of which
``FormatError`` is one, or ``UnreadableImage`` for an image file), but never crash
otherwise and never leave a partly written store. How many cases ran, and how each
ended, is written to ``test-artifacts/fuzz_counts.json``.
"""

import copy
import json
import shutil
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formats_helpers import MULTI, SHAPES, labeled_store
from geolabel_widgets import LabelStore, StoreError
from geolabel_widgets.formats import FormatError
from geolabel_widgets.formats import (read_coasttrain, read_coco, read_datagym, read_geojson,
                                      read_imagelabeler, read_s3label, read_veda, write_coasttrain,
                                      write_coco, write_datagym, write_geojson,
                                      write_imagelabeler, write_s3label, write_veda)
from geolabel_widgets.imagery.header import UnreadableImage

CLEAR = (StoreError, UnreadableImage)
COUNTS: dict[str, Counter] = {}
ARTIFACT = Path(__file__).resolve().parents[1] / "test-artifacts" / "fuzz_counts.json"
# as many cases as the run's profile says (conftest.py: 50, or 500 with --soak)
FUZZ = settings(deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


def _paths(document, here=()):
    """Every place in a JSON document a value can be replaced."""
    yield here
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths(value, here + (key,))
    elif isinstance(document, list):
        for k, value in enumerate(document):
            yield from _paths(value, here + (k,))


def _replace(document, path, value):
    if not path:
        return value
    out = copy.deepcopy(document)
    parent = out
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return out


@st.composite
def json_mutants(draw, document):
    """The document with one to three of its values (or keys' values) replaced."""
    for _ in range(draw(st.integers(1, 3))):
        places = list(_paths(document))
        document = _replace(document, draw(st.sampled_from(places)), draw(JSON_VALUES))
    return document


@st.composite
def byte_mutants(draw, data: bytes):
    """The bytes with a few overwritten, a run deleted, or the end cut off."""
    data = bytearray(data)
    how = draw(st.sampled_from(["flip", "cut", "truncate"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif how == "cut":
        start = draw(st.integers(0, len(data) - 1))
        del data[start:start + draw(st.integers(1, 64))]
    else:
        del data[draw(st.integers(0, len(data) - 1)):]
    return bytes(data)


def _attempt(name: str, folder: Path, read, source, **options) -> None:
    """Read ``source`` into a new store: done, or refused clearly with nothing written."""
    path = folder / f"fuzz-{sum(COUNTS.get(name, Counter()).values())}.sqlite"
    counts = COUNTS.setdefault(name, Counter())
    with LabelStore.open(path) as store:
        try:
            read(store, source, progress=False, **options)
            counts["imported"] += 1
        except CLEAR:
            counts["refused"] += 1
            assert len(store.images) == 0 and len(store.tasks) == 0
            assert len(store.datasets) == 0 and len(store.labelers) == 0
            assert len(store.get_annotations(history=True)) == 0
    for leftover in folder.glob(path.name + "*"):
        leftover.unlink()
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps({k: dict(v) for k, v in sorted(COUNTS.items())}, indent=1))


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """One valid file of every format, written from the same labeled store."""
    folder = tmp_path_factory.mktemp("valid")
    store, _ = labeled_store(folder / "a.sqlite", folder / "files")
    with pytest.warns(UserWarning):
        write_coco(store, folder / "coco.json", task=SHAPES)
        write_s3label(store, folder / "s3label.db")
    write_geojson(store, folder / "labels.geojson")
    with pytest.raises(FormatError, match="'sand'.*one geometry type"):
        write_datagym(store, folder / "datagym.json", task=SHAPES)  # points and polygons
    from test_formats_datagym import EXPORT

    (folder / "datagym.json").write_text(json.dumps(EXPORT))
    write_veda(store, folder / "release", task=MULTI, progress=False)
    write_imagelabeler(store, folder / "download", progress=False)
    masks = store.images.index[:2]
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    for image_id in masks:
        h, w = store.images.loc[image_id, ["height", "width"]]
        store.add_mask(image_id, (np.arange(h * w).reshape(h, w) % 2).astype(np.uint8),
                       task="cover", labeler="ID1")
    write_coasttrain(store, folder / "record", task="cover", progress=False)
    store.close()
    return folder


def _fuzz_file(name: str, path: Path, mutants, read, source, folder: Path, **options):
    """Write each mutant over ``path`` and read ``source``; then put the file back."""
    original = path.read_bytes()

    @FUZZ
    @given(mutant=mutants)
    def check(mutant):
        path.write_bytes(mutant if isinstance(mutant, bytes) else mutant.encode())
        _attempt(name, folder, read, source, **options)

    check()
    path.write_bytes(original)
    assert sum(COUNTS[name].values()) >= FUZZ.max_examples


def _json(path: Path):
    return json_mutants(json.loads(path.read_text())).map(json.dumps)


@pytest.mark.parametrize("name, read", [("labels.geojson", read_geojson),
                                        ("coco.json", read_coco),
                                        ("datagym.json", read_datagym)])
def test_json_readers_take_mutated_files(valid, tmp_path, name, read):
    path = tmp_path / name
    shutil.copy(valid / name, path)
    options = {} if read is read_geojson else {"images_dir": valid / "files"} \
        if read is read_coco else {"images_dir": valid / "files" / "photos"}
    _fuzz_file(name, path, _json(path), read, path, tmp_path, **options)


def test_veda_takes_mutated_labels_and_archives(valid, tmp_path):
    release = tmp_path / "release"
    shutil.copytree(valid / "release", release)
    label = release / "labels" / "1.json"
    _fuzz_file("veda labels", label, _json(label), read_veda, release, tmp_path)
    archive = tmp_path / "release.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(release, arcname="release")

    def read_and_clean(store, source, **options):
        try:
            return read_veda(store, source, **options)
        except CLEAR:
            assert not (tmp_path / "release_unpacked").exists()  # a failed import leaves none
            raise
        finally:
            shutil.rmtree(tmp_path / "release_unpacked", ignore_errors=True)

    _fuzz_file("veda archive", archive, byte_mutants(archive.read_bytes()), read_and_clean,
               archive, tmp_path, extract_to=tmp_path / "release_unpacked")


CELLS = st.sampled_from(["", "n/a", "na", "-1", "0", "1e309", "'water'", "x" * 40,
                         "'a', 'b'", "\"quoted, comma\"", "[1, 2]", "../../etc/passwd",
                         "/abs/path.jpg", "present", "not present", "unlabeled", "ID"])


@st.composite
def csv_mutants(draw, text: str):
    """The CSV with a few cells replaced (or a line dropped)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()) and len(rows) > 2:
            del rows[draw(st.integers(0, len(rows) - 1))]
            continue
        r = draw(st.integers(0, len(rows) - 1))
        if rows[r]:
            rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(CELLS)
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def test_coasttrain_takes_mutated_csvs_and_npz_files(valid, tmp_path):
    record = tmp_path / "record"
    shutil.copytree(valid / "record", record)
    csv_path = next(record.glob("*.csv"))
    _fuzz_file("coasttrain csv", csv_path, csv_mutants(csv_path.read_text()), read_coasttrain,
               record, tmp_path)
    npz = next((record / "npz").glob("*.npz"))
    _fuzz_file("coasttrain npz", npz, byte_mutants(npz.read_bytes()), read_coasttrain, record,
               tmp_path)


def test_imagelabeler_takes_mutated_csvs(valid, tmp_path):
    download = tmp_path / "download"
    shutil.copytree(valid / "download", download)
    csv_path = next(download.glob("*/images.csv"))
    _fuzz_file("imagelabeler csv", csv_path, csv_mutants(csv_path.read_text()),
               read_imagelabeler, download, tmp_path)


def test_s3label_takes_mutated_rows(valid, tmp_path):
    columns = [("label_history", "label_serialised"), ("label_tasks", "label_classes"),
               ("label_tasks", "type"), ("labels", "input_data_id"),
               ("input_data", "data_path"), ("users_label_tasks", "label_task_id")]

    @FUZZ
    @given(column=st.sampled_from(columns), value=JSON_VALUES.map(json.dumps) | CELLS)
    def check(column, value):
        database = tmp_path / "s3label.db"
        shutil.copy(valid / "s3label.db", database)
        engine = sa.create_engine(f"sqlite:///{database}")
        table, name = column
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")  # as an older copy
            # one row, in raw text as another program may write it (not JSON-encoded)
            conn.execute(sa.text(f"UPDATE {table} SET {name} = :value WHERE rowid = "
                                 f"(SELECT min(rowid) FROM {table})"), {"value": value})
        engine.dispose()
        _attempt("s3label", tmp_path, read_s3label, database)

    check()
    assert sum(COUNTS["s3label"].values()) >= FUZZ.max_examples
