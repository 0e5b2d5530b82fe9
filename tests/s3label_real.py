"""S3Label's real PostgreSQL schema, written from its description in FORMATS_REAL.md 3
(the DDL itself is not copied here): 11 tables, JSONB history, and the views S3Label
reads labels through; and rows shaped like its unit-test fixtures."""

import json

# "%%": the driver reads a lone % as a placeholder
TABLES = """
CREATE TABLE datasets (dataset_id SERIAL PRIMARY KEY, site VARCHAR NOT NULL,
    sensor VARCHAR NOT NULL, dataset_description VARCHAR NOT NULL);
CREATE TABLE dataset_groups (dataset_group_id SERIAL PRIMARY KEY,
    name VARCHAR UNIQUE NOT NULL, description VARCHAR);
CREATE TABLE dataset_group_lists (
    dataset_group_id INT REFERENCES dataset_groups ON DELETE CASCADE,
    dataset_id INT REFERENCES datasets ON DELETE CASCADE,
    PRIMARY KEY (dataset_group_id, dataset_id));
CREATE TABLE label_tasks (label_task_id SERIAL PRIMARY KEY,
    dataset_group_id INT REFERENCES dataset_groups ON DELETE CASCADE,
    title VARCHAR NOT NULL, description VARCHAR NOT NULL,
    type VARCHAR NOT NULL CHECK (type IN ('semantic_segmentation', 'instance_segmentation',
                                          'bounding_boxes')),
    default_tool VARCHAR NOT NULL DEFAULT 'freehand' CHECK (default_tool IN
        ('freehand', 'polygon', 'rectangle', 'point', 'circle', 'select')),
    allowed_tools VARCHAR DEFAULT NULL CHECK (allowed_tools LIKE '%%' || default_tool || '%%'),
    permit_overlap BOOLEAN NOT NULL DEFAULT false,
    label_classes VARCHAR NOT NULL DEFAULT '[{"label_class": "foreground_object",
        "color": "[0,255,0]"}, {"label_class": "background", "color": "[0,0,255]"}]',
    enable_advanced_tools BOOLEAN NOT NULL DEFAULT false);
CREATE TABLE example_labeling (example_labeling_id SERIAL PRIMARY KEY,
    label_task_id INT REFERENCES label_tasks ON DELETE CASCADE, image_path VARCHAR NOT NULL,
    title VARCHAR NOT NULL, description VARCHAR NOT NULL);
CREATE TABLE input_data (input_data_id SERIAL PRIMARY KEY,
    dataset_id INT REFERENCES datasets ON DELETE CASCADE, data_path VARCHAR NOT NULL,
    sha1_hash VARCHAR NOT NULL, timestamp_upload TIMESTAMPTZ DEFAULT now());
CREATE TABLE users (user_id SERIAL PRIMARY KEY, password VARCHAR,
    first_name VARCHAR NOT NULL, last_name VARCHAR NOT NULL, email VARCHAR UNIQUE NOT NULL,
    organisation VARCHAR, note VARCHAR, is_admin BOOLEAN NOT NULL DEFAULT false);
CREATE TABLE users_label_tasks (user_label_task_id SERIAL PRIMARY KEY,
    user_id INT REFERENCES users ON DELETE CASCADE,
    label_task_id INT REFERENCES label_tasks ON DELETE CASCADE,
    receive_new_unlabeled_data BOOLEAN DEFAULT true);
CREATE TABLE labels (label_id SERIAL PRIMARY KEY,
    input_data_id INT REFERENCES input_data ON DELETE CASCADE,
    label_task_id INT REFERENCES label_tasks ON DELETE CASCADE,
    user_id INT REFERENCES users,
    in_progress BOOLEAN NOT NULL DEFAULT false, user_complete BOOLEAN NOT NULL DEFAULT false,
    needs_improvement BOOLEAN NOT NULL DEFAULT false,
    admin_complete BOOLEAN NOT NULL DEFAULT false, paid BOOLEAN NOT NULL DEFAULT false,
    user_comment VARCHAR, admin_comment VARCHAR, payment_date TIMESTAMPTZ,
    include_in_test_set BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (input_data_id, label_task_id, user_id));
CREATE TABLE label_history (label_history_id SERIAL PRIMARY KEY,
    label_id INT REFERENCES labels ON DELETE CASCADE, timestamp_edit TIMESTAMPTZ DEFAULT now(),
    label_serialised JSONB NOT NULL);
CREATE TABLE priorities (priority_id SERIAL PRIMARY KEY,
    input_data_id INT REFERENCES input_data ON DELETE CASCADE,
    label_task_id INT REFERENCES label_tasks ON DELETE CASCADE,
    priority INT NOT NULL DEFAULT 1);
"""

# the views the docs export labels through, and the duplicate check
VIEWS = """
CREATE VIEW latest_label_history AS
    SELECT DISTINCT ON (label_id) label_id, label_history_id, timestamp_edit,
           label_serialised, jsonb_array_length(label_serialised) AS num_objects_labeled
    FROM label_history ORDER BY label_id, timestamp_edit DESC, label_history_id DESC;
CREATE VIEW latest_label_history_per_input_item AS
    SELECT i.input_data_id, i.data_path, l.label_task_id, l.user_id, l.label_id,
           h.label_serialised, h.num_objects_labeled, l.label_id IS NULL AS unlabeled
    FROM input_data i LEFT JOIN labels l USING (input_data_id)
    LEFT JOIN latest_label_history h USING (label_id);
CREATE VIEW duplicate_input_data AS
    SELECT sha1_hash, count(*) AS copies FROM input_data GROUP BY sha1_hash
    HAVING count(*) > 1;
"""


def region(kind, cls, ring):
    """The old form of a shape (the fixtures')."""
    return {"type": kind, "label": cls, "polygon": {"regions": [ring], "inverted": False},
            "selected": True}


def drawn(kind, cls, label):
    """The front end's form: the geometry in "label", the class in "label_class"."""
    return {"type": kind, "label": label, "label_class": cls, "selected": False}


SQUARE = [[10, 10], [60, 10], [60, 50], [10, 50]]
# label id -> its history rows, oldest first (label 6 has none; label 2 two equal rows)
HISTORY = {
    1: [[region("freehand", "foreground_object", SQUARE)]],
    2: [[region("polygon", "background", SQUARE)]] * 2,
    3: [[drawn("rectangle", "foreground_object",
               {"x": 95, "y": 69.21875, "boxWidth": 260, "boxHeight": 117})]],
    4: [[drawn("rectangle", "foreground_object",  # dragged up and left
               {"x": 300, "y": 200, "boxWidth": -120, "boxHeight": -80.5})]],
    5: [[drawn("point", "foreground_object", {"x": 40.5, "y": 30, "radius": 4}),
         drawn("circle", "background", {"x": 100, "y": 120, "radius": 25}),
         drawn("freehand", "foreground_object",
               {"regions": [[[0, 0], [90, 0], [90, 90], [0, 90]],
                            [[30, 30], [60, 30], [60, 60], [30, 60]]], "inverted": False})]],
}
IMAGES = ["image.jpg", "image2.jpg", "image3.jpg", "image4.jpg", "froth_image.jpg",
          "image_test.jpg"]


def fixtures(conn) -> None:
    """Rows like S3Label's unit-test data: relative data paths, fake SHA-1s, both
    shape forms, a label without history, two equal history rows."""
    sql = conn.exec_driver_sql
    sql("INSERT INTO datasets (site, sensor, dataset_description) VALUES "
        "('Plant A', 'camera', 'froth'), ('Plant B', 'camera', 'rocks')")
    sql("INSERT INTO dataset_groups (name, description) VALUES ('all', 'every dataset')")
    sql("INSERT INTO dataset_group_lists VALUES (1, 1), (1, 2)")
    sql("INSERT INTO label_tasks (dataset_group_id, title, description, type) VALUES "
        "(1, 'froth', 'outline the bubbles', 'instance_segmentation')")
    sql("INSERT INTO example_labeling (label_task_id, image_path, title, description) "
        "VALUES (1, 'test_images/image.jpg', 'an example', 'like this')")
    for k, name in enumerate(IMAGES):
        sql("INSERT INTO input_data (dataset_id, data_path, sha1_hash) VALUES "
            f"({1 + k % 2}, 'test_images/{name}', 'abc{k + 1}')")
    sql("INSERT INTO users (password, first_name, last_name, email, is_admin) VALUES "
        "('x', 'Ann', 'Lee', 'ann@s3.test', true), ('y', 'Ben', 'Ode', 'ben@s3.test', false)")
    sql("INSERT INTO users_label_tasks (user_id, label_task_id) VALUES (1, 1), (2, 1)")
    for label in range(1, 7):
        done = "true" if label in (1, 3) else "false"
        sql("INSERT INTO labels (input_data_id, label_task_id, user_id, user_complete, "
            f"in_progress) VALUES ({label}, 1, {1 + label % 2}, {done}, "
            f"{'false' if label in (1, 3) else 'true'})")
    for label, rows in HISTORY.items():
        for shapes in rows:
            sql("INSERT INTO label_history (label_id, label_serialised) VALUES "
                f"({label}, '{json.dumps(shapes)}'::jsonb)")
    sql("INSERT INTO priorities (input_data_id, label_task_id) VALUES (1, 1), (2, 1)")
