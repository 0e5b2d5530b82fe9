"""docs/api.md stays true: it names every public name of the store, and nothing else."""

import re
from pathlib import Path

from geolabel_widgets import LabelStore
from geolabel_widgets.formats import FORMATS

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_the_api_page_names_every_public_name_of_the_store_and_no_other(tmp_path):
    page = API.read_text()
    named = set(re.findall(r"store\.([a-z_]+)", page)) | \
        set(re.findall(r"LabelStore\.([a-z_]+)", page))
    with LabelStore.open(tmp_path / "store.sqlite") as store:
        public = {name for name in dir(store) if not name.startswith("_")}
    assert named - public == set(), "the page names what the store does not have"
    assert public - named == set(), "the page leaves these out"


def test_the_api_page_lists_every_format():
    listed = re.search(r"for each name in `FORMATS` \(([^)]*)\)", API.read_text()).group(1)
    assert [name.strip() for name in " ".join(listed.split()).split(",")] == sorted(FORMATS)
