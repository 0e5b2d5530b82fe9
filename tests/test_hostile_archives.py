"""Hostile and careless archives and exports: unpacked and written whole or not at all."""

from pathlib import Path

import numpy as np
from PIL import Image

from geolabel_widgets import LabelStore
from geolabel_widgets.cli import main

from tests.conftest import files_under


def download_zip(path: Path, extra: dict[str, int] | None = None) -> Path:
    """An Image Labeler download as a zip: an event with two present and two not present
    images; ``extra`` adds members of that many zero bytes, streamed."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for k, folder in enumerate(["present", "present", "not_present", "not_present"]):
            image = io.BytesIO()
            Image.fromarray(np.full((8, 8, 3), 50 * k, np.uint8)).save(image, "PNG")
            archive.writestr(f"flood/{folder}/chip_{k}.png", image.getvalue())
        for name, length in (extra or {}).items():
            with archive.open(name, "w", force_zip64=True) as entry:
                block = bytes(2**20)
                for start in range(0, length, len(block)):
                    entry.write(block[:length - start])
    return path


def import_download(archive: Path, store: Path, *more: str) -> int:
    return main(["import", "imagelabeler", str(archive), "--store", str(store), *more])


def test_an_archive_that_unpacks_far_past_its_size_is_refused_and_nothing_stays(
        tmp_path, monkeypatch, capsys):
    from geolabel_widgets.formats import safety

    monkeypatch.setattr(safety, "UNPACK_BOMB_BYTES", 4 * 2**20)  # 1 GiB scaled down
    archive = download_zip(tmp_path / "dl.zip", {"flood/present/zeros.bin": 40 * 2**20})
    assert archive.stat().st_size < 2**20
    store = tmp_path / "store.sqlite"
    assert import_download(archive, store) == 1
    assert "past the limit of 4,194,304 bytes for an archive of" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl.zip", "store.sqlite"]
    with LabelStore.open(store) as opened:
        assert opened.images.empty


def test_an_archive_whose_member_is_damaged_leaves_no_half_unpacked_folder(tmp_path,
                                                                            capsys):
    archive = download_zip(tmp_path / "dl.zip")
    data = bytearray(archive.read_bytes())
    start = data.index(b"flood/not_present/chip_3.png") + len("flood/not_present/chip_3.png")
    data[start + 40:start + 60] = bytes(20)  # inside the last member's compressed bytes
    archive.write_bytes(bytes(data))
    store = tmp_path / "store.sqlite"
    assert import_download(archive, store) == 1
    assert "member 'flood/not_present/chip_3.png' is damaged" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl.zip", "store.sqlite"]


def test_unpacking_onto_a_full_disk_says_so_and_leaves_nothing(tmp_path):
    """A real write failure: the unpacking process may write files of at most 64 kB."""
    import resource
    import signal
    import subprocess
    import sys

    archive = download_zip(tmp_path / "dl.zip", {"flood/present/zeros.bin": 2**20})

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**16, 2**16))

    store = tmp_path / "store.sqlite"
    with LabelStore.open(store):
        pass  # made here, so that the store's own file is not what hits the limit
    run = subprocess.run([sys.executable, "-m", "geolabel_widgets.cli", "import",
                          "imagelabeler", str(archive), "--store", str(store)],
                         capture_output=True, text=True, preexec_fn=small_disk, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "cannot write member 'flood/present/zeros.bin'" in run.stderr
    assert "File too large" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl.zip", "store.sqlite"]


def test_an_existing_folder_is_never_unpacked_into_or_through(tmp_path, capsys):
    """A folder where the archive would go, holding a link to the user's files."""
    archive = download_zip(tmp_path / "dl.zip")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "chip_0.png").write_text("the user's own file")
    target = tmp_path / "dl"
    (target / "flood").mkdir(parents=True)
    (target / "flood" / "present").symlink_to(mine)
    store = tmp_path / "store.sqlite"
    assert import_download(archive, store) == 1
    assert f"{target} already exists and is not an earlier unpacking of this archive" in \
        capsys.readouterr().err
    assert (mine / "chip_0.png").read_text() == "the user's own file"
    assert sorted(p.name for p in mine.iterdir()) == ["chip_0.png"]


def test_an_archive_imported_again_reads_its_earlier_unpacking(tmp_path):
    archive = download_zip(tmp_path / "dl.zip")
    store = tmp_path / "store.sqlite"
    assert import_download(archive, store) == 0
    unpacked = files_under(tmp_path / "dl")
    assert import_download(archive, store) == 0  # the same files, not a copy
    assert files_under(tmp_path / "dl") == unpacked
    with LabelStore.open(store) as opened:
        assert len(opened.images) == 4
        assert all(Path(p).is_relative_to(tmp_path / "dl") for p in opened.images["uri"])


def test_an_export_refuses_an_existing_destination_unless_told_to_overwrite(tmp_path,
                                                                             capsys):
    archive = download_zip(tmp_path / "dl.zip")
    store = tmp_path / "store.sqlite"
    assert import_download(archive, store) == 0
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    export = ["export", "folder", str(dest), "--store", str(store)]
    assert main(export) == 1
    assert f"{dest} already exists; pass --overwrite" in capsys.readouterr().err
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]
    assert main([*export, "--overwrite"]) == 0  # replaced whole, not merged into
    assert not (dest / "notes.txt").exists() and (dest / "labels.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl", "dl.zip", "out",
                                                          "store.sqlite"]


def test_an_export_killed_midway_leaves_nothing_that_reads_as_an_export(tmp_path, capsys):
    import os
    import signal
    import subprocess
    import sys
    import time

    images = tmp_path / "images"
    images.mkdir()
    for k in range(300):
        Image.fromarray(np.full((64, 64, 3), k % 250, np.uint8)).save(images / f"c{k}.png")
    store = tmp_path / "store.sqlite"
    with LabelStore.open(store) as opened:
        ids = opened.add_images(images, dataset="chips", progress=False)
        opened.add_task("t", type="tag", classes=["a", "b"])
        for image_id in ids:
            opened.tag(image_id, "a", task="t", labeler="ann")
    dest = tmp_path / "out"
    export = subprocess.Popen([sys.executable, "-m", "geolabel_widgets.cli", "export",
                               "folder", str(dest), "--store", str(store)])
    deadline = time.monotonic() + 60
    while not any(len(files_under(p)) > 5 for p in tmp_path.glob(".out.partial-*")):
        assert export.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(export.pid, signal.SIGKILL)
    export.wait()
    assert not dest.exists()  # half an export is never where a whole one would be
    assert main(["import", "folder", str(dest), "--store", str(tmp_path / "again.sqlite")]) == 1
    assert f"no folder or image file at {dest}" in capsys.readouterr().err
