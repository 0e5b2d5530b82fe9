"""A tag lands on the image the person saw, at any key rate, with the kernel slow on
purpose: every store write sleeps 200 ms, so the view runs far ahead of the store.

Each press is logged in the page as the key goes down (a capture listener, before
the tagger's own), with the image then on screen; the store's rows must name those
images, in that order, each once.
"""

import time
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from geolabel_widgets import LabelStore, demo

from .harness import NotebookPage, write_notebook

SLOW_WRITE_S = 0.2
COUNT = 30

LOG_PRESSES = """() => {
  window.__presses = [];
  document.addEventListener("keydown", (event) => {
    const el = document.querySelector(".geolabel-tagger");
    window.__presses.push({key: event.key, repeat: event.repeat,
                           image: el.dataset.imageId, position: Number(el.dataset.position)});
  }, true);
}"""


@pytest.fixture(scope="module")
def speed_lab(tmp_path_factory, browser, lab_server):
    """The shared JupyterLab and one store of 30 distinct 1024 x 1024 JPEGs for every case."""
    root = tmp_path_factory.mktemp("speed")
    rgb, _ = demo.coastal_scene(np.random.default_rng(7), 1024)
    folder = root / "scenes"
    folder.mkdir()
    for k in range(COUNT):  # one scene, shifted and shaded: 30 different images
        shaded = np.clip(np.roll(rgb, 31 * k, axis=1).astype(int) + k - 15, 0, 255)
        Image.fromarray(shaded.astype(np.uint8)).save(folder / f"scene_{k:02d}.jpg")
    path = root / "speed.sqlite"
    with LabelStore.open(path) as store:
        store.add_images(folder, dataset="speed", progress=False)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    yield lab_server.within("speed"), context, path
    context.close()
    lab_server.shut_down_kernels()


# a model's class for every image: present on even places of the queue, else not present
PREDICT = ("import pandas as pd\n"
           "queue = store.queue({task!r}, 'ann')\n"
           "store.add_predictions(pd.DataFrame({{'image_id': queue, 'score': 0.7, 'value': "
           "['not present' if k % 2 else 'present' for k in range(len(queue))]}}), "
           "task={task!r}, model='oracle')\n")


def _open_tagger(speed_lab, task: str, before: str = "") -> NotebookPage:
    lab, context, path = speed_lab
    write_notebook(lab.root / f"{task}.ipynb", [
        "import time\nfrom geolabel_widgets import LabelStore, ImageTagger\n"
        f"store = LabelStore.open({str(path)!r})\n"
        "def slowly(write):\n"
        "    def slow_write(*args, **kwargs):\n"
        f"        time.sleep({SLOW_WRITE_S})\n"
        "        return write(*args, **kwargs)\n"
        "    return slow_write\n"
        "for name in ('tag', 'skip', 'undo', 'redo', 'reject_prediction'):\n"
        "    setattr(store, name, slowly(getattr(store, name)))",
        f"store.add_task({task!r})\n{before}"
        f"tagger = ImageTagger(store, task={task!r}, labeler='ann')\ntagger",
    ])
    page = context.new_page()
    notebook = NotebookPage(page, lab, f"{task}.ipynb").open().run_all()
    image = page.locator(".geolabel-tagger .gl-image")
    image.wait_for(state="visible", timeout=60_000)
    image.click()
    page.evaluate(LOG_PRESSES)
    return notebook


def _press(page, keys, interval: float) -> None:
    for key in keys:
        page.keyboard.press(key)
        time.sleep(interval)


def _drained(page, timeout: float = 60) -> None:
    page.wait_for_function("() => document.querySelector('.geolabel-tagger')"
                           ".dataset.pending === '0'", timeout=timeout * 1000, polling=50)


def _rows(path, task):
    with LabelStore.open(path) as store:
        history = store.get_annotations(task=task, history=True).sort_values("annotation_id")
        current = store.get_annotations(task=task)
        statuses = store.statuses(task)
    return history, current, statuses


@pytest.mark.parametrize("interval", [0.03, 0.1, 0.3])
def test_every_press_tags_the_image_on_screen_once(speed_lab, interval, screenshots):
    task = f"presence_{int(interval * 1000)}ms"
    notebook = _open_tagger(speed_lab, task)
    page = notebook.page
    _press(page, ["1"] * COUNT, interval)
    _drained(page)
    presses = page.evaluate("() => window.__presses")
    seen = [p["image"] for p in presses if p["image"]]
    ignored = int(page.locator(".geolabel-tagger").get_attribute("data-ignored"))
    history, _, _ = _rows(speed_lab[2], task)
    tags = history[history["kind"] == "tag"]
    assert tags["image_id"].tolist() == seen  # each press on the image it was shown on
    assert len(set(seen)) == len(seen)  # none twice
    assert ignored == len(presses) - len(seen)  # a press while loading did nothing, and said so
    assert set(tags["value"]) == {"present"}
    if interval >= 0.1:  # the view holds eight images ahead: at a person's pace none is missed
        assert len(seen) == COUNT
    notebook.screenshot(screenshots / f"tagger_speed_{task}.png")
    page.close()


def test_a_held_key_tags_one_image_and_says_so(speed_lab, screenshots):
    task = "presence_held"
    notebook = _open_tagger(speed_lab, task)
    page = notebook.page
    page.keyboard.down("1")
    for _ in range(20):  # the key's auto-repeat, about every 30 ms
        time.sleep(0.03)
        page.keyboard.down("1")
    page.keyboard.up("1")
    _drained(page)
    presses = page.evaluate("() => window.__presses")
    assert [p["repeat"] for p in presses] == [False] + [True] * 20
    history, _, _ = _rows(speed_lab[2], task)
    assert history["image_id"].tolist() == [presses[0]["image"]]
    assert page.locator(".geolabel-tagger").get_attribute("data-ignored") == "20"
    assert "acts once" in page.locator(".geolabel-tagger .gl-note").inner_text()
    notebook.screenshot(screenshots / "tagger_held_key.png")
    page.close()


def test_tag_skip_back_and_undo_at_speed_land_where_they_were_pressed(speed_lab):
    task = "presence_mixed"
    notebook = _open_tagger(speed_lab, task)
    page = notebook.page
    keys = ["1", "2", "s", "1", "ArrowLeft", "2", "z", "z", "1", "ArrowRight", "2", "s",
            "ArrowLeft", "ArrowLeft", "1", "z", "y", "2", "1"]
    _press(page, keys, 0.1)
    _drained(page)
    presses = page.evaluate("() => window.__presses")
    assert [p["key"] for p in presses] == keys and all(p["image"] for p in presses)
    expected = _replay(presses)
    _, current, statuses = _rows(speed_lab[2], task)
    got = {row.image_id: row.value for row in current.itertuples() if row.kind == "tag"}
    got.update({row.image_id: "skipped" for row in statuses.itertuples()
                if row.status == "skipped"})
    assert got == expected


def test_ten_fast_tags_then_ten_fast_undos_leave_the_store_as_it_was(speed_lab):
    task = "presence_undo"
    notebook = _open_tagger(speed_lab, task)
    page = notebook.page
    _press(page, ["1"] * 10 + ["z"] * 10, 0.03)
    _drained(page)
    _, current, statuses = _rows(speed_lab[2], task)
    assert current.empty
    assert set(statuses["status"]) <= {"unlabeled"}
    assert page.locator(".geolabel-tagger").get_attribute("data-position") == "0"
    page.close()


def test_a_models_class_is_taken_or_rejected_by_key_on_the_image_shown(speed_lab,
                                                                     screenshots):
    task = "presence_model"
    notebook = _open_tagger(speed_lab, task, before=PREDICT.format(task=task))
    page = notebook.page
    page.locator(".geolabel-tagger .gl-model", has_text="model oracle").wait_for()
    keys = ["g", "n", "2", "g", "n", "1", "g", "g"]
    _press(page, keys, 0.1)
    _drained(page)
    presses = page.evaluate("() => window.__presses")
    assert [p["key"] for p in presses] == keys and all(p["image"] for p in presses)
    with LabelStore.open(speed_lab[2]) as store:
        predicted = store.predictions(task=task).set_index("image_id")
        tags = store.get_annotations(task=task, kinds=["tag"]).set_index("image_id")
        rejected = store.get_annotations(task=task, kinds=["rejection"])
    assert len(tags) == 6 and len(rejected) == 2
    for press in presses:
        image = press["image"]
        if press["key"] == "g":  # the model's class for the image on screen, and which
            assert tags.loc[image, "value"] == predicted.loc[image, "value"]
            assert tags.loc[image, "props"]["prediction_id"] == \
                predicted.loc[image, "prediction_id"]
        elif press["key"] == "n":
            assert rejected.set_index("image_id").loc[image, "value"] == \
                predicted.loc[image, "value"]
        else:  # the person's own class after a rejection, on the same image
            assert tags.loc[image, "value"] == {"1": "present", "2": "not present"}[
                press["key"]] and tags.loc[image, "props"] is None
    _press(page, ["ArrowLeft"] * 3, 0.1)  # back to an image whose model class was rejected
    page.locator(".geolabel-tagger .gl-model.gl-rejected").wait_for()
    notebook.screenshot(screenshots / "tagger_model_rejected.png")
    page.close()


def _replay(presses) -> dict:
    """What the store should say after these presses: the tagger's rules, played
    by hand. A write goes to the image on screen; z takes back this view's last
    write (y puts it back); each image shows its newest write."""
    values = {"1": "present", "2": "not present", "s": "skipped"}
    writes = defaultdict(list)
    done, undone = [], []
    for press in presses:
        key, image = press["key"], press["image"]
        if key in values:
            writes[image].append(values[key])
            done.append(image)
            undone.clear()
        elif key == "z":
            target = done.pop()
            undone.append((target, writes[target].pop()))
        elif key == "y":
            target, value = undone.pop()
            writes[target].append(value)
            done.append(target)
    return {image: w[-1] for image, w in writes.items() if w}
