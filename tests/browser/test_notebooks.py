"""Every demo notebook runs in JupyterLab, Notebook 7 and Voila with no error and every
widget view rendered."""

from pathlib import Path

import pytest

from .harness import NotebookPage, VoilaPage, copy_notebook, write_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
FRONTENDS = ("jupyterlab", "notebook7", "voila")


def run(frontend: str, page, lab, name: str):
    """Open ``name`` in ``frontend`` and run every cell."""
    if frontend == "voila":
        return VoilaPage(page, lab, name).open()
    notebook = NotebookPage(page, lab, name)
    return notebook.open(frontend="lab" if frontend == "jupyterlab" else "notebook").run_all(
        timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_runs_and_every_widget_renders(source, frontend, lab, page, screenshots):
    copy_notebook(source, lab.root)
    notebook = run(frontend, page, lab, source.name)
    assert notebook.wait_widgets() == []
    for tagger in page.locator(".geolabel-tagger").all():
        tagger.locator(".gl-image").wait_for(state="visible", timeout=30_000)
    assert page.locator(".jp-OutputArea-output").count() > 0
    notebook.screenshot(screenshots / f"notebook_{source.stem}_{frontend}.png")
    assert notebook.errors() == []


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_an_error_in_a_cell_is_seen_in_every_frontend(frontend, lab, page):
    """The check above would catch a failing notebook, whichever front end runs it."""
    write_notebook(lab.root / "broken.ipynb", ["import ipywidgets\nipywidgets.IntSlider()",
                                               "1 / 0"])
    notebook = run(frontend, page, lab, "broken.ipynb")
    assert notebook.wait_widgets() == []
    assert any("ZeroDivisionError" in error for error in notebook.errors())
