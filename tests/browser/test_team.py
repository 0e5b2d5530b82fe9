"""A labeling team on one PostgreSQL store, in a real JupyterLab: two labelers, each in
their own browser and kernel, tag one task; then the server goes away under one."""

import pytest

from geolabel_widgets import LabelStore

from .harness import NotebookPage, write_notebook, write_scenes
from .harness import tagger_settled as _settled

TASK = "plume"


@pytest.fixture
def team_url(postgres, tmp_path):
    """Twenty synthetic scenes in a task asking one label per image, for ann and bob."""
    folder = write_scenes(tmp_path / "scenes", 20, size=128)
    url = postgres.new_database()
    with LabelStore.open(url) as store:
        store.add_images(folder, dataset="demo", progress=False)
        store.add_task(TASK, classes=["present", "not present"], labels_per_image=1)
        for labeler in ("ann", "bob"):
            store.assign(TASK, labeler)
    return url


def _labeler_notebook(lab, url, labeler: str) -> str:
    name = f"{labeler}.ipynb"
    write_notebook(lab.root / name, [
        "from geolabel_widgets import LabelStore, ImageTagger",
        f"store = LabelStore.open({url!r})\n"
        f"tagger = ImageTagger(store, task={TASK!r}, labeler={labeler!r}, claim=3)\ntagger",
    ])
    return name


def _open(browser, lab, name: str) -> NotebookPage:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    notebook = NotebookPage(context.new_page(), lab, name).open().run_all()
    notebook.page.locator(".geolabel-tagger .gl-image").click()
    return notebook


def _tags(url):
    with LabelStore.open(url) as store:
        return store.get_annotations(task=TASK, kinds=["tag"])


def test_two_labelers_never_tag_the_same_image(browser, lab, team_url, screenshots):
    ann = _open(browser, lab, _labeler_notebook(lab, team_url, "ann"))
    bob = _open(browser, lab, _labeler_notebook(lab, team_url, "bob"))
    for step in range(4):  # turn about, as two people at once
        for notebook, key in ((ann, "1"), (bob, "2")):
            notebook.page.keyboard.press(key)
            _settled(notebook.page, step + 1)
    tags = _tags(team_url)
    assert len(tags) == 8 and tags["image_id"].is_unique  # eight images, each once
    assert tags.groupby("labeler")["value"].unique().map(list).to_dict() == {
        "ann": ["present"], "bob": ["not present"]}
    # what each still holds (their next images) is theirs alone, and not labeled
    with LabelStore.open(team_url) as store:
        held = store.leases.groupby("labeler")["image_id"].agg(set)
    assert not held["ann"] & held["bob"] and not (held["ann"] | held["bob"]) & set(
        tags["image_id"])
    bob.screenshot(screenshots / "team_bob.png")
    for notebook in (ann, bob):
        assert notebook.errors() == [] and notebook.widget_problems() == []
        notebook.page.context.close()


def test_a_tag_made_while_the_server_is_away_is_kept_and_saved(browser, lab, postgres,
                                                               team_url, screenshots):
    ann = _open(browser, lab, _labeler_notebook(lab, team_url, "ann"))
    page = ann.page
    page.keyboard.press("1")
    _settled(page, 1)
    postgres.stop("fast")
    try:
        page.keyboard.press("2")
        page.wait_for_function("() => document.querySelector('.geolabel-tagger .gl-state')"
                               ".textContent.includes('cannot reach the database')",
                               timeout=30_000)
        state = page.locator(".geolabel-tagger .gl-state").inner_text()
        assert "Kept here and sent again" in state and "1 tag(s) waiting to be saved" in state
        ann.screenshot(screenshots / "team_server_away.png")
        assert page.locator(".geolabel-tagger").get_attribute("data-pending") == "1"
    finally:
        postgres.start()
    _settled(page, 2)  # sent again by the view until the store took it
    assert page.locator(".geolabel-tagger .gl-state").inner_text() == "all tags saved"
    tags = _tags(team_url)
    assert sorted(tags["value"]) == ["not present", "present"]
    history = LabelStore.open(team_url).get_annotations(task=TASK, kinds=["tag"], history=True)
    assert len(history) == 2  # written once, however often it was sent
    page.context.close()
