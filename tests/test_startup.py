"""What each entry point loads: a script that reads labels, a format or the CLI's help
does not pay for the widgets, scikit-learn or matplotlib (nor the store for geopandas) (benchmarks/startup.py times it)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("sklearn", "skimage", "matplotlib", "ipywidgets", "ipyleaflet", "ipycanvas",
         "rasterio", "cartopy", "tqdm", "geopandas", "pyproj")
GEO = {"geopandas", "pyproj"}  # formats and widgets place things on Earth at once


def loaded(statement: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after ``statement``."""
    script = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True).stdout
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


@pytest.mark.parametrize("statement, allowed", [
    ("from geolabel_widgets import LabelStore", set()),
    ("from geolabel_widgets.formats import read_coco, READERS, FormatError", {"tqdm", *GEO}),
    ("from geolabel_widgets.widgets import ImageTagger", {"ipywidgets", "tqdm", *GEO}),
    ("from geolabel_widgets.cli import main\ntry:\n    main(['--help'])\n"
     "except SystemExit:\n    pass", set()),
])
def test_an_entry_point_loads_only_what_it_uses(statement, allowed):
    assert loaded(statement) & set(HEAVY) <= allowed


def test_the_cli_help_loads_no_store_and_no_format():
    modules = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom geolabel_widgets.cli import main\n"
         "try:\n    main(['import', '--help'])\nexcept SystemExit:\n    pass\n"
         "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'pandas', "
         "'geolabel_widgets.store', 'geolabel_widgets.formats.'))))"],
        check=True, capture_output=True, text=True).stdout.splitlines()[-1]
    assert modules == "[]"


def test_lazy_names_are_the_real_ones():
    import geolabel_widgets as package
    from geolabel_widgets.store import LabelStore
    from geolabel_widgets.widgets.tagger import ImageTagger

    assert package.LabelStore is LabelStore and package.ImageTagger is ImageTagger
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        package.Nope
