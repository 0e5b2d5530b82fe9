"""Veda releases: tar.gz or folder, georeferenced or in pixels, and unsafe archives."""

import io
import json
import tarfile

import pytest
from PIL import Image

from formats_helpers import MULTI, SHAPES, labeled_store, snapshot
from geolabel_widgets import LabelStore
from geolabel_widgets.formats import FormatError, read_veda, write_veda


def _kept(store, task, kinds):
    kept = snapshot(store, kinds=kinds, task=task)
    kept["statuses"] = []  # a release has no statuses
    return kept


def _without_statuses(store):
    got = snapshot(store)
    got["statuses"] = []
    return got


def test_a_segmentation_release_round_trips_through_tar_gz(tmp_path):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.add_task("objects", type="semantic_segmentation", classes=["water", "sand"])
    for source in store.get_annotations(task=SHAPES, kinds=["polygon", "box"]).itertuples():
        store.annotate(source.image_id, source.geometry, source.value, task="objects",
                       labeler=source.labeler, kind="polygon")
    release = write_veda(store, tmp_path / "objects-1.0.0.tar.gz", task="objects",
                         progress=False)
    with tarfile.open(release) as tar:
        names = tar.getnames()
    assert {"objects-1.0.0/meta.json", "objects-1.0.0/bounds.geojson",
            "objects-1.0.0/images/1.tif", "objects-1.0.0/labels/2.json"} <= set(names)
    kept = _kept(store, "objects", ["polygon"])
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_veda(again, release, extract_to=tmp_path / "unpacked", progress=False)
        assert _without_statuses(again) == kept
        geo = again.images[again.images["name"] == "scene_0.tif"].iloc[0]
        assert geo["crs"] and not geo["file_missing"]  # a GeoTIFF, still georeferenced
        write_veda(again, tmp_path / "again", task="objects", progress=False)
    with LabelStore.open(tmp_path / "c.sqlite") as third:
        read_veda(third, tmp_path / "again", progress=False)
        assert _without_statuses(third) == kept
    store.close()


def test_a_classification_release_round_trips(tmp_path):
    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    write_veda(store, tmp_path / "release", task=MULTI, progress=False)
    meta = json.loads((tmp_path / "release" / "meta.json").read_text())
    assert meta["mlType"] == "classification" and meta["classes"] == ["sand", "water", "road"]
    label = json.loads((tmp_path / "release" / "labels" / "1.json").read_text())
    assert label["properties"]["label"] == {"sand": 1, "water": 1, "road": 0}
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        read_veda(again, tmp_path / "release", progress=False)
        assert _without_statuses(again) == _kept(store, MULTI, ["tag"])
    store.close()


def test_a_release_in_pixels_without_georeference_reads(tmp_path):
    root = tmp_path / "ts_104-1.0.1"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    Image.new("RGB", (64, 32)).save(root / "images" / "tile_0.tif")
    (root / "labels" / "tile_0.json").write_text(json.dumps({"geometry": {}, "properties": {
        "label": {"building": [{"type": "Polygon",
                                "coordinates": [[[1, 1], [9, 1], [9, 5], [1, 5], [1, 1]]]}],
                  "car": []}}}))
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        read_veda(store, tmp_path, progress=False)
        [row] = store.annotations.itertuples()
        assert row.value == "building" and row.geometry.bounds == (1, 1, 9, 5)
        assert store.classes("ts_104-1.0.1") == ["building", "car"]


def _tarball(path, member: tarfile.TarInfo, data: bytes = b""):
    with tarfile.open(path, "w:gz") as tar:
        good = tarfile.TarInfo("release/labels/1.json")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"{}"))
        tar.addfile(member, io.BytesIO(data) if data else None)
    return path


def _member(name, kind=tarfile.REGTYPE, target=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    info.size = 4 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize("member, message", [
    (_member("release/../../escaped.txt"), "outside the archive"),
    (_member("/tmp/absolute.txt"), "absolute path"),
    (_member("release/images/1.tif", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
    (_member("release/images/2.tif", tarfile.LNKTYPE, "release/labels/1.json"), "is a link"),
])
def test_an_unsafe_tarball_is_refused_and_writes_nothing(tmp_path, member, message):
    archive = _tarball(tmp_path / "bad.tar.gz", member,
                       b"evil" if member.type == tarfile.REGTYPE else b"")
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        with pytest.raises(FormatError, match=message):
            read_veda(store, archive, progress=False)
        assert len(store.images) == 0 and len(store.tasks) == 0
    assert not (tmp_path / "bad").exists() and not (tmp_path.parent / "escaped.txt").exists()


def test_a_malformed_label_is_named_and_the_unpacked_folder_goes(tmp_path):
    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    write_veda(store, tmp_path / "release", task=MULTI, progress=False)
    store.close()
    (tmp_path / "release" / "labels" / "1.json").write_text('{"properties": {"label": 3}}')
    with tarfile.open(tmp_path / "broken.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "release", arcname="release")
    with LabelStore.open(tmp_path / "b.sqlite") as target:
        with pytest.raises(FormatError, match=r"1\.json: properties.label is not an object"):
            read_veda(target, tmp_path / "broken.tar.gz", progress=False)
        assert len(target.images) == 0
    assert not (tmp_path / "broken").exists()


def test_a_damaged_archive_is_a_clear_error_and_leaves_nothing(tmp_path):
    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    write_veda(store, tmp_path / "release.tar.gz", task=SHAPES, progress=False)
    store.close()
    good = (tmp_path / "release.tar.gz").read_bytes()
    with LabelStore.open(tmp_path / "b.sqlite") as target:
        for k in range(1, 32):  # a stretch of the gzip stream zeroed, here and there
            data = bytearray(good)
            at = len(data) * k // 32
            data[at:at + 16] = bytes(16)
            (tmp_path / "damaged.tar.gz").write_bytes(bytes(data))
            with pytest.raises(FormatError, match="damaged|not a readable"):
                read_veda(target, tmp_path / "damaged.tar.gz", progress=False)
            assert len(target.images) == 0
            assert not (tmp_path / "damaged").exists()
