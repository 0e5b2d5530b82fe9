import os
import re
from pathlib import Path

import pytest

from conftest import SHARED_DATA

from .harness import CHROMIUM, CHROMIUM_FLAGS, JupyterLab, NotebookPage

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh --test (installs Debian's "
                    "chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """One JupyterLab for the tests of a worker; each test has a folder of its own."""
    env = {"GEOLABEL_SHARED_DATA": str(SHARED_DATA)}
    if "GEOLABEL_DEMO_STORE" in os.environ:  # the test run's demo store, not the user's
        env["GEOLABEL_DEMO_STORE"] = os.environ["GEOLABEL_DEMO_STORE"]
    with JupyterLab(tmp_path_factory.mktemp("lab"), env=env) as server:
        yield server


@pytest.fixture
def lab(lab_server, request):
    """The shared JupyterLab seen from this test's folder; the test's kernels are shut
    down after it, so none holds a store or a core for the next."""
    yield lab_server.within(re.sub(r"\W", "_", request.node.name)[:80])
    lab_server.shut_down_kernels()


@pytest.fixture
def open_notebook(page, lab):
    def _open(name: str) -> NotebookPage:
        return NotebookPage(page, lab, name).open()
    return _open


@pytest.fixture
def screenshots() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
