"""Every demo notebook runs in JupyterLab with no error and every widget rendered."""

from pathlib import Path

import pytest

from .harness import copy_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_runs_in_jupyterlab(source, lab, open_notebook, screenshots):
    copy_notebook(source, lab.root)
    notebook = open_notebook(source.name).run_all(timeout=600)
    page = notebook.page
    page.wait_for_timeout(2000)  # widgets render after their cell finishes
    assert notebook.errors() == []
    assert notebook.widget_problems() == []
    for tagger in page.locator(".geolabel-tagger").all():
        tagger.locator(".gl-image").wait_for(state="visible", timeout=30_000)
    notebook.screenshot(screenshots / f"notebook_{source.stem}.png")

