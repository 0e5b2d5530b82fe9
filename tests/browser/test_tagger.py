"""ImageTagger in a real JupyterLab: keys as a person presses them, checked in the store."""

import pytest

from geolabel_widgets import LabelStore

from .harness import tagger_settled as _settled
from .harness import write_notebook, write_scenes

TASK = "plume"


@pytest.fixture
def tagger_store(tmp_path, shared_data):
    """Three synthetic demo scenes, then the real photos and GeoTIFF."""
    folder = write_scenes(tmp_path / "scenes", 3)
    path = tmp_path / "tagger.sqlite"
    with LabelStore.open(path) as store:
        ids = store.add_images(folder, dataset="demo", progress=False)
        ids += store.add_images(shared_data / "imagery", dataset="real", progress=False)
    return path, ids


def _notebook(lab, path, before_shown=""):
    write_notebook(lab.root / "tag.ipynb", [
        "from geolabel_widgets import LabelStore, ImageTagger",
        f"store = LabelStore.open({str(path)!r})\n"
        f"tagger = ImageTagger(store, task={TASK!r}, labeler='ann')\n{before_shown}tagger",
    ])


TIMINGS = "() => document.querySelector('.geolabel-tagger').geolabelTimings"


def _tags(path):
    with LabelStore.open(path) as store:
        tags = store.get_annotations(task=TASK, kinds=["tag"])
        statuses = store.statuses(TASK)
    return (dict(zip(tags["image_id"], tags["value"])),
            dict(zip(statuses["image_id"], statuses["status"])))


def test_keys_tag_skip_go_back_and_undo(lab, open_notebook, tagger_store, screenshots):
    path, ids = tagger_store
    _notebook(lab, path)
    notebook = open_notebook("tag.ipynb").run_all()
    page = notebook.page
    image = page.locator(".geolabel-tagger .gl-image")
    image.wait_for(state="visible", timeout=30_000)
    image.click()
    cells_before = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                                 ".map(c => c.model.type)")

    page.keyboard.press("1")
    _settled(page, 1)
    assert _tags(path)[0] == {ids[0]: "present"}

    page.keyboard.press("2")
    _settled(page, 2)
    assert _tags(path)[0] == {ids[0]: "present", ids[1]: "not present"}

    page.keyboard.press("s")
    _settled(page, 3)
    assert _tags(path)[1][ids[2]] == "skipped"

    page.keyboard.press("ArrowLeft")
    _settled(page, 2)
    page.keyboard.press("z")
    page.wait_for_function("() => document.querySelector('.geolabel-tagger .gl-label')"
                           ".textContent.startsWith('unlabeled')")
    _settled(page, 2)
    tags, statuses = _tags(path)
    assert ids[2] not in statuses  # the skip was undone
    assert tags == {ids[0]: "present", ids[1]: "not present"}

    # the digits went to the tagger, not to JupyterLab (1 and 2 change a cell's type)
    cells_after = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets"
                                ".map(c => c.model.type)")
    assert cells_after == cells_before == ["code", "code"]
    # the benchmark's timings are off unless asked for, and nothing lands on window
    assert page.evaluate(TIMINGS) is None
    assert page.evaluate("() => Object.keys(window).filter(k => k.includes('geolabel'))") == []

    # a real GeoTIFF and the real photos show as images
    page.keyboard.press("ArrowRight")
    _settled(page, 3)
    shown = page.evaluate("() => { const i = document.querySelector('.geolabel-tagger "
                          ".gl-image'); return [i.naturalWidth, i.naturalHeight]; }")
    assert shown[0] > 100 and shown[1] > 100
    assert "3 bands uint8" in page.locator(".geolabel-tagger .gl-info").inner_text()
    notebook.screenshot(screenshots / "tagger_keys.png")
    assert notebook.errors() == [] and notebook.widget_problems() == []


def test_keys_work_after_the_cell_is_run_again(lab, open_notebook, tagger_store):
    path, ids = tagger_store
    _notebook(lab, path, before_shown="tagger.timing = True\n")
    notebook = open_notebook("tag.ipynb").run_all()
    notebook.page.locator(".geolabel-tagger .gl-image").wait_for(state="visible")
    notebook.run_all()
    page = notebook.page
    page.locator(".geolabel-tagger .gl-image").wait_for(state="visible")
    page.keyboard.press("2")  # no click: the new view took the focus itself
    _settled(page, 1)
    assert _tags(path)[0] == {ids[0]: "not present"}
    page.wait_for_function(f"() => ({TIMINGS})().saved.length === 1")
    timings = page.evaluate(TIMINGS)  # as benchmarks/tagger.py reads them
    assert len(timings["shown"]) == 1 and 0 < timings["saved"][0] < 10_000


def test_tags_pending_at_a_kernel_restart_are_sent_again(lab, open_notebook, tagger_store,
                                                         screenshots):
    path, ids = tagger_store
    _notebook(lab, path)
    notebook = open_notebook("tag.ipynb").run_all()
    page = notebook.page
    page.locator(".geolabel-tagger .gl-image").click()
    notebook.kernel_restart()
    page.keyboard.press("1")  # the kernel that held this widget is gone
    page.wait_for_function("() => document.querySelector('.geolabel-tagger')"
                           ".dataset.pending === '1'")
    state = page.locator(".geolabel-tagger .gl-state").inner_text()
    assert "kernel is not connected" in state and "1 tag(s) waiting to be saved" in state
    notebook.screenshot(screenshots / "tagger_pending.png")
    assert _tags(path)[0] == {}
    notebook.run_all()  # the user re-runs the cell
    page.wait_for_function("() => [...document.querySelectorAll('.geolabel-tagger')]"
                           ".some(el => el.dataset.pending === '0' && el.querySelector("
                           "'.gl-state').textContent === 'all tags saved')")
    assert _tags(path)[0] == {ids[0]: "present"}


def test_two_views_of_one_tagger_share_its_pending_tags_and_its_undo(lab, open_notebook,
                                                                      tagger_store):
    path, ids = tagger_store
    write_notebook(lab.root / "twice.ipynb", [
        "import time\nfrom geolabel_widgets import LabelStore, ImageTagger\n"
        f"store = LabelStore.open({str(path)!r})\n"
        "tag = store.tag\n"
        "def slow_tag(*args, **kwargs):  # the kernel slow on purpose\n"
        "    time.sleep(1.5)\n"
        "    return tag(*args, **kwargs)\n"
        "store.tag = slow_tag",
        f"tagger = ImageTagger(store, task={TASK!r}, labeler='ann')\ndisplay(tagger)\ntagger",
    ])
    page = open_notebook("twice.ipynb").run_all().page
    views = page.locator(".geolabel-tagger")
    for k in range(2):
        views.nth(k).locator(".gl-image").wait_for(state="visible", timeout=30_000)
    views.nth(0).locator(".gl-image").click()
    page.keyboard.press("1")
    # the other view shows the tag waiting too: the writes are the tagger's
    page.wait_for_function("() => document.querySelectorAll('.geolabel-tagger')[1]"
                           ".dataset.pending === '1'", timeout=5_000)
    page.wait_for_function("() => [...document.querySelectorAll('.geolabel-tagger')]"
                           ".every(el => el.dataset.pending === '0')", timeout=30_000)
    assert _tags(path)[0] == {ids[0]: "present"}
    views.nth(1).locator(".gl-image").click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # the second view on the third image
    page.keyboard.press("z")  # takes back the tagger's last tag, made in the first view
    page.wait_for_function("() => document.querySelectorAll('.geolabel-tagger')[1]"
                           ".dataset.position === '0'", timeout=30_000)
    page.wait_for_function("() => [...document.querySelectorAll('.geolabel-tagger')]"
                           ".every(el => el.dataset.pending === '0')", timeout=30_000)
    assert _tags(path)[0] == {}
