"""A real JupyterLab on 127.0.0.1, driven in headless Chromium through Playwright.

Every widget test builds on this: write a notebook, open it, run all cells,
then click and type as a person would and check the store.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
from PIL import Image

from geolabel_widgets import demo

CHROMIUM = os.environ.get("GEOLABEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLab:
    """A JupyterLab server in ``root`` for the length of a ``with`` block."""

    def __init__(self, root: Path, env: dict | None = None):
        self.root = Path(root)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.env = env or {}
        self.process: subprocess.Popen | None = None
        self.log = self.root / "jupyterlab.log"
        self.prefix = ""  # where ``root`` lies under the server's root (see ``within``)

    def __enter__(self) -> "JupyterLab":
        self.root.mkdir(parents=True, exist_ok=True)
        private = self.root / ".jupyter-private"
        env = {**os.environ, **self.env,
               "JUPYTER_CONFIG_DIR": str(private / "config"),
               "JUPYTER_RUNTIME_DIR": str(private / "runtime"),
               "JUPYTERLAB_WORKSPACES_DIR": str(private / "workspaces"),
               "JUPYTERLAB_SETTINGS_DIR": str(private / "settings")}
        self._settings(private / "settings")
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
                   f"--port={self.port}", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}", "--allow-root",
                   "--LabApp.expose_app_in_browser=True",
                   "--JupyterNotebookApp.expose_app_in_browser=True",
                   "--VoilaConfiguration.show_tracebacks=True",
                   "--LabApp.news_url=", "--LabApp.check_for_updates_class="
                   "jupyterlab.NeverCheckForUpdate"]
        self.process = subprocess.Popen(command, env=env, stdout=open(self.log, "w"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited:\n{self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url("api/status"), timeout=2)
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not start:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def within(self, name: str) -> "JupyterLab":
        """The same server seen from its subfolder ``name``: a notebook written into the
        view's ``root`` opens by its own name. Tests share one server this way (starting
        one costs about six seconds)."""
        view = copy.copy(self)
        view.root, view.prefix = self.root / name, f"{self.prefix}{name}/"
        view.root.mkdir(parents=True, exist_ok=True)
        return view

    def shut_down_kernels(self) -> None:
        """Every kernel of the server (what the tests before left running)."""
        for kind in ("sessions", "kernels"):
            with urllib.request.urlopen(self.url(f"api/{kind}"), timeout=10) as answer:
                running = json.load(answer)
            for item in running:
                request = urllib.request.Request(self.url(f"api/{kind}/{item['id']}"),
                                                 method="DELETE")
                try:
                    urllib.request.urlopen(request, timeout=30).close()
                except urllib.error.HTTPError as err:  # gone with its session
                    if err.code != 404:
                        raise

    @staticmethod
    def _settings(folder: Path) -> None:
        """No announcements popup and no kernel dialogs in the way of a test."""
        plugin = folder / "@jupyterlab" / "apputils-extension"
        plugin.mkdir(parents=True, exist_ok=True)
        (plugin / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells, with a kernelspec so that no kernel dialog appears."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def write_scenes(folder: Path, count: int, size: int = demo.SIZE) -> Path:
    """``count`` synthetic coastal scenes (the demo's drawing) as JPEGs in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        rgb, _ = demo.coastal_scene(np.random.default_rng(k), size)
        Image.fromarray(rgb).save(folder / f"scene_{k}.jpg")
    return folder


def tagger_settled(page, position: int, timeout: float = 30) -> None:
    """Until the ImageTagger shows ``position`` with no tag waiting to be saved; if it
    never does, what it shows instead."""
    try:
        page.wait_for_function(
            "(p) => { const el = document.querySelector('.geolabel-tagger');"
            " return el && el.dataset.pending === '0' && el.dataset.position === String(p); }",
            arg=position, timeout=timeout * 1000)
    except Exception:
        state = page.evaluate("() => { const el = document.querySelector('.geolabel-tagger');"
                              " return el && [el.dataset.pending, el.dataset.position,"
                              " el.querySelector('.gl-state').textContent,"
                              " el.querySelector('.gl-position').textContent]; }")
        raise AssertionError(f"tagger not settled at {position}: {state}") from None


def copy_notebook(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(source, folder / source.name))


class RenderedNotebook:
    """What every front end shows the same way: outputs, errors and widget views."""

    def __init__(self, page, lab: JupyterLab, name: str):
        self.page = page
        self.lab = lab
        self.name = name
        self.path = lab.prefix + name  # under the server's root

    def errors(self) -> list[str]:
        """Text of every error output in the notebook."""
        return self.page.evaluate("""() => [...document.querySelectorAll(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
            + ' .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')]
            .map(n => n.textContent)
            .filter(t => /Error|Traceback/.test(t))""")

    def widget_problems(self) -> list[str]:
        return self.page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output')]
            .map(n => n.textContent)
            .filter(t => t.includes('Error displaying widget') || t.includes('Loading widget'))""")

    def wait_widgets(self, timeout: float = 60) -> list[str]:
        """Until every widget view has rendered or ``timeout`` passed; what is still wrong."""
        deadline = time.monotonic() + timeout
        while (problems := self.widget_problems()) and time.monotonic() < deadline:
            self.page.wait_for_timeout(500)
        return problems

    def screenshot(self, path: Path) -> Path:
        """The whole notebook: the viewport grown to the height of what scrolls."""
        path.parent.mkdir(parents=True, exist_ok=True)
        size = self.page.viewport_size
        height = self.page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
        self.page.set_viewport_size({"width": size["width"], "height": min(height + 40, 12000)})
        self.page.wait_for_timeout(800)  # maps and canvases redraw at the new size
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size(size)
        return path


class NotebookPage(RenderedNotebook):
    """A notebook open in JupyterLab (or Notebook 7, the same application shell)."""

    def open(self, timeout: float = 120, frontend: str = "lab") -> "NotebookPage":
        if frontend == "lab":
            # a workspace of its own, so that no earlier notebook is reopened beside it
            workspace = re.sub(r"\W", "_", self.path)
            self.page.goto(self.lab.url(f"lab/workspaces/{workspace}/tree/{self.path}"))
        else:
            self.page.goto(self.lab.url(f"notebooks/{self.path}"))
        self.page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.sessionContext"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
            ".connectionStatus === 'connected'"
            " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
            " === 'idle'", timeout=timeout * 1000)
        return self

    def run_all(self, timeout: float = 300) -> "NotebookPage":
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.wait_idle(timeout)
        return self

    def wait_idle(self, timeout: float = 300) -> None:
        """Until every code cell has run and the kernel is idle."""
        self.page.wait_for_function("""() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel.sessionContext.session.kernel;
            const cells = panel.content.widgets.filter(c => c.model.type === 'code');
            const running = panel.node.querySelectorAll('.jp-InputPrompt');
            const busy = [...running].some(p => p.textContent.includes('*'));
            return kernel.status === 'idle' && !busy
                && cells.every(c => c.model.executionCount !== null);
        }""", timeout=timeout * 1000, polling=200)

    def wait_idle_cell(self, index: int, timeout: float = 300) -> None:
        """Until the cell at ``index`` has run and the kernel is idle."""
        self.page.wait_for_function("""(index) => {
            const panel = window.jupyterapp.shell.currentWidget;
            const cell = panel.content.widgets[index];
            const prompt = cell.node.querySelector('.jp-InputPrompt');
            return panel.sessionContext.session.kernel.status === 'idle'
                && cell.model.executionCount !== null && !prompt.textContent.includes('*');
        }""", arg=index, timeout=timeout * 1000, polling=100)

    def kernel_restart(self) -> None:
        self.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext"
                           ".session.kernel.restart()")
        self.page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
            " === 'idle'", timeout=60_000)


class VoilaPage(RenderedNotebook):
    """A notebook rendered by Voila: run on the server, outputs and widgets only."""

    def open(self, timeout: float = 600) -> "VoilaPage":
        # Voila answers once every cell has run; widget views render after that
        self.page.goto(self.lab.url(f"voila/render/{self.path}"), timeout=timeout * 1000)
        self.page.locator(".jp-OutputArea").first.wait_for(timeout=60_000)
        return self
