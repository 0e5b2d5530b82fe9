"""A team on one store: assignments, and leases that hand each image to as many
labelers at once as its task asks labels for."""

import time

import pandas as pd
import psycopg
import pytest
from sqlalchemy import event

from geolabel_widgets import LabelStore, StoreError

pytestmark = pytest.mark.both_backends


@pytest.fixture
def team(store, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for k in range(6):
        (images / f"img{k}.png").write_bytes(_png())
    store.add_images(images, dataset="beach", progress=False)
    store.add_task("once", labels_per_image=1)
    store.add_task("twice", labels_per_image=2)
    for task in ("once", "twice"):
        for labeler in ("ann", "bob", "cy"):
            store.assign(task, labeler)
    return store


def _png() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng().integers(0, 255, (8, 8, 3), np.uint8)).save(
        buffer, "PNG")
    return buffer.getvalue()


def test_one_label_per_image_hands_each_image_to_one_labeler_at_a_time(team):
    ann = team.claim("once", "ann", 4)
    bob = team.claim("once", "bob", 4)
    assert len(ann) == 4 and len(bob) == 2
    assert not set(ann) & set(bob)
    assert team.claim("once", "cy", 4) == []  # all six are held
    assert set(team.leases.query("task == 'once'")["labeler"]) == {"ann", "bob"}


def test_a_task_asking_several_labels_hands_an_image_to_that_many(team):
    ann = team.claim("twice", "ann", 6)
    bob = team.claim("twice", "bob", 6)
    assert ann == bob and len(ann) == 6  # both label every image, for agreement
    assert team.claim("twice", "cy", 6) == []  # a third would make three labels
    team.tag(ann[0], "present", task="twice", labeler="ann")
    team.release("twice", "bob", [ann[1]])
    assert team.claim("twice", "cy", 6) == [ann[1]]  # a place given back; ann[0] stays full


def test_labels_made_count_and_the_lease_goes_with_the_label(team):
    first = team.claim("once", "ann", 1)[0]
    team.tag(first, "present", task="once", labeler="ann")
    assert team.leases.query("task == 'once'").empty
    bob = team.claim("once", "bob", 6)
    assert len(bob) == 5 and first not in bob  # it has its one label
    assert team.claim("once", "ann", 6) == []  # ann is done with hers; bob holds the rest


def test_a_skipped_image_goes_to_someone_else(team):
    first = team.claim("once", "ann", 1)[0]
    team.skip(first, task="once", labeler="ann")
    assert team.claim("once", "bob", 1) == [first]
    assert first not in team.claim("once", "ann", 6)


@pytest.fixture
def clock(monkeypatch):
    """The queue's clock, moved by hand: a busy machine cannot outrun a lease."""
    from geolabel_widgets.store import queue

    now = [time.time()]
    monkeypatch.setattr(queue, "time", type("Clock", (), {"time": staticmethod(lambda: now[0])}))
    return now


def test_a_lease_expires_and_the_image_goes_to_another(team, clock):
    held = team.claim("once", "ann", 6, lease=60)
    clock[0] += 59
    assert team.claim("once", "bob", 6) == []
    clock[0] += 2
    assert team.claim("once", "bob", 6) == held
    assert team.claim("once", "ann", 6) == []  # bob holds them now


def test_claiming_again_renews_what_a_labeler_holds_first(team, clock):
    held = team.claim("once", "ann", 2, lease=60)
    clock[0] += 30
    assert team.claim("once", "ann", 3)[:2] == held  # held ones come first, renewed
    clock[0] += 40  # past the first lease, within the renewed one
    assert not set(held) & set(team.claim("once", "bob", 6))


def test_an_image_begun_comes_back_to_its_labeler_first(team):
    from shapely.geometry import box

    ids = team.queue("once", "ann")
    team.annotate(ids[3], box(0, 0, 2, 2), "present", task="once", labeler="ann")
    assert team.status_of(ids[3], task="once", labeler="ann") == "in_progress"
    assert team.claim("once", "ann", 2) == [ids[3], ids[0]]


def test_a_claim_for_no_images_or_no_time_is_refused(team):
    for n, lease in ((-1, 60), (2.5, 60), (1, 0)):
        with pytest.raises(StoreError, match="claim takes a count n >= 0 and a lease > 0"):
            team.claim("once", "ann", n, lease=lease)
    assert team.claim("once", "ann", 0) == [] and team.leases.empty


def test_a_labelers_queue_holds_only_their_tasks(team):
    team.add_task("open to all")
    team.add_labeler("dee")
    assert team.tasks_for("dee") == ["open to all"]
    assert team.tasks_for("ann") == ["once", "twice", "open to all"]
    with pytest.raises(StoreError, match="assigned to ann, bob, cy, not to 'dee'"):
        team.queue("once", "dee")
    with pytest.raises(StoreError, match="not to 'dee'"):
        team.claim("once", "dee")
    assert len(team.queue("open to all", "dee")) == 6
    assert len(team.queue("once", None, status=None)) == 6  # every image, as a reader


def test_leases_are_rows_of_the_store(team):
    team.claim("once", "ann", 2, lease=60)
    leases = team.leases
    assert list(leases.columns) == ["task", "image_id", "labeler", "expires_at"]
    left = (leases["expires_at"] - pd.Timestamp.now(tz="UTC")).dt.total_seconds()
    assert len(leases) == 2 and left.between(50, 60).all()


def test_a_call_cut_off_mid_transaction_is_run_again_whole(postgres_url, tmp_path):
    """The server drops the connection just before a new labeler's first lease is
    written (after their labeler row was): the retry writes both, not just the lease."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(_png())
    with LabelStore.open(postgres_url) as store:
        store.add_images(tmp_path / "images", dataset="d", progress=False)
        store.add_task("once")
        dropped = []

        @event.listens_for(store.engine, "before_cursor_execute")
        def drop_once(conn, cursor, statement, *args):
            if statement.startswith("INSERT INTO leases") and not dropped:
                dropped.append(statement)
                raise psycopg.OperationalError("server closed the connection unexpectedly")

        assert len(store.claim("once", "newcomer", 1)) == 1
        assert dropped and list(store.leases["labeler"]) == ["newcomer"]
        assert "newcomer" in store.labelers.index


def test_a_labeler_not_receiving_new_images_only_finishes_theirs(team):
    held = team.claim("once", "ann", 2)
    team.assign("once", "ann", receive_new=False)
    assert team.claim("once", "ann", 6) == held  # what they hold, nothing new
    team.tag(held[0], "present", task="once", labeler="ann")
    assert team.claim("once", "ann", 6) == held[1:]
    assert len(team.claim("once", "bob", 6)) == 4  # the rest went on to others
