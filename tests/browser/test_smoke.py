"""The harness itself: JupyterLab runs a notebook, our widget renders, a click reaches
the kernel and the store."""

from geolabel_widgets import LabelStore
from conftest import write_images

from .harness import write_notebook


def test_a_tagger_renders_and_a_click_is_stored(lab, open_notebook, tmp_path, screenshots):
    images = write_images(tmp_path / "images", 3, size=(320, 240))
    store_path = tmp_path / "smoke.sqlite"
    with LabelStore.open(store_path) as store:
        ids = store.add_images(images, dataset="smoke", progress=False)
    write_notebook(lab.root / "smoke.ipynb", [
        "from geolabel_widgets import LabelStore, ImageTagger",
        f"store = LabelStore.open({str(store_path)!r})\n"
        "tagger = ImageTagger(store, task='flood', labeler='ann')\ntagger",
    ])
    notebook = open_notebook("smoke.ipynb").run_all()
    page = notebook.page
    tagger = page.locator(".geolabel-tagger")
    tagger.wait_for(timeout=60_000)
    page.locator(".geolabel-tagger .gl-image").wait_for(state="visible", timeout=30_000)
    assert "1 / 3" in tagger.locator(".gl-position").inner_text()
    page.get_by_role("button", name="present (1)").click()
    page.wait_for_function(
        "() => document.querySelector('.geolabel-tagger').dataset.pending === '0'"
        " && document.querySelector('.geolabel-tagger .gl-position').textContent.startsWith('2')")
    notebook.screenshot(screenshots / "smoke_tagger.png")
    assert notebook.errors() == [] and notebook.widget_problems() == []
    with LabelStore.open(store_path) as store:
        tags = store.annotations
    assert tags[["image_id", "labeler", "value"]].values.tolist() == [[ids[0], "ann", "present"]]
