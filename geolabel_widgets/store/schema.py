"""The store's tables, in SQLAlchemy Core so that SQLite and PostgreSQL share them.

Labels are never updated in place: an edit inserts a row that supersedes the
current one, and only the ``is_current`` flag of the superseded row changes.
"""

from __future__ import annotations

import sqlalchemy as sa

from .geometry import Geometry
from .text import String, Text

SCHEMA_VERSION = 7  # 2: aggregates; 3: image sources; 4: assignments; 5: leases, mask_files;
# 6: gold answers and the tasks' quality settings; 7: predictions and image features

metadata = sa.MetaData()

# Label kinds that are labels; the lifecycle lives beside them as kind "status".
TASK_TYPES = (
    "tag",
    "classification",
    "multilabel",
    "detection",
    "instance_segmentation",
    "semantic_segmentation",
)
# labels with a geometry in pixels (a rotated box: its corners, see rotated.py)
SHAPE_KINDS = ("box", "rotated_box", "polygon", "point", "line", "stroke")
STATUSES = ("unlabeled", "in_progress", "labeled", "skipped", "needs_improvement", "reviewed")

store_info = sa.Table(
    "store_info",
    metadata,
    sa.Column("key", String(64), primary_key=True),
    sa.Column("value", Text, nullable=False),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("dataset_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", String(255), nullable=False, unique=True),
    sa.Column("site", Text),
    sa.Column("sensor", Text),
    sa.Column("description", Text),
    sa.Column("source", Text),  # the format or system it came from
    sa.Column("synthetic", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("props", sa.JSON),
)

dataset_groups = sa.Table(
    "dataset_groups",
    metadata,
    sa.Column("group_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", String(255), nullable=False, unique=True),
    sa.Column("description", Text),
)

dataset_group_members = sa.Table(
    "dataset_group_members",
    metadata,
    sa.Column("group_id", sa.ForeignKey("dataset_groups.group_id"), primary_key=True),
    sa.Column("dataset_id", sa.ForeignKey("datasets.dataset_id"), primary_key=True),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("task_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("title", String(255), nullable=False, unique=True),
    sa.Column("description", Text),
    sa.Column("type", String(32), nullable=False),
    sa.Column("group_id", sa.ForeignKey("dataset_groups.group_id")),
    sa.Column("labels_per_image", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("gold_share", sa.Float),  # of each labeler's queue; None: quality.GOLD_SHARE
    sa.Column("min_agreement", sa.Float),  # below it an image waits for adjudication
    sa.CheckConstraint(
        "type IN (%s)" % ", ".join(f"'{t}'" for t in TASK_TYPES), name="task_type_known"
    ),
)

label_classes = sa.Table(
    "label_classes",
    metadata,
    sa.Column("task_id", sa.ForeignKey("tasks.task_id"), primary_key=True),
    sa.Column("name", String(255), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("color", String(16)),
    sa.Column("geometry_type", String(32)),  # None for tags; box, polygon, point, mask ...
)

labelers = sa.Table(
    "labelers",
    metadata,
    sa.Column("labeler_id", String(255), primary_key=True),
    sa.Column("display_name", Text),
    sa.Column("anonymized_id", String(64)),
    sa.Column("email", Text),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Which labelers a task is assigned to (S3Label's users_label_tasks).
assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.task_id"), primary_key=True),
    sa.Column("labeler_id", String(255), sa.ForeignKey("labelers.labeler_id"),
              primary_key=True),
    sa.Column("receive_new", sa.Boolean, nullable=False, default=True),
)

# Images handed out to a labeler and not yet done by them. While a lease lasts, a task
# asking for k labels per image hands each image to at most k labelers at once.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.task_id"), primary_key=True),
    sa.Column("image_id", String(64), primary_key=True),
    sa.Column("labeler_id", String(255), sa.ForeignKey("labelers.labeler_id"),
              primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_leases_holder", "task_id", "labeler_id"),
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # stable queue order
    sa.Column("image_id", String(64), nullable=False, unique=True),
    sa.Column("dataset_id", sa.ForeignKey("datasets.dataset_id"), nullable=False, index=True),
    sa.Column("name", Text, nullable=False),
    sa.Column("uri", Text, nullable=False),
    sa.Column("sha256", String(64)),  # None when the file was never seen
    sa.Column("file_missing", sa.Boolean, nullable=False, default=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("bands", sa.Integer),
    sa.Column("dtype", String(16)),
    sa.Column("crs", Text),
    sa.Column("transform", sa.JSON),  # affine (a, b, c, d, e, f), pixel -> CRS
    sa.Column("footprint", Geometry(4326)),  # lon/lat
    sa.Column("lon", sa.Float),
    sa.Column("lat", sa.Float),
    sa.Column("acquired_at", sa.Float),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("props", sa.JSON),
    sa.Index("ix_images_lonlat", "lon", "lat"),
)

# Where each image came from: an image met again under another path (same content
# hash, hence the same image_id) is one image with several sources.
image_sources = sa.Table(
    "image_sources",
    metadata,
    sa.Column("image_id", String(64), primary_key=True),
    sa.Column("uri", Text, primary_key=True),
    sa.Column("dataset_id", sa.ForeignKey("datasets.dataset_id"), nullable=False),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("props", sa.JSON),
)

# One row per call that writes labels, so that undo and redo work on what a
# person did (a tag plus its status change), not on single rows.
actions = sa.Table(
    "actions",
    metadata,
    sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.ForeignKey("tasks.task_id"), nullable=False),
    sa.Column("labeler_id", sa.ForeignKey("labelers.labeler_id"), nullable=False),
    sa.Column("kind", String(8), nullable=False),  # edit, undo, redo
    sa.Column("undoes", sa.Integer, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_actions_who", "task_id", "labeler_id", "action_id"),
)

annotations = sa.Table(
    "annotations",
    metadata,
    sa.Column("annotation_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("label_id", String(160), nullable=False),  # stable across edits
    sa.Column("action_id", sa.ForeignKey("actions.action_id"), nullable=False, index=True),
    sa.Column("image_id", String(64), nullable=False),
    sa.Column("task_id", sa.ForeignKey("tasks.task_id"), nullable=False),
    sa.Column("labeler_id", sa.ForeignKey("labelers.labeler_id"), nullable=False),
    sa.Column("author_id", String(255), nullable=False),  # a reviewer writes others' status
    sa.Column("kind", String(16), nullable=False),
    sa.Column("value", Text),
    sa.Column("geometry", Geometry()),  # full-resolution image pixels
    sa.Column("world_geometry", Geometry(4326)),  # lon/lat
    sa.Column("props", sa.JSON),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("supersedes", sa.Integer),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("is_current", sa.Boolean, nullable=False, default=True),
    # The partial unique index (CURRENT_LABEL, below) guards integrity; this one serves
    # lookups, since SQLite uses a partial index only when a query repeats its WHERE.
    sa.Index("ix_annotations_label", "label_id", "is_current"),
    sa.Index("ix_annotations_task_image", "task_id", "image_id", "labeler_id"),
    sa.Index("ix_annotations_current_kind", "is_current", "kind", "task_id"),
)

# One current row per label id. Written as DDL, the same in SQLite and PostgreSQL,
# rather than as an Index with postgresql_where=, which loads SQLAlchemy's PostgreSQL
# dialect on import: a tenth of the store's start-up, for SQLite users too.
CURRENT_LABEL = sa.DDL("CREATE UNIQUE INDEX IF NOT EXISTS ux_annotations_current_label "
                       "ON annotations (label_id) WHERE is_current")
sa.event.listen(annotations, "after_create", CURRENT_LABEL)

# Known answers of gold images: never labels, so they count in no figure or queue.
gold_labels = sa.Table(
    "gold_labels",
    metadata,
    sa.Column("gold_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.ForeignKey("tasks.task_id"), nullable=False),
    sa.Column("image_id", String(64), nullable=False),
    sa.Column("kind", String(16), nullable=False),  # tag, a shape kind, or mask
    sa.Column("value", Text),
    sa.Column("geometry", Geometry()),  # pixels, for shapes
    sa.Column("mask_annotation", sa.Integer),  # the mask row that is the answer
    sa.Column("source", String(255)),  # the labeler whose labels were taken, if any
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Index("ix_gold_task_image", "task_id", "image_id"),
)

# What models say, kept apart from people's labels: no figure, count or export reads them.
# A model run again on an image supersedes its earlier predictions there (is_current).
predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("prediction_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.ForeignKey("tasks.task_id"), nullable=False),
    sa.Column("image_id", String(64), nullable=False),
    sa.Column("model", String(255), nullable=False),
    sa.Column("version", String(255)),
    sa.Column("kind", String(16), nullable=False),  # tag, or a shape kind
    sa.Column("value", Text, nullable=False),  # the class
    sa.Column("score", sa.Float),  # the model's confidence in it, 0..1
    sa.Column("scores", sa.JSON),  # a tag's score for every class, where the model gives it
    sa.Column("geometry", Geometry()),  # full-resolution image pixels, for shapes
    sa.Column("world_geometry", Geometry(4326)),
    sa.Column("props", sa.JSON),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("is_current", sa.Boolean, nullable=False, default=True),
    sa.Index("ix_predictions_task_image", "task_id", "image_id", "is_current"),
    sa.Index("ix_predictions_model", "task_id", "model", "is_current"),
)

# A vector per image and feature set (colour and texture statistics, or a model's
# embedding), computed once and read by a learner.
image_features = sa.Table(
    "image_features",
    metadata,
    sa.Column("image_id", String(64), primary_key=True),
    sa.Column("name", String(255), primary_key=True),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian
)

# Dense rasters live as PNGs (masks.py: files, or mask_files); their pixel counts are rows.
masks = sa.Table(
    "masks",
    metadata,
    sa.Column("annotation_id", sa.ForeignKey("annotations.annotation_id"), primary_key=True),
    sa.Column("path", Text, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("classes", sa.JSON, nullable=False),
)

# The PNGs of masks, by content, where the store keeps them itself (on a server).
mask_files = sa.Table(
    "mask_files",
    metadata,
    sa.Column("name", String(64), primary_key=True),
    sa.Column("png", sa.LargeBinary, nullable=False),
)

mask_pixels = sa.Table(
    "mask_pixels",
    metadata,
    sa.Column("annotation_id", sa.ForeignKey("annotations.annotation_id"), primary_key=True),
    sa.Column("class_name", String(255), primary_key=True),
    sa.Column("pixels", sa.BigInteger, nullable=False),
)


# -- class views: remappings of class names, kept beside the labels -----------------------
class_views = sa.Table(
    "class_views",
    metadata,
    sa.Column("view_id", sa.Integer, primary_key=True, autoincrement=True),  # 0: no remap
    sa.Column("name", String(255), nullable=False, unique=True),
    # {"*": {class: super_class}, "<dataset>": {...}}: a dataset's own map wins
    sa.Column("aliases", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# -- distribution aggregates, kept current by every label write (aggregates.py) ------------
# Reference counts say how many current rows put a class (or a labeler) on an image,
# so that the per-dataset counts change exactly when the first arrives or the last goes.
image_class_refs = sa.Table(
    "image_class_refs",
    metadata,
    sa.Column("view_id", sa.Integer, primary_key=True),
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("image_id", String(64), primary_key=True),
    sa.Column("class_name", String(255), primary_key=True),
    sa.Column("refs", sa.Integer, nullable=False),
)

image_labeler_refs = sa.Table(
    "image_labeler_refs",
    metadata,
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("image_id", String(64), primary_key=True),
    sa.Column("labeler_id", String(255), primary_key=True),
    sa.Column("refs", sa.Integer, nullable=False),
)

image_labelers = sa.Table(
    "image_labelers",
    metadata,
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("image_id", String(64), primary_key=True),
    sa.Column("labelers", sa.Integer, nullable=False),
    sa.Index("ix_image_labelers_shared", "task_id", "labelers"),  # agreement looks for >= 2
)

class_counts = sa.Table(
    "class_counts",
    metadata,
    sa.Column("view_id", sa.Integer, primary_key=True),
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("dataset_id", sa.Integer, primary_key=True),
    sa.Column("class_name", String(255), primary_key=True),
    sa.Column("images", sa.BigInteger, nullable=False),
)

class_pixels = sa.Table(
    "class_pixels",
    metadata,
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("dataset_id", sa.Integer, primary_key=True),
    sa.Column("class_name", String(255), primary_key=True),
    sa.Column("pixels", sa.BigInteger, nullable=False),
)

labeler_counts = sa.Table(
    "labeler_counts",
    metadata,
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("dataset_id", sa.Integer, primary_key=True),
    sa.Column("labeler_id", String(255), primary_key=True),
    sa.Column("images", sa.BigInteger, nullable=False),
    sa.Column("pixels", sa.BigInteger, nullable=False),
)

dataset_counts = sa.Table(
    "dataset_counts",
    metadata,
    sa.Column("task_id", sa.Integer, primary_key=True),
    sa.Column("dataset_id", sa.Integer, primary_key=True),
    sa.Column("images", sa.BigInteger, nullable=False),  # images with any label
    sa.Column("pixels", sa.BigInteger, nullable=False),
    # doodle rows, the pixels of their images, and how many of those a person doodled
    sa.Column("doodles", sa.BigInteger, nullable=False),
    sa.Column("doodle_image_pixels", sa.BigInteger, nullable=False),
    sa.Column("doodled_pixels", sa.Float, nullable=False),
)

# Image locations binned to GEO_CELL degrees, with the sums that place each cell's marker
# at its images' mean location: maps and histograms of any store from a few rows.
GEO_CELL = 0.5
geo_cells = sa.Table(
    "geo_cells",
    metadata,
    sa.Column("dataset_id", sa.Integer, primary_key=True),
    sa.Column("lat_cell", sa.Integer, primary_key=True),
    sa.Column("lon_cell", sa.Integer, primary_key=True),
    sa.Column("images", sa.BigInteger, nullable=False),
    sa.Column("lat_sum", sa.Float, nullable=False),
    sa.Column("lon_sum", sa.Float, nullable=False),
)

AGGREGATES = (image_class_refs, image_labeler_refs, image_labelers, class_counts,
              class_pixels, labeler_counts, dataset_counts, geo_cells)
