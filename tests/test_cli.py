"""The geolabel command, as a user runs it."""

import json
import subprocess
import sys

import pytest
import shapely

from conftest import write_images
from geolabel_widgets import LabelStore
from geolabel_widgets.cli import main

SUBCOMMANDS = ["demo", "stats", "import", "export", "plots", "store"]


def geolabel(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geolabel_widgets.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    result = geolabel(command, "--help")
    assert result.returncode == 0
    assert f"usage: geolabel {command}" in result.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_import_a_folder_then_stats_as_json(tmp_path):
    folder = tmp_path / "shots"
    paths = write_images(folder, 4)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    store_path = tmp_path / "s.sqlite"
    result = geolabel("import", "folder", folder, "--store", store_path)
    assert result.returncode == 0, result.stderr
    assert "4 images (4 new), 1 skipped" in result.stdout
    assert "broken.jpg" in result.stdout
    with LabelStore.open(store_path) as store:
        store.add_task("flood")
        ids = store.queue("flood", "ann")
        store.tag(ids[0], "present", task="flood", labeler="ann")
        store.tag(ids[1], "not present", task="flood", labeler="bob")
    stats = json.loads(geolabel("stats", "--store", store_path, "--json").stdout)
    assert stats == {"images": 4, "annotations": 2, "labelers": {"ann": 1, "bob": 1},
                     "datasets": {"shots": {"images": 4, "labelers": {"ann": 1, "bob": 1},
                                            "classes": {"present": 1, "not present": 1}}}}
    assert len(paths) == 4


def test_export_a_folder_sorts_images_by_their_tag(tmp_path):
    paths = write_images(tmp_path / "in", 3)
    with LabelStore.open(tmp_path / "s.sqlite") as store:
        ids = store.add_images(paths, dataset="ev/../x", progress=False)
        store.add_task("flood")
        store.tag(ids[0], "present", task="flood", labeler="ann")
        store.tag(ids[1], "not present", task="flood", labeler="ann")
    result = geolabel("export", "folder", tmp_path / "out", "--store", tmp_path / "s.sqlite",
                      "--task", "flood")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == sorted(["labels.csv", f"ev_.._x/present/{paths[0].name}",
                              f"ev_.._x/not present/{paths[1].name}",
                              f"ev_.._x/unlabeled/{paths[2].name}"])


def test_a_missing_store_is_a_clear_error(tmp_path):
    result = geolabel("stats", "--store", tmp_path / "nope.sqlite")
    assert result.returncode == 1
    assert "no store at" in result.stderr and "Traceback" not in result.stderr


def test_demo_build_only_makes_the_store(tmp_path):
    result = geolabel("demo", "--store", tmp_path / "demo.sqlite", "--build-only")
    assert result.returncode == 0, result.stderr
    assert "synthetic" in result.stdout
    assert (tmp_path / "demo.sqlite").exists()


def test_demo_serves_the_quickstart_in_jupyterlab(demo_copy):
    """On a built store (building it is the test above's): the command becomes JupyterLab."""
    import re
    import time
    import urllib.error
    import urllib.request

    from browser.harness import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "geolabel_widgets.cli", "demo", "--store", str(demo_copy),
         "--no-browser", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        token, seen = None, []
        deadline = time.monotonic() + 180
        while token is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
            assert "No such file" not in line, line
            found = re.search(rf"127\.0\.0\.1:{port}/lab\?token=(\w+)", line)
            token = found and found.group(1)
        url = f"http://127.0.0.1:{port}/api/contents/00_quickstart.ipynb?token={token}"
        for _ in range(60):  # the banner can come just before the port is open
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    assert response.status == 200
                    return
            except urllib.error.URLError:
                time.sleep(0.5)
        raise AssertionError(f"JupyterLab never answered at {url}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        # the command became JupyterLab: stopping it left no server behind on the port
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=5)


def test_import_coasttrain_twice_keeps_or_replaces_and_says_what_changed(tmp_path, capsys):
    header = ("image_filename,classes_array,classes_present_array,ImageHeightPx,ImageWidthPx,"
              "doodle_spatial_density\n")
    record = tmp_path / "X_test_meta.csv"
    record.write_text(header + "a_ID1.jpg,\"'water', 'sand'\",\"'water'\",4,4,0.5\n")
    store = str(tmp_path / "s.sqlite")
    assert main(["import", "coasttrain", str(record), "--store", store]) == 0
    assert "2 labels added" in capsys.readouterr().out  # a tag and the doodle row
    record.write_text(header + "a_ID1.jpg,\"'water', 'sand'\",\"'sand'\",4,4,0.5\n")
    assert main(["import", "coasttrain", str(record), "--store", store, "--keep"]) == 0
    assert "1 labels added, 0 replaced, 1 kept, 1 unchanged" in capsys.readouterr().out
    assert main(["import", "coasttrain", str(record), "--store", store, "--replace"]) == 0
    assert "0 labels added, 1 replaced, 0 kept, 2 unchanged" in capsys.readouterr().out
    with LabelStore.open(store) as opened:
        assert list(opened.annotations.query("kind == 'tag'")["value"]) == ["sand"]
    assert main(["import", "folder", str(tmp_path), "--store", store, "--keep"]) == 1
    assert "--keep and --replace do not apply to folder imports" in capsys.readouterr().err


def test_the_real_coast_train_records_import_and_stats_match_the_csvs(shared_data, tmp_path):
    from coasttrain_truth import METADATA, read_csvs_independently

    store = tmp_path / "coasttrain.sqlite"
    for path in sorted(METADATA.glob("*.csv")):
        assert main(["import", "coasttrain", str(path), "--store", str(store)]) == 0
    stats = json.loads(geolabel("stats", "--store", store, "--json").stdout)
    truth = read_csvs_independently()
    assert sorted(stats["datasets"]) == sorted(truth) and len(truth) == 10
    for record, counts in truth.items():
        got = stats["datasets"][record]
        assert got["images"] == sum(counts["labelers"].values()), record
        assert got["labelers"] == dict(counts["labelers"]), record
        assert got["classes"] == dict(counts["classes"]), record


@pytest.mark.parametrize("fmt, task, file_name", [
    ("geojson", None, "labels.geojson"), ("geoparquet", None, "labels.parquet"),
    ("coco", "land cover", "coco.json"), ("veda", "what is there", "release.tar.gz"),
    ("imagelabeler", None, "download.zip"), ("s3label", None, "s3label.db"),
])
def test_export_then_import_every_format_from_the_command_line(tmp_path, fmt, task, file_name):
    from formats_helpers import labeled_store

    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.close()
    dest = tmp_path / file_name
    task_args = ["--task", task] if task else []
    result = geolabel("export", fmt, dest, "--store", tmp_path / "a.sqlite", *task_args)
    assert result.returncode == 0, result.stderr
    result = geolabel("import", fmt, dest, "--store", tmp_path / "b.sqlite")
    assert result.returncode == 0, result.stderr
    with LabelStore.open(tmp_path / "b.sqlite") as again:
        assert len(again.images) > 0 and len(again.get_annotations()) > 0


def test_a_format_error_is_one_clear_line(tmp_path):
    from formats_helpers import labeled_store

    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.close()
    result = geolabel("export", "datagym", tmp_path / "dg.json", "--store", tmp_path / "a.sqlite",
                      "--task", "land cover")
    assert result.returncode == 1
    assert result.stderr.strip() == ("geolabel export: class 'sand' of 'land cover' holds "
                                     "image_segmentation and point shapes; a DataGym class has "
                                     "one geometry type")
    result = geolabel("export", "geojson", tmp_path / "x.geojson", "--store",
                      tmp_path / "a.sqlite", "--task", "nope")
    assert result.returncode == 1 and "no task named 'nope'" in result.stderr


def test_a_record_imports_with_its_remap_file_as_a_class_view(shared_data, tmp_path):
    from coasttrain_truth import METADATA

    store = tmp_path / "ct.sqlite"
    for record, remap in [("A_naip_meta_served.csv", "remap_coast_train_classes_naip.json"),
                          ("C_s2_meta_served.csv", None)]:
        extra = ["--remap", str(shared_data / "coasttrain" / "remap" / remap)] if remap else []
        assert main(["import", "coasttrain", str(METADATA / record), "--store", str(store),
                     *extra]) == 0
    with LabelStore.open(store) as opened:
        aliases = opened.view_aliases("superclasses")
        assert list(aliases) == ["A_naip"] and aliases["A_naip"]["surf"] == "whitewater"


def test_export_takes_the_only_task_and_names_them_when_there_are_several(tmp_path, capsys):
    from formats_helpers import SHAPES, labeled_store

    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    tasks = list(store.tasks.index)
    store.close()
    assert main(["export", "coco", str(tmp_path / "x.json"), "--store",
                 str(tmp_path / "a.sqlite")]) == 1
    error = capsys.readouterr().err
    assert f"a coco export is of one task and the store has {len(tasks)}: give --task" in error
    assert all(repr(t) in error for t in tasks)
    with LabelStore.open(tmp_path / "b.sqlite") as one:
        [image] = one.add_images(tmp_path / "files" / "photos", dataset="photos",
                                 progress=False)[:1]
        one.add_task(SHAPES, type="instance_segmentation", classes=["water"])
        one.annotate(image, shapely.box(1, 1, 5, 5), "water", task=SHAPES, labeler="ann")
    assert main(["export", "coco", str(tmp_path / "y.json"), "--store",
                 str(tmp_path / "b.sqlite")]) == 0
    document = json.loads((tmp_path / "y.json").read_text())
    assert document["info"]["geolabel_task"] == SHAPES and len(document["annotations"]) == 1


def test_every_formats_declaration_is_what_its_functions_take():
    """The CLI reads each module's FORMAT, never the functions' signatures: so each
    record must say exactly what its read_<name> / write_<name> take."""
    import inspect

    from geolabel_widgets.formats import FORMATS, READ, WRITE
    from geolabel_widgets.formats.registry import EXPORT_OPTIONS, IMPORT_OPTIONS

    for name, declared in FORMATS.items():
        assert declared.name == name
        assert (declared.read is not None) == (name in READ), name
        assert (declared.write is not None) == (name in WRITE), name
        if declared.read is not None:
            assert declared.read.__name__ == f"read_{name}"
            taken = set(inspect.signature(declared.read).parameters)
            assert taken & IMPORT_OPTIONS == declared.import_options, name
        if declared.write is not None:
            assert declared.write.__name__ == f"write_{name}"
            parameters = inspect.signature(declared.write).parameters
            assert set(parameters) & EXPORT_OPTIONS == declared.export_options, name
            task = parameters.get("task")
            exports = "the store" if task is None else "one task" if \
                task.default is inspect.Parameter.empty else "any tasks"
            assert declared.exports == exports, name
        if declared.parse is not None:
            assert declared.parse.__name__.startswith("parse_"), name


@pytest.mark.parametrize("command, says", [
    (["import", "coco", "x.json", "--keep"], "--keep and --replace do not apply to coco imports"),
    (["import", "geojson", "x.geojson", "--crs", "EPSG:4326"],
     "--crs does not apply to geojson imports"),
    (["export", "coco", "x.json", "--for-import"], "--for-import does not apply to coco exports"),
    (["export", "s3label", "x.db", "--task", "t"],
     "a s3label export holds the whole store: --task does not apply"),
])
def test_an_option_a_format_does_not_take_is_refused_before_the_store_opens(
        command, says, tmp_path, capsys):
    store = tmp_path / "never.sqlite"
    assert main([*command, "--store", str(store)]) == 1
    assert says in capsys.readouterr().err
    assert not store.exists()
