"""The distribution figures' data equals an independent reading of the Coast Train CSVs."""

import ast
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from geolabel_widgets import LabelStore
from geolabel_widgets.cli import main
from geolabel_widgets.formats import read_coasttrain
from geolabel_widgets.plots import (FIGURES, agreement_frame, class_frame, class_pixel_frame,
                                    dataset_frame, labeler_frame, location_frame)
from geolabel_widgets.store import StoreError
from geolabel_widgets.store.remap import read_remap_files
from coasttrain_truth import METADATA, read_csvs_independently
from tests.conftest import SHARED_DATA

needs_data = pytest.mark.skipif(not METADATA.is_dir(),
                                reason=f"Coast Train metadata not found at {METADATA}")


@pytest.fixture(scope="module")
def coast_train(tmp_path_factory):
    if not METADATA.is_dir():
        pytest.skip(f"Coast Train metadata not found at {METADATA}")
    store = LabelStore.open(tmp_path_factory.mktemp("ct") / "coasttrain.sqlite")
    for path in sorted(METADATA.glob("*.csv")):
        read_coasttrain(store, path)
    yield store
    store.close()


@needs_data
def test_per_record_counts_equal_an_independent_reading_of_the_csvs(coast_train):
    expected = read_csvs_independently()
    assert len(expected) == 10
    classes = class_frame(coast_train)
    labelers = labeler_frame(coast_train)
    datasets = dataset_frame(coast_train).set_index("dataset")
    for record, truth in expected.items():
        got = classes[classes["dataset"] == record].set_index("class")["images"]
        assert got.to_dict() == dict(truth["classes"]), record
        mine = labelers[labelers["dataset"] == record].set_index("labeler")
        assert mine["images"].to_dict() == dict(truth["labelers"]), record
        assert mine["megapixels"].to_dict() == pytest.approx(
            {k: v / 1e6 for k, v in truth["pixels"].items()}), record
        assert datasets.loc[record, "percent_doodled"] == pytest.approx(truth["percent"])
        assert datasets.loc[record, "images"] == sum(truth["labelers"].values())


@needs_data
def test_super_classes_count_an_image_once_per_super_class(coast_train):
    aliases = read_remap_files(sorted((SHARED_DATA / "coasttrain" / "remap").glob("*.json")))
    coast_train.remap("superclasses", aliases)
    got = class_frame(coast_train, view="superclasses")
    frame = pd.read_csv(METADATA / "G_madeira_meta_served.csv", dtype=str)
    truth = Counter()
    for value in frame["classes_present_array"]:
        truth.update({aliases.get(c, c) for c in ast.literal_eval("[" + value + "]")})
    assert got[got["dataset"] == "G_madeira"].set_index("class")["images"].to_dict() \
        == dict(truth)
    # the original labels are untouched by the view (J_naip_6class has a class,
    # vegetated_ground, that no remap file names: it stays as it is)
    original = {c for record in read_csvs_independently().values() for c in record["classes"]}
    assert set(class_frame(coast_train)["class"]) == original


@needs_data
def test_locations_are_binned_where_the_footprints_are(coast_train):
    cells = location_frame(coast_train)
    frame = pd.read_csv(METADATA / "I_sandwich_metadata_served.csv", dtype=str)
    lat = (frame["LatMin"].astype(float) + frame["LatMax"].astype(float)) / 2
    lon = (frame["LonMin"].astype(float) + frame["LonMax"].astype(float)) / 2
    mine = cells[cells["dataset"] == "I_sandwich"]
    assert mine["images"].sum() == len(frame)
    assert np.average(mine["lat"], weights=mine["images"]) == pytest.approx(lat.mean(), abs=1e-9)
    assert np.average(mine["lon"], weights=mine["images"]) == pytest.approx(lon.mean(), abs=1e-9)
    assert not mine["satellite"].any()
    assert cells.loc[cells["dataset"] == "C_s2", "satellite"].all()


@needs_data
def test_geolabel_plots_writes_every_figure(coast_train, tmp_path):
    remaps = sorted((SHARED_DATA / "coasttrain" / "remap").glob("*.json"))
    args = ["plots", "--store", coast_train.location, str(tmp_path / "figs")]
    assert main(args + sum((["--remap", str(p)] for p in remaps), [])) == 0
    written = sorted(p.stem for p in (tmp_path / "figs").glob("*.png"))
    assert written == sorted(FIGURES)
    assert all((tmp_path / "figs" / f"{n}.png").stat().st_size > 10_000 for n in written)
    reference = SHARED_DATA / "coasttrain" / "reference_plots"
    assert {p.stem for p in reference.glob("*.png")} <= set(written)


def test_figures_follow_tags_undos_and_remaps(event):
    store, ids = event
    store.tag(ids[0], "present", task="flood", labeler="ann")
    store.tag(ids[1], "present", task="flood", labeler="ann")
    store.tag(ids[1], "not present", task="flood", labeler="bo")
    counts = lambda view=None: class_frame(store, view).set_index("class")["images"].to_dict()  # noqa: E731
    assert counts() == {"present": 2, "not present": 1}
    store.remap("any", {"present": "seen", "not present": "seen"})
    assert counts("any") == {"seen": 2}
    store.undo(task="flood", labeler="ann")
    assert counts() == {"present": 1, "not present": 1}
    assert counts("any") == {"seen": 2}  # ids[1] still has bo's tag
    store.undo(task="flood", labeler="ann")
    assert counts() == {"not present": 1} and counts("any") == {"seen": 1}
    assert labeler_frame(store).set_index("labeler")["images"].to_dict() == {"bo": 1}


def test_figures_read_through_the_store_and_see_its_open_transaction(event):
    """The figures' data comes through the store's read path: inside a transaction
    they count its writes before the commit, and a rollback takes them back."""
    store, ids = event
    with pytest.raises(RuntimeError, match="changed my mind"):
        with store.transaction():
            store.tag(ids[0], "present", task="flood", labeler="ann")
            assert class_frame(store).set_index("class")["images"].to_dict() == {"present": 1}
            assert labeler_frame(store)["labeler"].tolist() == ["ann"]
            raise RuntimeError("changed my mind")
    assert class_frame(store).empty and labeler_frame(store).empty
    with pytest.raises(StoreError, match="no distribution of 'pixels'; there are 'classes'"):
        store.distribution("pixels")


def test_agreement_is_kappa_for_tags_and_iou_for_masks(event):
    store, ids = event
    first = ["present", "present", "not present", "present", "not present", "not present"]
    second = ["present", "not present", "not present", "present", "not present", "present"]
    for image, one, two in zip(ids, first, second):
        store.tag(image, one, task="flood", labeler="ann")
        store.tag(image, two, task="flood", labeler="bo")
    store.add_task("land", type="semantic_segmentation", classes=["water", "sand"])
    block = np.ones((12, 16), np.uint8)  # 4 x 4 blocks of the 48 x 64 image
    a = np.zeros((4, 4), np.uint8)
    a[:, 2:] = 1
    b = np.zeros((4, 4), np.uint8)
    b[:, 1:] = 1
    a, b = np.kron(a, block), np.kron(b, block)
    store.add_mask(ids[0], a, task="land", labeler="ann")
    store.add_mask(ids[0], b, task="land", labeler="bo")
    frame = agreement_frame(store)
    kappa = frame[frame["measure"] == "kappa"].iloc[0]
    assert kappa["value"] == pytest.approx(cohen_kappa_score(first, second))
    assert kappa["images"] == 6
    iou = frame[frame["measure"] == "iou"].set_index("class")["value"]
    assert iou["water"] == pytest.approx(4 / 8) and iou["sand"] == pytest.approx(8 / 12)
    pixels = class_pixel_frame(store).set_index("class")["pixels"].to_dict()
    assert pixels == {"water": (8 + 4) * block.size, "sand": (8 + 12) * block.size}


def test_a_bad_metadata_csv_is_refused_with_its_line_and_nothing_added(store, tmp_path):
    good = "image_filename,classes_array,classes_present_array,ImageHeightPx,ImageWidthPx\n"
    row = "images/a_ID1.jpg,\"'water', 'sand'\",\"'water'\",10,10\n"
    cases = {
        "no_column.csv": ("image_filename,classes_array\nx,y\n", "missing column"),
        "no_labeler.csv": (good + row + row.replace("_ID1", ""), "line 3"),
        "no_file.csv": (good + row + ",\"'water'\",\"'water'\",4,4\n",
                        "line 3: image_filename"),
        "bad_size.csv": (good + row.replace(",10,10", ",n/a,10"), "ImageHeightPx"),
        "bad_classes.csv": (good + row.replace("'water', 'sand'", "water sand"),
                            "classes_array"),
        "nested.csv": (good + row.replace("'water', 'sand'", "[" * 5000 + "]" * 5000),
                       "classes_array"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(StoreError, match=message):
            read_coasttrain(store, tmp_path / name)
    assert len(store.images) == 0 and len(store.annotations) == 0


def test_a_record_read_twice_is_the_same_images_and_labels(store, tmp_path):
    text = ("image_filename,classes_array,classes_present_array,ImageHeightPx,ImageWidthPx,"
            "doodle_spatial_density,LonMin,LonMax,LatMin,LatMax\n"
            "/images/a_ID2.jpg,\"'water', 'sand'\",\"'water', 'sand'\",10,20,0.25,1,2,3,4\n")
    (tmp_path / "X_test_meta.csv").write_text(text)
    first = read_coasttrain(store, tmp_path / "X_test_meta.csv")
    second = read_coasttrain(store, tmp_path)  # the record folder
    assert first == second and len(store.images) == 1
    assert class_frame(store)["images"].tolist() == [1, 1]
    assert dataset_frame(store)["percent_doodled"].tolist() == [pytest.approx(25.0)]
    assert Path(store.images.iloc[0]["uri"]).name == "a_ID2.jpg"


def test_a_view_can_send_one_class_to_different_classes_per_dataset(store, tmp_path):
    from tests.conftest import write_images

    a = store.add_images(write_images(tmp_path / "a", 2), dataset="a", progress=False)
    b = store.add_images(write_images(tmp_path / "b", 1, seed=5), dataset="b", progress=False)
    store.add_task("cover", type="classification", classes=["veg", "sand"])
    for image_id in a + b:
        store.tag(image_id, "veg", task="cover", labeler="ann")
    store.remap("split veg", {"*": {"sand": "sediment"}, "a": {"veg": "marsh"},
                              "b": {"veg": "dune grass"}})
    got = class_frame(store, view="split veg").set_index(["dataset", "class"])["images"]
    assert got.to_dict() == {("a", "marsh"): 2, ("b", "dune grass"): 1}
    assert class_frame(store)["class"].unique().tolist() == ["veg"]  # labels untouched


def test_a_figure_returned_by_a_cell_shows_as_an_image_in_a_kernel(tmp_path):
    """A bare matplotlib Figure has no image form in Jupyter unless something gives it one;
    without it a notebook shows '<Figure size ... with 6 Axes>'."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import pandas as pd\n"
        "from geolabel_widgets.plots import figures\n"
        "frame = pd.DataFrame({'dataset': ['a', 'a'], 'task': ['t', 't'],\n"
        "                      'labeler': ['ID1', 'ID2'], 'images': [3, 5],\n"
        "                      'megapixels': [1.0, 2.0]})\n"
        "figures.images_per_labeler(frame=frame)")]
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[0].outputs
    assert any("image/png" in output.get("data", {}) for output in outputs), outputs
