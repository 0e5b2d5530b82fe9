"""Notebooks are committed without outputs, with a kernelspec, and as make_notebooks.py
writes them."""

import runpy
import shutil
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert {"00_quickstart.ipynb", "01_tag_images.ipynb", "04_distributions.ipynb"} <= {p.name for p in ALL}


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_a_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"{path.name} was saved with outputs: clear them before committing"


def test_notebooks_match_their_source(tmp_path):
    shutil.copy(NOTEBOOKS / "make_notebooks.py", tmp_path)
    runpy.run_path(str(tmp_path / "make_notebooks.py"))
    for path in ALL:
        fresh = tmp_path / path.name
        assert fresh.read_text() == path.read_text(), \
            f"{path.name} differs from make_notebooks.py: edit the script and run it"
