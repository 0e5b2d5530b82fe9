"""Binder's environment is complete: a fresh virtual environment built only from
``binder/`` (as repo2docker builds it) runs every notebook under nbval, without the
reference data, as Binder has none."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_RUNNER = ["pytest>=8", "nbval>=0.11"]  # the test runner only, not what notebooks need
WHEELHOUSE = ROOT / "test-artifacts" / "wheelhouse"  # scripts/setup.sh --test makes it


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, \
        f"{' '.join(command)}\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    return done


@pytest.mark.slow
def test_a_venv_built_from_the_binder_files_runs_every_notebook(tmp_path):
    venv = tmp_path / "binder-venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    # repo2docker's steps: requirements.txt from the repository root, then postBuild.
    # pip resolves against the wheelhouse setup.sh made (no index: nothing to fetch),
    # and skipping bytecode takes a third off installing.
    install = [python, "-m", "pip", "install", "-q", "--no-compile"]
    if WHEELHOUSE.is_dir():
        install += ["--no-index", "--find-links", str(WHEELHOUSE)]
    run([*install, "-r", "binder/requirements.txt"], cwd=ROOT)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "GEOLABEL_DEMO_STORE": str(tmp_path / "demo" / "demo.sqlite"),
           "HOME": str(tmp_path / "home"),
           # as on Binder, which has no reference data: every notebook must run without it
           # (the rest of the suite runs them with it)
           "GEOLABEL_SHARED_DATA": str(tmp_path / "no-shared-data")}
    env.pop("PYTHONPATH", None)
    run(["bash", "binder/postBuild"], cwd=ROOT, env=env)
    assert (tmp_path / "demo" / "demo.sqlite").exists()
    run([*install, *TEST_RUNNER])
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
        (notebooks / source.name).write_bytes(source.read_bytes())
    done = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                str(notebooks)], cwd=tmp_path, env=env)
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout[-3000:]
