"""Who may write what on a team's PostgreSQL store: a database role per person.

Two group roles hold the grants. ``geolabel_labeler``: reads the tasks it may
work on, writes labels, actions and its own labeler row only under its own name
(row-level security on ``current_user``), keeps the counts and leases current.
``geolabel_admin``: everything, as the database owner who made the store. Only
an admin adds tasks, images and gold, assigns, or reviews. A SQLite file has one
user, whoever can open it.
"""

from __future__ import annotations

import sqlalchemy as sa

from . import schema as s
from .types import StoreError

LABELER, ADMIN = "geolabel_labeler", "geolabel_admin"

# Tables a labeler writes: its labels, what each label write keeps current, and what a
# model it runs predicts.
WRITTEN = ("annotations", "actions", "labelers", "leases", "masks", "mask_files",
           "mask_pixels", *(table.name for table in s.AGGREGATES),
           "predictions", "image_features")  # a model may run in a labeler's kernel
OWN_ROWS = ("annotations", "actions", "labelers")  # rows carrying a labeler_id
# A task a labeler may read: one assigned to them, or one assigned to nobody.
THEIR_TASKS = ("task_id NOT IN (SELECT task_id FROM assignments) OR task_id IN "
               "(SELECT task_id FROM assignments WHERE labeler_id = current_user)")


def role_of(conn) -> str | None:
    """The labeler a connection writes as: its role when that is a labeler role (and
    not an admin's), else None (the owner, an admin, or SQLite: any name given)."""
    if conn.dialect.name != "postgresql":
        return None
    groups = set(conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname IN "
                                      "(:a, :b)"), {"a": LABELER, "b": ADMIN}).scalars())
    if groups != {LABELER, ADMIN}:
        return None  # no roles set up: the store has one kind of user
    return conn.execute(sa.text(
        "SELECT current_user WHERE pg_has_role(current_user, :a, 'member') "
        "AND NOT pg_has_role(current_user, :b, 'member')"), {"a": LABELER, "b": ADMIN}
    ).scalar()


def add_role(conn, name: str, *, admin: bool = False, password: str | None = None) -> None:
    """Create the login role ``name`` as a labeler (or an admin) of this store, with
    the group roles, grants and policies made first if they are not there yet."""
    if conn.dialect.name != "postgresql":
        raise StoreError("database roles are PostgreSQL's: a SQLite store has one user")
    if not name or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise StoreError(f"a role name is letters, digits, '_', '-' or '.', not {name!r}")
    _set_up(conn)
    quoted = conn.dialect.identifier_preparer.quote(name)
    exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"),
                          {"n": name}).first()
    login = "LOGIN" + ("" if password is None else " PASSWORD " + _literal(password))
    conn.exec_driver_sql(f"{'ALTER' if exists else 'CREATE'} ROLE {quoted} {login}")
    conn.exec_driver_sql(f"GRANT {ADMIN if admin else LABELER} TO {quoted}")


def _set_up(conn) -> None:
    """The group roles, their grants, and row-level security on labelers' own rows."""
    for group in (LABELER, ADMIN):
        if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :n"),
                        {"n": group}).first() is None:
            conn.exec_driver_sql(f"CREATE ROLE {group} NOLOGIN")
    tables = ", ".join(table.name for table in s.metadata.sorted_tables)
    run = conn.exec_driver_sql
    run(f"GRANT ALL ON {tables} TO {ADMIN}")
    run(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {ADMIN}")
    run(f"GRANT SELECT ON {tables} TO {LABELER}")
    run(f"GRANT INSERT, UPDATE, DELETE ON {', '.join(WRITTEN)} TO {LABELER}")
    # superseding flips is_current, and nothing else of a label may change
    run(f"REVOKE UPDATE ON annotations FROM {LABELER}")
    run(f"GRANT UPDATE (is_current) ON annotations TO {LABELER}")
    run(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {LABELER}")
    mine = "labeler_id = current_user"
    for table in OWN_ROWS:
        run(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        _policy(conn, table, "admin_all", f"FOR ALL TO {ADMIN} USING (true) WITH CHECK (true)")
        written = mine
        if table == "annotations":  # written by themselves, and no review verdicts
            written += (" AND author_id = current_user AND (kind <> 'status' OR value "
                        "NOT IN ('reviewed', 'needs_improvement'))")
        _policy(conn, table, "labeler_insert", f"FOR INSERT TO {LABELER} WITH CHECK ({written})")
        # a row about them, a reviewer's verdict too, they may supersede
        _policy(conn, table, "labeler_update",
                f"FOR UPDATE TO {LABELER} USING ({mine}) WITH CHECK ({mine})")
        if table == "actions":  # an import drops an action it wrote nothing under
            _policy(conn, table, "labeler_delete", f"FOR DELETE TO {LABELER} USING ({mine})")
        readable = THEIR_TASKS if table != "labelers" else "true"
        _policy(conn, table, "labeler_read", f"FOR SELECT TO {LABELER} USING ({readable})")


def _policy(conn, table: str, name: str, body: str) -> None:
    conn.exec_driver_sql(f"DROP POLICY IF EXISTS {name} ON {table}")
    conn.exec_driver_sql(f"CREATE POLICY {name} ON {table} {body}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def permission_refused(err: BaseException, role: str | None) -> StoreError | None:
    """A clear error for a statement the database refused this role, if it was one."""
    orig = getattr(err, "orig", None)
    if getattr(orig, "sqlstate", None) != "42501":  # insufficient_privilege
        return None
    who = f"database role {role!r}" if role else "this database role"
    first = str(orig).splitlines()[0]
    return StoreError(f"{who} may not do that ({first}): only an admin role adds tasks, "
                      f"images and gold, assigns or reviews, and a labeler writes only "
                      f"their own labels; an admin adds roles with `geolabel team add-labeler`")
