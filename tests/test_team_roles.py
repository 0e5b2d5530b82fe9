"""A team on PostgreSQL where each person connects as their own database role: the
database itself refuses a labeler writing as another, assigning or reviewing."""

import psycopg
import pytest
import sqlalchemy as sa
from conftest import write_images

from geolabel_widgets import LabelStore, StoreError
from geolabel_widgets.cli import main


def _as(url: str, role: str) -> str:
    return sa.make_url(url).set(username=role).render_as_string(hide_password=False)


@pytest.fixture
def team(postgres, tmp_path):
    """A store made by its owner, with labeler roles ann and bob and an admin role boss:
    (url, image ids)."""
    url = postgres.new_database()
    with LabelStore.open(url) as owner:
        ids = owner.add_images(write_images(tmp_path / "images", 4), dataset="beach",
                               progress=False)
        owner.add_task("water", classes=["water", "sand"])
        owner.add_task("bobs", classes=["water", "sand"])
        owner.assign("bobs", "bob")
    for command in (["add-labeler", "ann"], ["add-labeler", "bob"], ["add-admin", "boss"]):
        assert main(["team", *command, "--store", url]) == 0
    return url, ids


def test_a_labeler_role_labels_as_itself_and_only_as_itself(team):
    url, ids = team
    with LabelStore.open(_as(url, "ann")) as ann:
        assert ann.role == "ann"
        [first] = ann.claim("water", "ann", 1)
        ann.tag(first, "water", task="water", labeler="ann")
        ann.undo(task="water", labeler="ann")
        ann.tag(first, "sand", task="water", labeler="ann")
        with pytest.raises(StoreError, match="writes only as 'ann', not as 'bob'"):
            ann.tag(ids[1], "water", task="water", labeler="bob")
        assert ann.get_annotations(task="water")["labeler"].tolist() == ["ann"]
    with LabelStore.open(url) as owner:
        assert owner.role is None  # the owner is an admin
        rows = owner.get_annotations(task="water", history=True)
        assert set(rows["labeler"]) == {"ann"} and set(rows["author"]) == {"ann"}


def test_the_database_refuses_a_labeler_writing_as_another(team):
    url, ids = team
    with LabelStore.open(_as(url, "bob")) as bob:
        bob.tag(ids[0], "water", task="water", labeler="bob")
    with LabelStore.open(_as(url, "ann")) as ann:
        with ann.engine.connect() as conn:  # past the store's own check, straight to SQL
            action = conn.execute(sa.text("SELECT max(action_id) FROM actions")).scalar()
            with pytest.raises(sa.exc.ProgrammingError) as refused:
                conn.execute(sa.text(
                    "INSERT INTO annotations (label_id, action_id, image_id, task_id, "
                    "labeler_id, author_id, kind, value, created_at, deleted, is_current) "
                    "VALUES ('x', :a, :i, 1, 'bob', 'bob', 'tag', 'sand', 0, false, false)"),
                    {"a": action, "i": ids[0]})
            assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
            assert "row-level security" in str(refused.value.orig)
            conn.rollback()
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text("UPDATE annotations SET value = 'sand'"))  # no label's
            conn.rollback()
            changed = conn.execute(sa.text("UPDATE annotations SET is_current = false "
                                           "WHERE labeler_id = 'bob'")).rowcount
            assert changed == 0  # bob's rows are not ann's to supersede
            conn.commit()
    with LabelStore.open(url) as owner:
        assert owner.get_annotations(task="water")["value"].tolist() == ["water"]


def test_a_labeler_cannot_assign_add_tasks_or_review_and_the_admin_can(team):
    url, ids = team
    with LabelStore.open(_as(url, "ann")) as ann:
        ann.tag(ids[0], "water", task="water", labeler="ann")
        for attempt in (lambda: ann.assign("water", "ann"),
                        lambda: ann.add_task("new"),
                        lambda: ann.add_gold("water", labeler="ann")):
            with pytest.raises(StoreError, match="database role 'ann' may not do that "
                                                 "\\(permission denied for table"):
                attempt()
        with pytest.raises(StoreError, match="writes only as 'ann', not as 'boss'"):
            ann.review(ids[0], "accept", task="water", reviewer="boss")
        with pytest.raises(StoreError, match="row-level security"):
            ann.review(ids[0], "accept", task="water", reviewer="ann")  # not even her own
        assert ann.assignments.query("task == 'water'").empty  # nothing half-written
    with LabelStore.open(_as(url, "boss")) as boss:
        assert boss.role is None
        boss.assign("water", "ann")
        boss.review(ids[0], "accept", task="water", reviewer="boss")
        assert boss.status_of(ids[0], task="water", labeler="ann") == "reviewed"


def test_a_labeler_reads_only_the_tasks_it_may_work_on(team):
    url, ids = team
    with LabelStore.open(_as(url, "bob")) as bob:
        bob.tag(ids[0], "sand", task="bobs", labeler="bob")
    with LabelStore.open(_as(url, "ann")) as ann:
        assert ann.get_annotations(task="bobs").empty
        with pytest.raises(StoreError, match="assigned to bob, not to 'ann'"):
            ann.claim("bobs", "ann", 1)


def test_a_role_without_grants_is_told_so(team, postgres):
    url, _ = team
    engine = sa.create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP ROLE IF EXISTS nobody")
        conn.exec_driver_sql("CREATE ROLE nobody LOGIN")
    engine.dispose()
    with pytest.raises(StoreError, match="role without grants cannot open the store"):
        LabelStore.open(_as(url, "nobody"))
    assert main(["team", "add-labeler", "bad name;", "--store", url]) == 1


def test_roles_are_refused_on_a_sqlite_store(tmp_path):
    with LabelStore.open(tmp_path / "labels.sqlite") as store:
        with pytest.raises(StoreError, match="a SQLite store has one user"):
            store.add_role("ann")


def test_a_labeler_mends_what_a_reviewer_sent_back(team):
    url, ids = team
    with LabelStore.open(_as(url, "ann")) as ann:
        ann.tag(ids[0], "water", task="water", labeler="ann")
    with LabelStore.open(_as(url, "boss")) as boss:
        boss.review(ids[0], "needs_improvement", task="water", reviewer="boss", comment="sand?")
    with LabelStore.open(_as(url, "ann")) as ann:
        ann.tag(ids[0], "sand", task="water", labeler="ann")  # supersedes boss's verdict
        assert ann.status_of(ids[0], task="water", labeler="ann") == "labeled"
