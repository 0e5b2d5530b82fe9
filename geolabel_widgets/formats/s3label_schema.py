"""S3Label's database tables as its own DDL has them (FORMATS_REAL.md 3): 11 tables,
JSONB label history and time zones on PostgreSQL, the same columns in a SQLite file.
What we write with these, S3Label's views read."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

meta = sa.MetaData()
TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _id(table: str) -> sa.Column:
    return sa.Column(f"{table}_id", sa.Integer, primary_key=True, autoincrement=True)


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean, nullable=False, server_default=sa.false())


datasets = sa.Table("datasets", meta, _id("dataset"),
                    sa.Column("site", sa.String, nullable=False),
                    sa.Column("sensor", sa.String, nullable=False),
                    sa.Column("dataset_description", sa.String, nullable=False))
dataset_groups = sa.Table("dataset_groups", meta, _id("dataset_group"),
                          sa.Column("name", sa.String, unique=True, nullable=False),
                          sa.Column("description", sa.String))
dataset_group_lists = sa.Table(
    "dataset_group_lists", meta,
    sa.Column("dataset_group_id", sa.Integer, sa.ForeignKey(
        "dataset_groups.dataset_group_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
              primary_key=True))
label_tasks = sa.Table(
    "label_tasks", meta, _id("label_task"),
    sa.Column("dataset_group_id", sa.Integer, sa.ForeignKey(
        "dataset_groups.dataset_group_id", ondelete="CASCADE")),
    sa.Column("title", sa.String, nullable=False),
    sa.Column("description", sa.String, nullable=False),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("default_tool", sa.String, nullable=False, server_default="freehand"),
    sa.Column("allowed_tools", sa.String),
    _flag("permit_overlap"),
    sa.Column("label_classes", sa.String, nullable=False),  # JSON as text
    _flag("enable_advanced_tools"),
    sa.CheckConstraint("type IN ('semantic_segmentation', 'instance_segmentation', "
                       "'bounding_boxes')"),
    sa.CheckConstraint("default_tool IN ('freehand', 'polygon', 'rectangle', 'point', "
                       "'circle', 'select')"),
    sa.CheckConstraint("allowed_tools LIKE '%' || default_tool || '%'"))
example_labeling = sa.Table(
    "example_labeling", meta, _id("example_labeling"),
    sa.Column("label_task_id", sa.Integer, sa.ForeignKey("label_tasks.label_task_id",
                                                         ondelete="CASCADE")),
    sa.Column("image_path", sa.String, nullable=False),
    sa.Column("title", sa.String, nullable=False),
    sa.Column("description", sa.String, nullable=False))
input_data = sa.Table(
    "input_data", meta, _id("input_data"),
    sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.dataset_id",
                                                      ondelete="CASCADE")),
    sa.Column("data_path", sa.String, nullable=False),
    sa.Column("sha1_hash", sa.String, nullable=False),
    sa.Column("timestamp_upload", TIME, server_default=sa.func.now()))
users = sa.Table("users", meta, _id("user"), sa.Column("password", sa.String),
                 sa.Column("first_name", sa.String, nullable=False),
                 sa.Column("last_name", sa.String, nullable=False),
                 sa.Column("email", sa.String, unique=True, nullable=False),
                 sa.Column("organisation", sa.String), sa.Column("note", sa.String),
                 _flag("is_admin"))
users_label_tasks = sa.Table(
    "users_label_tasks", meta, _id("user_label_task"),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id", ondelete="CASCADE")),
    sa.Column("label_task_id", sa.Integer, sa.ForeignKey("label_tasks.label_task_id",
                                                         ondelete="CASCADE")),
    sa.Column("receive_new_unlabeled_data", sa.Boolean, server_default=sa.true()))
labels = sa.Table(
    "labels", meta, _id("label"),
    sa.Column("input_data_id", sa.Integer, sa.ForeignKey("input_data.input_data_id",
                                                         ondelete="CASCADE")),
    sa.Column("label_task_id", sa.Integer, sa.ForeignKey("label_tasks.label_task_id",
                                                         ondelete="CASCADE")),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.user_id")),
    _flag("in_progress"), _flag("user_complete"), _flag("needs_improvement"),
    _flag("admin_complete"), _flag("paid"),
    sa.Column("user_comment", sa.String), sa.Column("admin_comment", sa.String),
    sa.Column("payment_date", TIME), _flag("include_in_test_set"),
    sa.UniqueConstraint("input_data_id", "label_task_id", "user_id"))
label_history = sa.Table(
    "label_history", meta, _id("label_history"),
    sa.Column("label_id", sa.Integer, sa.ForeignKey("labels.label_id", ondelete="CASCADE")),
    sa.Column("timestamp_edit", TIME, server_default=sa.func.now()),
    sa.Column("label_serialised", JSON, nullable=False))
priorities = sa.Table(
    "priorities", meta, _id("priority"),
    sa.Column("input_data_id", sa.Integer, sa.ForeignKey("input_data.input_data_id",
                                                         ondelete="CASCADE")),
    sa.Column("label_task_id", sa.Integer, sa.ForeignKey("label_tasks.label_task_id",
                                                         ondelete="CASCADE")),
    sa.Column("priority", sa.Integer, nullable=False, server_default="1"))
