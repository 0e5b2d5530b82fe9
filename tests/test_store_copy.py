"""`geolabel store copy`: a whole store from SQLite to PostgreSQL and back, nothing lost."""

import numpy as np
import pytest
import sqlalchemy as sa

from formats_helpers import SHAPES, TAGS, labeled_store
from geolabel_widgets import LabelStore
from geolabel_widgets.cli import main
from geolabel_widgets.store import schema as s

pytestmark = pytest.mark.both_backends


def _tables(store: LabelStore) -> dict:
    """Every row of every table but store_info, sorted: what a copy must keep."""
    with store.engine.connect() as conn:
        return {t.name: sorted(map(repr, (tuple(r) for r in conn.execute(sa.select(t)))))
                for t in s.metadata.sorted_tables if t not in (s.store_info, s.mask_files)}


def test_a_store_goes_to_postgresql_and_back_whole(tmp_path, postgres):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    mask = (np.arange(80 * 120).reshape(80, 120) % 2).astype(np.uint8)
    store.add_mask(ids[0], mask, task="cover", labeler="ann")
    store.add_mask(ids[0], 1 - mask, task="cover", labeler="ann")  # history: two masks
    store.undo(task=TAGS, labeler="ann")
    store.assign(SHAPES, "ben")
    store.remap("super", {"sand": "ground", "road": "ground"})
    before = _tables(store)
    store.close()

    url = postgres.new_database()
    assert main(["store", "copy", str(tmp_path / "a.sqlite"), url]) == 0
    with LabelStore.open(url) as team:
        assert _tables(team) == before
        [current] = team.get_annotations(kinds=["mask"]).itertuples()
        assert team.mask_dir is None  # the server keeps the masks' PNGs itself
        assert np.array_equal(team.mask(current.annotation_id)[0], 1 - mask)
        team.tag(ids[3], "present", task=TAGS, labeler="cy")  # ids go on after the copied ones
        after = _tables(team)
    assert main(["store", "copy", url, str(tmp_path / "back.sqlite")]) == 0
    with LabelStore.open(tmp_path / "back.sqlite") as back:
        assert _tables(back) == after
        assert np.array_equal(back.mask(current.annotation_id)[0], 1 - mask)
        assert len(list(back.mask_dir.glob("*.png"))) == 2  # files again, both masks


def test_masks_on_a_shared_disk_go_there(tmp_path, postgres):
    store, ids = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.add_task("cover", type="semantic_segmentation", classes=["water", "sand"])
    eye = np.eye(80, 120, dtype=np.uint8)  # the image's size
    store.add_mask(ids[0], eye, task="cover", labeler="ann")
    store.close()
    url = postgres.new_database()
    assert main(["store", "copy", str(tmp_path / "a.sqlite"), url,
                 "--dest-masks", str(tmp_path / "shared")]) == 0
    with LabelStore.open(url, mask_dir=tmp_path / "shared") as team:
        [row] = team.get_annotations(kinds=["mask"]).itertuples()
        assert np.array_equal(team.mask(row.annotation_id)[0], eye)
    assert len(list((tmp_path / "shared").glob("*.png"))) == 1


def test_copying_into_a_store_that_holds_labels_is_refused(tmp_path, capsys):
    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.close()
    assert main(["store", "copy", str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")]) == 0
    assert main(["store", "copy", str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")]) == 1
    assert "already holds a store" in capsys.readouterr().err


def test_a_database_that_is_not_there_is_one_clear_line(tmp_path, capsys):
    from browser.harness import free_port

    store, _ = labeled_store(tmp_path / "a.sqlite", tmp_path / "files")
    store.close()
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    assert main(["store", "copy", str(tmp_path / "a.sqlite"), url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geolabel store: cannot reach the database") and "Traceback" not in err
